"""Put the GitHub secrets of a stack into its Pulumi config, where the program reads them.

The Pulumi program reads its secrets only from stack config (components/secrets.py:
``mailgun:apiKey``, ``cloudflare:apiToken``, ``mailfleet:credentialSeed``,
``mailfleet:smtpPasswords.<slug>``), never from environment variables. CI keeps them as GitHub
environment secrets; this script, run after ``pulumi login`` and before ``pulumi preview`` or
``pulumi up``, sets each one with ``pulumi config set --secret`` in the runner's throw-away
checkout (encrypted with ``PULUMI_CONFIG_PASSPHRASE``; nothing is committed or pushed).

    stack_secrets.py STACK

Environment (each value is passed to pulumi on standard input, never as an argument, so it is
not visible in the process list, and never printed):

| variable | config key | |
|---|---|---|
| ``MAILGUN_API_KEY`` | ``mailgun:apiKey`` | required |
| ``MAILFLEET_CREDENTIAL_SEED`` | ``mailfleet:credentialSeed`` | required |
| ``CLOUDFLARE_API_TOKEN`` | ``cloudflare:apiToken`` | when set (a tenant's DNS is on Cloudflare) |
| ``MAILFLEET_SMTP_PASSWORDS`` | ``mailfleet:smtpPasswords.<slug>`` | when set: a JSON object slug -> password |

``PULUMI`` names the pulumi executable (default ``pulumi``). Exit 1 with one line per missing or
malformed secret (naming the variable, never its value) before anything is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

REQUIRED = (("MAILGUN_API_KEY", "mailgun:apiKey"), ("MAILFLEET_CREDENTIAL_SEED", "mailfleet:credentialSeed"))
OPTIONAL = (("CLOUDFLARE_API_TOKEN", "cloudflare:apiToken"),)
SMTP = "MAILFLEET_SMTP_PASSWORDS"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
STACK = re.compile(r"^[A-Za-z0-9._-]+$")


def plan(env: dict[str, str], stack: str) -> tuple[list[tuple[str, bool, str, str]], list[str]]:
    """(key, is_path, value, from variable) to set, and the problems (one line each)."""
    todo: list[tuple[str, bool, str, str]] = []
    problems: list[str] = []
    for var, key in REQUIRED:
        value = env.get(var, "")
        if not value:
            problems.append(
                f"{var}: missing: add the secret {var} to the GitHub environment of stack {stack}"
            )
        else:
            todo.append((key, False, value, var))
    for var, key in OPTIONAL:
        if env.get(var):
            todo.append((key, False, env[var], var))
    raw = env.get(SMTP, "")
    if raw:
        try:
            passwords = json.loads(raw)
        except ValueError:
            passwords = None
        if not isinstance(passwords, dict):
            problems.append(f"{SMTP}: expected a JSON object of tenant slug -> SMTP password")
        else:
            for slug, value in sorted(passwords.items()):
                if not SLUG.match(slug):
                    problems.append(f"{SMTP}: {slug!r} is not a tenant slug")
                elif not isinstance(value, str) or not value:
                    problems.append(f"{SMTP}: {slug}: expected a non-empty string")
                else:
                    todo.append((f"mailfleet:smtpPasswords.{slug}", True, value, SMTP))
    return todo, problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not STACK.match(args[0]):
        print("usage: stack_secrets.py STACK", file=sys.stderr)
        return 2
    stack = args[0]
    todo, problems = plan(dict(os.environ), stack)
    if problems:
        for line in problems:
            print(f"stack_secrets.py: {line}", file=sys.stderr)
        return 1
    pulumi = os.environ.get("PULUMI", "pulumi")
    for key, is_path, value, var in todo:
        cmd = [pulumi, "config", "set", "--stack", stack, "--secret", *(["--path"] if is_path else []), key]
        proc = subprocess.run(cmd, input=value, text=True, capture_output=True, check=False)
        if proc.returncode != 0:
            # pulumi's own message names the key; it never echoes a value read from stdin.
            err = (proc.stderr or proc.stdout).replace(value, "[secret]").strip().splitlines()
            last = err[-1] if err else f"exit {proc.returncode}"
            print(f"stack_secrets.py: setting {key} failed: {last}", file=sys.stderr)
            return 1
        print(f"set {key} (secret, from {var})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
