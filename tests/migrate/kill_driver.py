"""Run a migration in this process and SIGKILL ourselves at one step boundary (fault tests).

``python -m tests.migrate.kill_driver ROOT SLUG (start|resume) STEP POINT``: the migration runs
against the fake Mailgun named by ``MAILGUN_API_BASE_*`` and a file-backed mock runner
(``MAILFLEET_MOCK_STATE_DIR``); when the engine reaches ``STEP``/``POINT`` the process sends
itself SIGKILL: no cleanup, no finally blocks, locks dropped by the kernel.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from mailfleet.migrate.engine import Migrator, Options
from tests.migrate.mock_runner import from_env, stack_checker


def main(argv: list[str]) -> int:
    root, slug, mode, kill_step, kill_point = Path(argv[1]), argv[2], argv[3], argv[4], argv[5]
    runner = from_env(root, root / "tenants")

    def fault(tenant: str, step: str, point: str) -> None:
        if (step, point) == (kill_step, kill_point):
            os.kill(os.getpid(), signal.SIGKILL)

    migrator = Migrator(
        root / "tenants",
        root,
        runner,
        runner._mailgun_factory,  # the same fake-bound clients
        checker=stack_checker(runner),
        options=Options(
            wait_gone_timeout=30,
            verify_timeout=10,
            poll_interval=0.05,
            key_passphrase=os.environ.get("MAILFLEET_MIGRATE_KEY_PASSPHRASE"),
        ),
        sleep=lambda s: None if s > 1 else __import__("time").sleep(s),
        fault=fault,
    )
    outcomes = migrator.start([slug], "eu") if mode == "start" else migrator.resume([slug])
    print(outcomes)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
