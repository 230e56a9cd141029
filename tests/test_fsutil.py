"""mailfleet.fsutil: atomic replacement and the cross-process directory lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailfleet.errors import UsageError
from mailfleet.fsutil import LOCK_NAME, LockTimeout, atomic_remove, atomic_write, locked
from tests.conftest import REPO


def test_reader_sees_old_or_new_never_partial(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    old, new = b"a" * 4_000_000, b"b" * 4_000_000
    atomic_write(path, old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            seen.add(data[:1] + data[-1:] + str(len(data)).encode())

    thread = threading.Thread(target=read)
    thread.start()
    for i in range(20):
        atomic_write(path, new if i % 2 == 0 else old)
    stop.set()
    thread.join()
    assert seen <= {b"aa4000000", b"bb4000000"}
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def test_failed_write_leaves_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    atomic_write(path, b"one\n")

    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"one\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.yaml"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_atomic_remove(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    atomic_write(path, b"x")
    atomic_remove(path)
    assert not path.exists()


HOLDER = r"""
import sys, time
from pathlib import Path
from mailfleet.fsutil import locked
d = Path(sys.argv[1])
with locked(d):
    (d / "held").touch()
    while not (d / "release").exists():
        time.sleep(0.01)
"""


def test_lock_excludes_other_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], env=env)
    try:
        while not (tmp_path / "held").exists():
            assert holder.poll() is None
            time.sleep(0.01)
        with pytest.raises(LockTimeout) as info, locked(tmp_path, timeout=0.1):
            pass
        assert LOCK_NAME in str(info.value) and not isinstance(info.value, UsageError)
    finally:
        (tmp_path / "release").touch()
        holder.wait(timeout=60)
    with locked(tmp_path, timeout=10) as lock:
        assert lock == tmp_path / LOCK_NAME
