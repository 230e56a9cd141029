"""`mailfleet records` shows the real DKIM value when Mailgun can be asked (issue 12 item 4),
against the fake Mailgun, as CLI processes; a placeholder (and a note why) when it cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import run_cli
from tests.fakes.mailgun_server import FakeMailgun, public_key_b64
from tests.ptyrun import run_on_pty


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        yield server


def _dkim(doc: dict) -> dict:
    return next(r for r in doc["records"] if r["from_mailgun"])


def test_real_dkim_value_from_mailgun(project_dir, fake):
    offline = run_cli("records", "fjordbank", "--format", "json", cwd=project_dir)
    assert offline.returncode == 0 and offline.stderr == ""
    dkim = _dkim(json.loads(offline.stdout))
    assert dkim["values"] == [] and dkim["placeholder"].startswith("v=DKIM1; k=rsa; p=<")
    selector = dkim["name"].split("._domainkey.", 1)[0]
    key = public_key_b64(2048)
    fake.seed_domain("fjordbank.no", "eu", dkim_selector=selector, dkim_public_key=key)
    value = f"k=rsa; p={key}"

    proc = run_cli("records", "fjordbank", "--format", "json", cwd=project_dir, env=fake.env())
    assert proc.returncode == 0, proc.stderr
    dkim = _dkim(json.loads(proc.stdout))
    assert dkim["values"] == [value] and dkim["value"] == value and dkim["placeholder"] is None
    assert fake.count("GET", "/v4/domains/fjordbank.no", "eu") == 1
    assert fake.count(region="us") == 0

    table = run_cli("records", "fjordbank", cwd=project_dir, env=fake.env())
    assert value in table.stdout  # whole, copyable
    assert "<public key from Mailgun>" not in table.stdout
    bind = run_cli("records", "fjordbank", "--format", "bind", cwd=project_dir, env=fake.env())
    line = next(ln for ln in bind.stdout.splitlines() if ln.startswith(dkim["name"] + "."))
    assert "".join(line.split(" IN TXT ", 1)[1].split('" "')).strip('"') == value
    for p in (proc, table, bind):
        assert fake.api_key not in p.stdout + p.stderr


def test_placeholder_with_a_reason_when_mailgun_cannot_tell(project_dir, fake):
    # the domain does not exist yet: the placeholder, and a note on stderr saying why
    proc = run_cli("records", "fjordbank", cwd=project_dir, env=fake.env())
    assert proc.returncode == 0
    assert "<public key from Mailgun>" in proc.stdout
    assert "fjordbank.no is not in Mailgun's EU region yet (`pulumi up -s eu` creates it)" in proc.stderr
    # Mailgun keeps failing: still the placeholder, exit 0, no traceback, no key
    fake.inject(500, count=100, path="fjordbank")
    fake.reset_log()
    proc = run_cli("records", "fjordbank", cwd=project_dir, env=fake.env())
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert fake.count("GET", "/v4/domains/fjordbank.no", "eu") == 3  # two retries, then give up
    assert "cannot ask Mailgun" in proc.stderr and "<public key from Mailgun>" in proc.stdout
    assert fake.api_key not in proc.stdout + proc.stderr


def test_progress_line_on_a_terminal_only_while_mailgun_is_asked(project_dir, fake):
    key = public_key_b64(2048)
    offline = json.loads(run_cli("records", "fjordbank", "--format", "json", cwd=project_dir).stdout)
    selector = _dkim(offline)["name"].split("._domainkey.", 1)[0]
    fake.seed_domain("fjordbank.no", "eu", dkim_selector=selector, dkim_public_key=key)
    argv = ["records", "fjordbank", "--format", "json"]
    code, stdout, terminal = run_on_pty(argv, project_dir, fake.env())
    assert code == 0, terminal
    assert "asking Mailgun for DKIM keys" in terminal and "0/1" in terminal
    assert _dkim(json.loads(stdout))["values"] == [f"k=rsa; p={key}"]  # stdout: the data only
    assert fake.api_key not in stdout + terminal
    piped = run_cli(*argv, cwd=project_dir, env=fake.env())
    assert piped.returncode == 0 and piped.stderr == ""  # stderr not a terminal: no progress
    # no MAILGUN_API_KEY: nothing is asked, so no progress line even on a terminal
    code, _, terminal = run_on_pty(argv, project_dir, {"MAILGUN_API_KEY": ""})
    assert code == 0 and "asking Mailgun" not in terminal
