"""Safe file writes: atomic replacement under a cross-process directory lock.

Contract:

- ``locked(directory)`` holds an exclusive ``filelock`` on ``<directory>/.mailfleet.lock`` for
  the ``with`` block. Every writer of files in that directory (``tenant add``/``remove``,
  ``migrate``, the ``--output-dir`` of ``diff`` and ``preview-report``) takes it, so
  check-then-write sequences ("does tenants/x.yaml exist? then write it") are race-free
  across processes. The lock file is never a ``*.yaml`` file, so tenant
  loaders (which read only ``*.yaml``) ignore it.
- ``atomic_write(path, data)`` makes ``path`` hold exactly ``data`` or leaves it untouched: the
  bytes go to a temporary file in the same directory (named ``.<name>.<random>.tmp``, never
  ``*.yaml``), are flushed and fsync'ed, then ``os.replace``d over ``path``; the directory is
  fsync'ed so the rename survives a crash. A reader sees the old file or the new one, never a
  partial one. On any error the temporary file is removed and the exception propagates.
- ``atomic_remove(path)`` unlinks ``path`` and fsyncs the directory.

``atomic_write`` does not lock by itself: callers that must check state before writing wrap
both in ``locked``. Lock timeouts raise ``LockTimeout`` (a ``MailfleetError``, exit 1) naming
the lock file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from mailfleet.errors import MailfleetError, Problem

log = logging.getLogger("mailfleet.fsutil")
_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()

LOCK_NAME = ".mailfleet.lock"
DEFAULT_LOCK_TIMEOUT = 120.0


class LockTimeout(MailfleetError):
    """The directory lock could not be taken: another process held it for longer than the
    timeout, or the lock file cannot be opened."""


def lock_path(directory: Path) -> Path:
    return Path(directory) / LOCK_NAME


@contextlib.contextmanager
def locked(directory: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Path]:
    """Hold the exclusive lock of ``directory`` (created if missing); yields the lock path."""
    # Every command loads this module; only writers lock, and filelock costs about 5 ms.
    path = lock_path(directory)
    # Threads of this process queue on an in-process lock first: only one of them at a time
    # polls the file lock, so hundreds of threads (a migrate batch writing journals) do not
    # starve each other polling it, nor time out waiting for each other.
    with _PROCESS_LOCKS_GUARD:
        local = _PROCESS_LOCKS.setdefault(str(path), threading.RLock())
    # No timeout here: a holder in this process always releases (this context manager), so
    # the queue moves; the timeout is for another process holding the file lock.
    local.acquire()
    try:
        with _file_locked(path, timeout) as held:
            yield held
    finally:
        local.release()


@contextlib.contextmanager
def _file_locked(path: Path, timeout: float) -> Iterator[Path]:
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(
            problems=[
                Problem(
                    str(path),
                    "",
                    f"another mailfleet process holds this lock (waited {timeout:g} s); retry later",
                )
            ]
        ) from None
    except OSError as exc:
        raise LockTimeout(
            problems=[Problem(str(path), "", f"cannot take the lock: {exc.strerror or exc}")]
        ) from None
    log.debug("locked path=%s", path)
    try:
        yield path
    finally:
        lock.release()
        log.debug("unlocked path=%s", path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(directory)
    log.info("wrote path=%s bytes=%d", path, len(data))


def atomic_remove(path: Path) -> None:
    """Remove ``path`` and make the removal durable (fsync of the directory)."""
    path = Path(path)
    os.unlink(path)
    _fsync_dir(path.parent)
    log.info("removed path=%s", path)
