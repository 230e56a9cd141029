#!/usr/bin/env python3
"""A fake ``pulumi`` executable for the workflow tests: records every call and answers like the
real CLI where the workflows read its output.

Each call appends one JSON line to ``$FAKE_PULUMI_LOG``: ``argv``, ``stdin`` (read for
``config set`` without a value, as the real CLI does) and the names of the ``PULUMI_*`` and
``AWS_*`` variables it saw. ``preview --json`` prints the file ``$FAKE_PULUMI_PREVIEW`` (a
PreviewDigest), ``preview`` without it a few lines of human output. ``$FAKE_PULUMI_FAIL`` = a subcommand (``up``, ``refresh``...) makes that one
exit 255 with a message, like a failed update.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    argv = sys.argv[1:]
    sub = next((a for a in argv if not a.startswith("-")), "")
    stdin = None
    if argv[:2] == ["config", "set"]:
        positional = [a for a in argv[2:] if not a.startswith("-") and a not in ("--stack",)]
        # `--stack NAME` takes a value: drop it from the positionals.
        if "--stack" in argv:
            positional.remove(argv[argv.index("--stack") + 1])
        if len(positional) == 1:
            stdin = sys.stdin.read()
    seen = sorted(
        k for k in os.environ if k.startswith(("PULUMI_", "AWS_", "MAILGUN_", "CLOUDFLARE_", "MAILFLEET_"))
    )
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
        log.write(json.dumps({"argv": argv, "stdin": stdin, "env": seen}) + "\n")
    if os.environ.get("FAKE_PULUMI_FAIL") == sub:
        print(f"error: {sub} failed (fake)", file=sys.stderr)
        return 255
    if sub == "preview" and "--json" in argv:
        sys.stdout.write(Path(os.environ["FAKE_PULUMI_PREVIEW"]).read_text())
    elif sub == "preview":
        stack = argv[argv.index("--stack") + 1] if "--stack" in argv else "?"
        print(
            f"Previewing update ({stack}):\n ~ mailgun:index/domain:Domain redwood update [diff: ~dkimSelector]"
        )
        print("Resources:\n    ~ 3 to update\n    2 unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
