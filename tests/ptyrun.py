"""Run the mailfleet CLI as a process with stderr on a pseudo-terminal (stdout a pipe): the one
place tests see what a person's terminal gets (progress lines), next to clean stdout."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO


def run_on_pty(argv: list[str], cwd: Path | str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``mailfleet argv`` with stderr on a pty; (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO), "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailfleet", *argv],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the pty
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    stdout = proc.communicate(timeout=60)[0].decode()
    os.close(master)
    return proc.returncode, stdout, seen.decode(errors="replace")
