"""``mailfleet preview-report`` on PreviewDigest files written from pulumi's documented schema."""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SECRETS = ("hunter2-harbor-smtp", "c3VwZXJzZWNyZXRjaXBoZXJ0ZXh0", "1b47061264138c4ac30d75fd1eb44270")


def report(cli, name: str, *args: str, cwd: Path | None = None):
    return cli("preview-report", str(FIXTURES / name), *args, cwd=cwd)


def rows(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == "mailfleet-preview/1"
    assert len(doc["stacks"]) == 1
    return doc["stacks"][0]["rows"]


def test_creates_only(cli) -> None:
    got = rows(report(cli, "preview_create.json", "--format", "json"))
    base = "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$"
    table = {(r["op"], r["key"].removeprefix(base), r["name"], r["type"], tuple(r["new"])) for r in got}
    dom = "zephyr.mail.example.eu"
    assert table == {
        (
            "create",
            f"mailgun:index/domain:Domain::zephyr-domain-{dom}",
            dom,
            "Mailgun Domain",
            (
                "clickTracking=false",
                "dkimKeySize=2048",
                "dkimSelector=mailfleet",
                "forceDkimAuthority=true",
                "openTracking=false",
                "region=eu",
                "spamAction=disabled",
                "webScheme=https",
                "wildcard=false",
            ),
        ),
        (
            "create",
            f"mailgun:index/route:Route::zephyr-route-help@{dom}",
            f"mailfleet zephyr: help@{dom}",
            "Mailgun Route",
            (
                'actions=forward("https://crm.example.eu/mailgun/inbound/zephyr"), stop()',
                f"description=mailfleet zephyr: help@{dom}",
                'expression=match_recipient("^help@zephyr\\.mail\\.example\\.eu$")',
                "priority=10",
                "region=eu",
            ),
        ),
        (
            "create",
            f"mailgun:index/webhook:Webhook::zephyr-webhook-{dom}-delivered",
            f"{dom} delivered",
            "Mailgun Webhook",
            (
                f"domain={dom}",
                "kind=delivered",
                "region=eu",
                "urls=https://crm.example.eu/mailgun/events/zephyr",
            ),
        ),
        (
            "create",
            f"mailgun:index/domainCredential:DomainCredential::zephyr-credential-{dom}",
            f"crm@{dom}",
            "Mailgun DomainCredential",
            (f"domain={dom}", "login=crm", "password=[secret]", "region=eu"),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-{dom}-MX",
            dom,
            "MX",
            ("10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-mailfleet._domainkey.{dom}-TXT",
            f"mailfleet._domainkey.{dom}",
            "TXT",
            ("(known after apply)",),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-_dmarc.{dom}-TXT",
            f"_dmarc.{dom}",
            "TXT",
            ("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@mail.example.eu",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-zephyr.example.no-TXT",
            "zephyr.example.no",
            "TXT",
            ("v=spf1 include:mailgun.org include:sendgrid.net ~all",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-k1._domainkey.zephyr.example.no-TXT",
            "k1._domainkey.zephyr.example.no",
            "TXT",
            # Two provider chunks joined into one logical value.
            ("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwXyZQ2pZ7nQ0rT3AB",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-zephyr.example.no-MX-mxa",
            "zephyr.example.no",
            "MX",
            ("10 mxa.eu.mailgun.org",),
        ),
    }
    assert all(r["stack"] == "eu" and r["old"] == [] and not r["destructive"] for r in got)
    assert {r["ttl"]["new"] for r in got if r["kind"] == "dns"} == {3600}
    assert {r["where"] for r in got if r["kind"] == "dns"} == {
        "route53 Z04EXAMPLEEU0001",
        "cloudflare 4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e",
    }


def test_updates_deletes_and_replaces(cli) -> None:
    got = rows(report(cli, "preview_changes.json", "--format", "json"))
    table = [(r["op"], r["name"], r["type"], r["fields"], r["old"], r["new"], r["destructive"]) for r in got]
    dkim_old = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC1old"
    dmarc = "v=DMARC1; p={}; rua=mailto:dmarc-reports@mail.example.com,mailto:dmarc@redwood-outdoors.com"
    assert table == [
        # Destructive first.
        (
            "delete",
            "harbor.mail.example.com",
            "MX",
            [],
            ["10 mxa.mailgun.org", "10 mxb.mailgun.org"],
            [],
            True,
        ),
        (
            "delete",
            "harborlogistics.com",
            "Mailgun Domain",
            [],
            [
                "dkimKeySize=2048",
                "dkimSelector=mailfleet",
                "region=us",
                "smtpPassword=[secret]",
                "spamAction=disabled",
            ],
            [],
            True,
        ),
        (
            "replace",
            "rw2._domainkey.redwood.mail.example.com",
            "TXT",
            ["name", "value"],
            ["name=rw1._domainkey.redwood.mail.example.com", dkim_old],
            ["name=rw2._domainkey.redwood.mail.example.com", "(known after apply)"],
            True,
        ),
        (
            "replace",
            "redwood.mail.example.com",
            "Mailgun Domain",
            ["dkimSelector"],
            ["dkimSelector=rw1"],
            ["dkimSelector=rw2"],
            True,
        ),
        (
            "update",
            "crm@redwood-outdoors.com",
            "Mailgun DomainCredential",
            ["password"],
            ["password=[secret]"],
            ["password=[secret]"],
            False,
        ),
        (
            "update",
            "_dmarc.redwood-outdoors.com",
            "TXT",
            ["value", "ttl"],
            [dmarc.format("quarantine")],
            [dmarc.format("reject")],  # the new value was split in two chunks: shown joined
            False,
        ),
        (
            "update",
            "redwood-outdoors.com delivered",
            "Mailgun Webhook",
            ["urls"],
            ["urls=https://crm.example.com/mailgun/events/redwood"],
            ["urls=https://crm.example.com/mailgun/events-v2/redwood"],
            False,
        ),
    ]
    by_name = {r["name"]: r for r in got}
    assert (
        "dkimSelector forces pulumi-mailgun to replace" in by_name["redwood.mail.example.com"]["reasons"][0]
    )
    assert "MX record deleted" in by_name["harbor.mail.example.com"]["reasons"][0]
    assert "DKIM record replaced (name)" in by_name["rw2._domainkey.redwood.mail.example.com"]["reasons"][0]
    assert by_name["_dmarc.redwood-outdoors.com"]["ttl"] == {"old": 3600, "new": 300}


def test_secrets_shown_as_placeholder_in_every_format(cli, tmp_path: Path) -> None:
    raw = (FIXTURES / "preview_changes.json").read_text()
    assert all(s in raw for s in SECRETS)  # the fixture really carries them
    texts = []
    for fmt in ("table", "markdown", "json"):
        proc = report(cli, "preview_changes.json", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        shown = "\\[secret\\]" if fmt == "markdown" else "[secret]"  # GFM renders \[ as [
        assert shown in proc.stdout
        texts.append(proc.stdout + proc.stderr)
    out = tmp_path / "c"
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--output-dir", str(out))
    assert proc.returncode == 0
    texts += [p.read_text() for p in out.iterdir() if p.is_file()]
    for secret in SECRETS:
        assert all(secret not in t for t in texts)


def test_markdown_marker_and_fail_on(cli, tmp_path: Path) -> None:
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--fail-on", "destructive")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "<!-- mailfleet-preview:stack=us part=1/1 -->"
    assert "**Summary:** Creates=0, Updates=3, Replaces=2, Deletes=2, Destructive=4" in proc.stdout
    assert "| Operation | Record | Change | Why |" in proc.stdout
    # The SSM parameter the report does not show is counted, so the totals add up to Pulumi's.
    assert "1 resource(s) not shown (neither DNS records nor Mailgun): `aws:ssm/parameter:Parameter` ×1" in (
        proc.stdout
    )
    ok = report(
        cli, "preview_create.json", "--format", "markdown", "--fail-on", "destructive", "--stack", "eu-2"
    )
    assert ok.returncode == 0
    assert ok.stdout.startswith("<!-- mailfleet-preview:stack=eu-2 part=1/1 -->\n")


def test_stdin_and_bad_input(cli, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    data = (FIXTURES / "preview_create.json").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "mailfleet", "preview-report", "-", "--format", "json"],
        input=data,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert len(rows(proc)) == 10

    missing = cli("preview-report", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr

    garbage = tmp_path / "garbage.json"
    garbage.write_text("Previewing update (us):\n")
    bad = cli("preview-report", str(garbage))
    assert bad.returncode == 1 and bad.stderr.startswith(f"{garbage}: not JSON")

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"steps": [{"op": "create", "urn": "not-a-urn"}]}))
    bad = cli("preview-report", str(wrong))
    assert bad.returncode == 1 and f"{wrong}: steps.0.urn: not a Pulumi URN" in bad.stderr
    assert "Traceback" not in bad.stderr

    copy = tmp_path / "copy.json"
    shutil.copy(FIXTURES / "preview_create.json", copy)
    bad_stack = cli("preview-report", str(copy), "--stack", "eu; rm -rf /")
    assert bad_stack.returncode == 2 and bad_stack.stderr.startswith("--stack: ")


def test_output_dir_that_cannot_be_made(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--output-dir", str(blocker / "c"))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    assert proc.stderr == f"--output-dir: cannot write {blocker / 'c'}: Not a directory\n"


# -- documents that are not a PreviewDigest, and steps mailfleet does not understand ---------------
#
# Behaviour (docs/diff.md, preview-report): both are refused, exit 1, nothing on stdout, one
# line per problem naming the file and the JSON path; never "No changes", never a row missing.

BASE = "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$"
STEP_DOMAIN = 2  # preview_create.json: create of the Mailgun domain
STEP_ROUTE53_MX = 7  # create of a Route53 MX record
STEP_CLOUDFLARE_TXT = 10  # create of a Cloudflare TXT record


def run_main(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """``mailfleet`` in this process (fast for many documents); an exception fails the test."""
    from mailfleet.cli.app import main

    monkeypatch.setattr(sys, "argv", ["mailfleet", *argv])
    with pytest.raises(SystemExit) as caught:
        main()
    captured = capsys.readouterr()
    code = caught.value.code
    return (0 if code is None else int(code)), captured.out, captured.err


def digest(name: str = "preview_create.json") -> dict:
    return json.loads((FIXTURES / name).read_text())


def write(tmp_path: Path, doc, name: str = "preview.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def refused(monkeypatch, capsys, path: Path) -> list[str]:
    """The problem lines of a refused document (exit 1, nothing on stdout), file prefix removed."""
    code, out, err = run_main(monkeypatch, capsys, "preview-report", str(path), "--format", "json")
    assert code == 1, (out, err)
    assert out == ""
    assert "Traceback" not in err and "No changes" not in err
    lines = err.splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    return [line.removeprefix(f"{path}: ") for line in lines]


def _set(doc: dict, path: str, value) -> dict:
    """``doc`` with the value at dotted ``path`` (list indexes as numbers) replaced."""
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


WRONG_TYPES = [
    # (path in preview_create.json, value, expected problem line)
    ("steps", {"0": {}}, "steps: expected a list of steps, got an object"),
    ("steps", None, "steps: expected a list of steps, got null"),
    ("steps.3", "create", 'steps.3: expected a step object, got "create"'),
    ("steps.3.op", 12, "steps.3.op: expected a string, got 12"),
    ("steps.3.op", None, "steps.3.op: missing: every step has an op and a urn"),
    ("steps.3.urn", 12, "steps.3.urn: expected a string, got 12"),
    ("steps.3.urn", "acme", "steps.3.urn: not a Pulumi URN: 'acme'"),
    ("steps.3.urn", "urn:pulumi:e u::mailfleet::x::y", 'steps.3.urn: "e u" is not a stack name'),
    (
        "steps.3.urn",
        "urn:pulumi:us::mailfleet::mailgun:index/route:Route::r",
        'steps.3.urn: stack "us" differs from "eu" of steps.0',
    ),
    ("steps.3.newState", [], "steps.3.newState: expected an object (a resource state), got a list"),
    ("steps.3.newState.inputs", "x", 'steps.3.newState.inputs: expected an object of properties, got "x"'),
    ("steps.3.newState.type", 7, "steps.3.newState.type: expected a string, got 7"),
    (
        "steps.3.detailedDiff",
        ["name"],
        "steps.3.detailedDiff: expected an object of property path -> {kind, inputDiff}, got a list",
    ),
    (
        "steps.3.detailedDiff",
        {"name": "update"},
        'steps.3.detailedDiff.name: expected an object {kind, inputDiff}, got "update"',
    ),
    (
        "steps.3.detailedDiff",
        {"name": {"kind": 1}},
        "steps.3.detailedDiff.name.kind: expected a string, got 1",
    ),
    ("steps.3.diffReasons", "name", 'steps.3.diffReasons: expected a list of property names, got "name"'),
    (
        "steps.3.replaceReasons",
        ["name", 3],
        "steps.3.replaceReasons.1: expected a property name (a string), got 3",
    ),
    # the properties a row is made of
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.records",
        "10 mxa.eu.mailgun.org",
        f'steps.{STEP_ROUTE53_MX}.newState.inputs.records: expected a list of strings, got "10 mxa.eu.mailgun.org"',
    ),
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.records",
        ["10 mxa.eu.mailgun.org", 10],
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.records.1: expected a string, got 10",
    ),
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.ttl",
        "3600",
        f'steps.{STEP_ROUTE53_MX}.newState.inputs.ttl: expected a whole number, got "3600"',
    ),
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.ttl",
        True,
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.ttl: expected a whole number, got true",
    ),
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.name",
        ["a", "b"],
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.name: expected a string, got a list",
    ),
    (
        f"steps.{STEP_ROUTE53_MX}.newState.inputs.aliases",
        "alias",
        f'steps.{STEP_ROUTE53_MX}.newState.inputs.aliases: expected a list of objects, got "alias"',
    ),
    (
        f"steps.{STEP_CLOUDFLARE_TXT}.newState.inputs.content",
        {"v": "spf1"},
        f"steps.{STEP_CLOUDFLARE_TXT}.newState.inputs.content: expected a string, got an object",
    ),
    (
        f"steps.{STEP_CLOUDFLARE_TXT}.newState.inputs.zoneId",
        42,
        f"steps.{STEP_CLOUDFLARE_TXT}.newState.inputs.zoneId: expected a string, got 42",
    ),
    (
        f"steps.{STEP_DOMAIN}.newState.inputs.name",
        5,
        f"steps.{STEP_DOMAIN}.newState.inputs.name: expected a string, got 5",
    ),
    (
        f"steps.{STEP_DOMAIN}.newState.inputs.region",
        ["eu"],
        f"steps.{STEP_DOMAIN}.newState.inputs.region: expected a string, got a list",
    ),
    # a change step without the state it shows
    (
        f"steps.{STEP_DOMAIN}.newState",
        None,
        f"steps.{STEP_DOMAIN}.newState: missing: a create step of mailgun:index/domain:Domain carries the "
        "resource's newState",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), WRONG_TYPES, ids=[c[2][:60] for c in WRONG_TYPES])
def test_wrong_types_are_named_by_json_path(
    monkeypatch, capsys, tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    doc = _set(digest(), path, value)
    assert refused(monkeypatch, capsys, write(tmp_path, doc)) == [expected]


def _deep(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


NOT_A_DIGEST = [
    ([], "expected a JSON object (the PreviewDigest of `pulumi preview --json`), got a list"),
    ("null", "expected a JSON object (the PreviewDigest of `pulumi preview --json`), got null"),
    (
        {},
        "steps: missing: not a `pulumi preview --json` document of a preview that ran "
        "(it has a step for the stack itself at least)",
    ),
    (
        {"changeSummary": {"create": 3}},  # no steps: not "No changes"
        "steps: missing: not a `pulumi preview --json` document of a preview that ran "
        "(it has a step for the stack itself at least)",
    ),
    ("[" * 3000 + "]" * 3000, "not JSON: nested too deeply"),
    ({"steps": [_deep(150)]}, "nested deeper than 100 levels: not a `pulumi preview --json` document"),
]


@pytest.mark.parametrize(("doc", "expected"), NOT_A_DIGEST, ids=[c[1][:40] for c in NOT_A_DIGEST])
def test_not_a_digest_at_all(monkeypatch, capsys, tmp_path: Path, doc: Any, expected: str) -> None:
    assert refused(monkeypatch, capsys, write(tmp_path, doc)) == [expected]


def test_every_problem_of_the_file_at_once_one_line_each(cli, tmp_path: Path) -> None:
    doc = digest()
    doc["steps"][1]["op"] = 12
    doc["steps"][3] = "create"
    doc["steps"][STEP_ROUTE53_MX]["newState"]["inputs"]["ttl"] = "3600"
    doc["steps"][STEP_DOMAIN]["op"] = "frobnicate"
    name = "a\nb.txt"
    doc["steps"][5]["urn"] = f"urn:pulumi:eu::mailfleet::aws:s3/bucket:Bucket::{name}"
    path = write(tmp_path, doc)
    proc = cli("preview-report", str(path))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{path}: steps.1.op: expected a string, got 12",
        f'{path}: steps.{STEP_DOMAIN}.op: not understood: "frobnicate" is not a Pulumi step op; resource '
        '"mailgun:index/domain:Domain::zephyr-domain-zephyr.mail.example.eu"',
        f'{path}: steps.3: expected a step object, got "create"',
        f'{path}: steps.5.urn: not understood: mailfleet does not report "aws:s3/bucket:Bucket" resources '
        '(a create of "a\\nb.txt")',
        f'{path}: steps.{STEP_ROUTE53_MX}.newState.inputs.ttl: expected a whole number, got "3600"',
    ]


def test_steps_not_understood_are_refused_never_no_changes(cli, tmp_path: Path) -> None:
    """Same and read steps pass; import, refresh, an unknown op, an unknown DNS resource do not.

    Before, every one of these was skipped: the report said "No changes." and exited 0.
    """
    path = FIXTURES / "preview_not_understood.json"
    for fmt in ("table", "markdown", "json"):
        proc = cli("preview-report", str(path), "--format", fmt)
        assert proc.returncode == 1, proc.stdout
        assert proc.stdout == "" and "No changes" not in proc.stderr and "Traceback" not in proc.stderr
    # steps.3 is an import: understood since adoption (an import row, tests/diff/test_release_op.py).
    assert proc.stderr.splitlines() == [
        f'{path}: steps.4.op: not understood: mailfleet does not report "refresh" steps (Pulumi: reads the live '
        "resource into the recorded state, as with --refresh); resource "
        '"cloudflare:index/dnsRecord:DnsRecord::acme-dns-acme.example.no-TXT"',
        f'{path}: steps.5.op: not understood: "frobnicate" is not a Pulumi step op; resource '
        '"mailgun:index/route:Route::acme-route-post@acme.mail.example.eu"',
        f'{path}: steps.6.urn: not understood: mailfleet does not report "cloudflare:index/zone:Zone" resources '
        '(a delete of "acme-example-no")',
        f'{path}: steps.7.op: not understood: mailfleet does not report "remove-pending-replace" steps (Pulumi: '
        "drops a pending replacement from the state); resource "
        '"mailgun:index/domain:Domain::acme-domain-acme.mail.example.eu"',
    ]


PULUMI_OPS_NOT_REPORTED = [
    "read-replacement",
    "refresh",
    "import-replacement",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
    "diff",
]


def test_each_op_not_understood_on_each_kind_of_resource(monkeypatch, capsys, tmp_path: Path) -> None:
    for op in [*PULUMI_OPS_NOT_REPORTED, "frobnicate", "Create", ""]:
        for i in (STEP_DOMAIN, STEP_ROUTE53_MX, STEP_CLOUDFLARE_TXT, 0, 1):  # 0: the stack, 1: a component
            doc = digest()
            doc["steps"][i]["op"] = op
            lines = refused(monkeypatch, capsys, write(tmp_path, doc))
            assert len(lines) == 1 and lines[0].startswith(f"steps.{i}.op: not understood: "), (op, lines)


def test_unchanged_and_out_of_scope_steps_give_no_row(monkeypatch, capsys, tmp_path: Path) -> None:
    urn = "urn:pulumi:eu::mailfleet::"
    steps = [
        {"op": "same", "urn": f"{urn}pulumi:pulumi:Stack::mailfleet-eu"},
        {"op": "same", "urn": f"{urn}aws:s3/bucket:Bucket::logs"},  # unknown, but unchanged
        {"op": "read", "urn": f"{urn}aws:route53/zone:Zone::ours"},
        {"op": "create", "urn": f"{urn}pulumi:providers:mailgun::mailgun-eu"},
        {"op": "update", "urn": f"{urn}pulumi:providers:aws::default_6_0_0"},
        {"op": "create", "urn": f"{urn}mailfleet:index:TenantMail::zephyr"},
        {"op": "delete", "urn": f"{BASE}aws:ssm/parameter:Parameter::zephyr-outbound"},
    ]
    path = write(tmp_path, {"steps": steps})
    code, out, err = run_main(monkeypatch, capsys, "preview-report", str(path))
    assert code == 0, err
    assert "No changes." in out and err == ""
    for op, type_ in [("create", "aws:s3/bucket:Bucket"), ("delete", "aws:route53/zone:Zone")]:
        doc = {"steps": [*steps, {"op": op, "urn": f"{urn}{type_}::x"}]}
        lines = refused(monkeypatch, capsys, write(tmp_path, doc))
        assert lines == [
            f'steps.{len(steps)}.urn: not understood: mailfleet does not report "{type_}" resources (a {op} of "x")'
        ]


def test_placeholders_and_whole_floats_are_accepted(monkeypatch, capsys, tmp_path: Path) -> None:
    doc = digest()
    mx = doc["steps"][STEP_ROUTE53_MX]["newState"]["inputs"]
    mx["records"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the whole list known after apply
    mx["ttl"] = 3600.0
    cf = doc["steps"][STEP_CLOUDFLARE_TXT]["newState"]["inputs"]
    cf["content"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": "x"}
    cf["ttl"] = "[secret]"
    code, out, err = run_main(monkeypatch, capsys, "preview-report", str(write(tmp_path, doc)), "-f", "json")
    assert code == 0, err
    by_key = {r["key"].removeprefix(BASE): r for r in json.loads(out)["stacks"][0]["rows"]}
    row = by_key["aws:route53/record:Record::zephyr-dns-zephyr.mail.example.eu-MX"]
    assert row["new"] == ["(known after apply)"] and row["ttl"]["new"] == 3600
    row = by_key["cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-zephyr.example.no-TXT"]
    assert row["new"] == ["[secret]"]


@pytest.mark.slow
def test_fuzz_no_traceback(monkeypatch, capsys, tmp_path: Path) -> None:
    """Random JSON shapes, and the fixtures with random values put in random places."""
    rng = random.Random(20240607)

    def value(depth: int = 0) -> Any:
        kinds = ["null", "bool", "int", "float", "str", "list", "dict"] if depth < 4 else ["int", "str"]
        kind = rng.choice(kinds)
        if kind == "null":
            return None
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "int":
            return rng.choice([0, -1, 12, 2**70])
        if kind == "float":
            return rng.choice([0.5, 300.0, float("nan"), float("inf")])
        if kind == "str":
            return rng.choice(
                [
                    "",
                    "create",
                    "same",
                    "read",
                    "update",
                    "delete",
                    "replace",
                    "import",
                    "frobnicate",
                    "urn:pulumi:eu::m::mailgun:index/domain:Domain::d",
                    "urn:pulumi:eu::m::aws:route53/record:Record::r",
                    "[secret]",
                    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
                    "a\u2028b\nc",
                    "TXT",
                    "MX",
                ]
            )
        if kind == "list":
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        keys = [
            "steps",
            "op",
            "urn",
            "oldState",
            "newState",
            "inputs",
            "outputs",
            "type",
            "detailedDiff",
            "diffReasons",
            "replaceReasons",
            "records",
            "content",
            "ttl",
            "name",
            "priority",
            "x",
        ]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}

    def places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        yield path
        if isinstance(node, dict):
            for k, v in node.items():
                yield from places(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from places(v, (*path, i))

    docs: list[Any] = [value() for _ in range(80)]
    docs += [{"steps": value()} for _ in range(40)]
    docs += [{"steps": [value(1) for _ in range(3)]} for _ in range(40)]
    for name in ("preview_create.json", "preview_changes.json"):
        base = digest(name)
        spots = [p for p in places(base) if p]
        for _ in range(100):
            doc = digest(name)
            path = rng.choice(spots)
            node = doc
            for part in path[:-1]:
                node = node[part]
            if rng.random() < 0.2 and isinstance(node, dict):
                del node[path[-1]]
            else:
                node[path[-1]] = value()
            docs.append(doc)
    seen = set()
    for i, doc in enumerate(docs):
        path = write(tmp_path, json.dumps(doc))
        fmt = ("table", "markdown", "json")[i % 3]
        code, out, err = run_main(monkeypatch, capsys, "preview-report", str(path), "--format", fmt)
        assert code in (0, 1, 2), (doc, code, err)
        assert "Traceback" not in err
        if code:
            assert err and out == "", (doc, err)
            assert all(line.startswith((f"{path}: ", "--stack: ")) for line in err.splitlines()), err
        seen.add(code)
    assert seen >= {0, 1}
