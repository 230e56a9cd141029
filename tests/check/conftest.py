"""A real Knot DNS server serving zones generated from the model, for the whole session.

The project is the example project plus one tenant per broken case. Zones hold exactly
what the model declares (DKIM values from real RSA keys generated here), then each broken
case is applied on top. A forwarder in front of Knot drops every query under
``blackhole.no`` (answers that never come). Skipped when knotd/kdig are not installed
(a failure under $MAILFLEET_REQUIRE_TEST_DEPS, set by .ci/run).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailfleet.project import Project
from tests.check.knot import KnotServer, ModelZones, free_port, rsa_public_key_b64, txt_rr
from tests.conftest import REPO, require_knot

BROKEN_TENANTS = {
    "twospf": """slug: twospf
name: Two SPF Records AS
region: eu
mailboxes: [post]
sender_domain: {name: twospf.no, dns: manual}
dmarc: {policy: quarantine}
""",
    "elevenlookups": """slug: elevenlookups
name: Eleven Lookups GmbH
region: eu
mailboxes: [info]
sender_domain: {name: eleven-lookups.de, dns: manual, spf_includes: [deep.spfchain.net]}
""",
    "voidinclude": """slug: voidinclude
name: Void Include AS
region: eu
mailboxes: [post]
sender_domain: {name: void-include.no, dns: manual, spf_includes: [gone.spfchain.net]}
""",
    "wrongkey": """slug: wrongkey
name: Wrong Key Ltd
region: us
mailboxes: [help]
""",
    "weakkey": """slug: weakkey
name: Weak Key Ltd
region: us
mailboxes: [help]
dkim: {selector: old, bits: 1024}
""",
    "nopolicy": """slug: nopolicy
name: No Policy AB
region: eu
mailboxes: [info]
""",
    "noauth": """slug: noauth
name: No Authorisation AS
region: eu
mailboxes: [post]
sender_domain: {name: noauth.no, dns: manual}
dmarc: {policy: reject, rua: ["mailto:dmarc@reports-elsewhere.net"]}
""",
    "wrongregion": """slug: wrongregion
name: Wrong Region SARL
region: eu
mailboxes: [contact]
""",
    "notracking": """slug: notracking
name: No Tracking BV
region: eu
mailboxes: [info]
tracking: true
""",
    "blackhole": """slug: blackhole
name: Black Hole AS
region: eu
mailboxes: [post]
sender_domain: {name: blackhole.no, dns: manual}
""",
    "unserved": """slug: unserved
name: Unserved AS
region: eu
mailboxes: [post]
sender_domain: {name: unserved.no, dns: manual}
""",
}
# Added to the project after the zones are generated: nothing of it is published (as before
# the first `pulumi up`), so every record of it is NXDOMAIN.
NOT_DEPLOYED = """slug: notdeployed
name: Not Deployed AS
region: eu
mailboxes: [post]
"""
EXAMPLES = sorted(p.stem for p in (REPO / "tenants").glob("*.yaml"))
# deep.spfchain.net costs 7 lookups: with mailgun.org (4) the sender needs 11.
SPF_CHAIN = {
    "deep.spfchain.net": "v=spf1 include:d1.spfchain.net include:d2.spfchain.net include:d3.spfchain.net ~all",
    "d1.spfchain.net": "v=spf1 include:d4.spfchain.net ~all",
    "d2.spfchain.net": "v=spf1 include:d5.spfchain.net ~all",
    "d3.spfchain.net": "v=spf1 include:d6.spfchain.net ~all",
    "d4.spfchain.net": "v=spf1 ip4:192.0.2.4 ~all",
    "d5.spfchain.net": "v=spf1 ip4:192.0.2.5 ~all",
    "d6.spfchain.net": "v=spf1 ip4:192.0.2.6 ~all",
}

# Lint cases served under spfchain.net (tests/check/test_lint.py).
LINT_CASES = [
    ("ptr.spfchain.net", "v=spf1 ptr include:mailgun.org ~all"),
    (
        "voids.spfchain.net",
        "v=spf1 a:x1.spfchain.net a:x2.spfchain.net mx:x3.spfchain.net include:mailgun.org ~all",
    ),
    ("plusall.spfchain.net", "v=spf1 include:mailgun.org +all"),
    ("loop1.spfchain.net", "v=spf1 include:loop2.spfchain.net include:mailgun.org ~all"),
    ("loop2.spfchain.net", "v=spf1 include:loop1.spfchain.net ~all"),
    ("redir.spfchain.net", "v=spf1 redirect=d1.spfchain.net"),
    ("nomailgun.spfchain.net", "v=spf1 include:sendgrid.net -all"),
    (
        "long.spfchain.net",
        "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(1, 40)) + " include:mailgun.org ~all",
    ),
    ("_dmarc.order.spfchain.net", "v=DMARC1; rua=mailto:d@spfchain.net; p=reject; pct=50; ri=3600"),
    ("_dmarc.two.spfchain.net", "v=DMARC1; p=reject"),
    ("_dmarc.two.spfchain.net", "v=DMARC1; p=none"),
    ("_dmarc.late.spfchain.net", "p=reject; v=DMARC1"),
    ("_dmarc.badp.spfchain.net", "v=DMARC1; p=block; rua=https://example.org/r"),
    ("bad._domainkey.spfchain.net", "v=DKIM1; k=rsa; p=notbase64!!"),
    ("revoked._domainkey.spfchain.net", "v=DKIM1; k=rsa; p="),
    ("ed._domainkey.spfchain.net", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
    ("two._domainkey.spfchain.net", "v=DKIM1; k=rsa; p=AAAA"),
    ("two._domainkey.spfchain.net", "v=DKIM1; k=rsa; p=BBBB"),
]


def _load_forwarder():
    spec = importlib.util.spec_from_file_location(
        "dns_delay_forwarder", REPO / "bench" / "dns_delay_forwarder.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class DnsWorld:
    project_dir: Path
    knot: KnotServer
    forwarder_ns: str
    keys: dict[str, str]  # DKIM record name -> published key
    expected_keys: dict[str, str]  # what Mailgun holds (differs for wrongkey)
    keys_file: Path

    @property
    def ns(self) -> str:
        return self.knot.nameserver


@pytest.fixture(scope="session")
def dns_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsWorld]:
    require_knot()
    root = tmp_path_factory.mktemp("check")
    project_dir = root / "project"
    project_dir.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, project_dir / name)
    shutil.copytree(REPO / "tenants", project_dir / "tenants")
    for slug, text in BROKEN_TENANTS.items():
        (project_dir / "tenants" / f"{slug}.yaml").write_text(text)
    project = Project.load(project_dir / "tenants", project_dir)
    states = list(project.states.values())

    pool = {2048: [rsa_public_key_b64(2048) for _ in range(3)], 1024: [rsa_public_key_b64(1024)]}
    keys: dict[str, str] = {}
    i = 0
    for state in states:
        for tenant in state.tenants:
            for rec in tenant.records:
                if rec.from_mailgun:
                    bits = next(d.dkim_key_size for d in tenant.domains if d.name == rec.mailgun_domain)
                    keys[rec.name] = pool[bits][i % len(pool[bits])]
                    i += 1
    expected = dict(keys)
    wrong_name = "mailfleet._domainkey.wrongkey.mail.example.com"
    expected[wrong_name] = rsa_public_key_b64(2048)  # Mailgun holds another key than the one published

    zones = ModelZones(extra_zones=["spfchain.net", "reports-elsewhere.net", "blackhole.no"])
    zones.add_states(states, keys)
    for name, value in SPF_CHAIN.items():
        zones.add(txt_rr(name, value))
    # broken cases on top of the model
    zones.add(txt_rr("twospf.no", "v=spf1 include:sendgrid.net ~all"))
    zones.remove("_dmarc.nopolicy.mail.example.eu", "TXT")
    zones.add(txt_rr("_dmarc.nopolicy.mail.example.eu", "v=DMARC1; rua=mailto:dmarc-reports@mail.example.eu"))
    zones.remove("noauth.no._report._dmarc.reports-elsewhere.net", "TXT")
    zones.remove("noauth.mail.example.eu._report._dmarc.reports-elsewhere.net", "TXT")
    zones.remove("wrongregion.mail.example.eu", "MX")
    zones.add("wrongregion.mail.example.eu. 300 MX 10 mxa.mailgun.org.")
    zones.add("wrongregion.mail.example.eu. 300 MX 10 mxb.mailgun.org.")
    zones.remove("email.notracking.mail.example.eu", "CNAME")
    zones.zones.pop("unserved.no", None)  # Knot answers REFUSED for it
    # a TXT RRset too big for UDP (1232 octets): the resolver must retry over TCP
    for n in range(8):
        zones.add(txt_rr("big.spfchain.net", f"filler-{n}-" + "x" * 200))
    zones.add("alias.spfchain.net. 300 CNAME d4.spfchain.net.")
    for name, value in LINT_CASES:
        zones.add(txt_rr(name, value))

    (project_dir / "tenants" / "notdeployed.yaml").write_text(NOT_DEPLOYED)
    keys_file = root / "dkim-keys.json"
    keys_file.write_text(json.dumps(expected))
    fwd_module = _load_forwarder()
    with KnotServer(root / "knot", zones.zones) as knot:
        forwarder = fwd_module.ForwarderThread(
            ("127.0.0.1", 0), (knot.address, knot.port), 0.0, ["blackhole.no"]
        ).start()
        try:
            host, port = forwarder.address
            yield DnsWorld(project_dir, knot, f"{host}:{port}", keys, expected, keys_file)
        finally:
            forwarder.stop()


@pytest.fixture
def check_cli(dns_world: DnsWorld, cli):
    """Run ``mailfleet check`` in the session project against Knot (JSON unless told)."""

    def run(*args: str, ns: str | None = None, env: dict[str, str] | None = None, fmt: str = "json"):
        argv = ["check", *args, "--nameserver", ns or dns_world.ns, "--timeout", "0.5", "--retries", "1"]
        if fmt:
            argv += ["--format", fmt]
        proc = cli(*argv, cwd=dns_world.project_dir, env=env)
        data = json.loads(proc.stdout) if fmt == "json" and proc.stdout.strip().startswith("{") else None
        return proc, data

    return run


def record(data: dict, slug: str, purpose: str, zone: str | None = None) -> dict:
    """The one record of ``slug`` with ``purpose`` (and zone: 'ours' or the customer's)."""
    tenant = next(t for t in data["tenants"] if t["slug"] == slug)
    matches = [
        r for r in tenant["records"] if r["purpose"] == purpose and (zone is None or r["zone"] == zone)
    ]
    assert len(matches) == 1, (purpose, zone, [r["name"] for r in matches])
    return matches[0]


@dataclass
class HandWorld:
    """The hand-written zones of tests/check/handwritten.py served by Knot, and their project."""

    project_dir: Path
    knot: KnotServer

    def check(self, *slugs: str, silent: str | None = None, cli=None):
        """``mailfleet check SLUG... --format json`` through a forwarder that never answers
        ``silent`` (and answers everything else from Knot); (process, parsed JSON). One second
        per attempt: an answer from a loaded machine must not pass for a timeout."""
        from tests.conftest import run_cli

        # a port free for UDP and TCP both (port 0 picks a UDP port whose TCP twin may be taken)
        fwd = _load_forwarder().ForwarderThread(
            ("127.0.0.1", free_port("127.0.0.1")),
            (self.knot.address, self.knot.port),
            0.0,
            [silent] if silent else [],
        )
        fwd.start()
        try:
            host, port = fwd.address
            argv = ["check", *slugs, "--nameserver", f"{host}:{port}", "--timeout", "1", "--retries", "1"]
            proc = (cli or run_cli)(*argv, "--format", "json", cwd=self.project_dir)
        finally:
            fwd.stop()
        data = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
        return proc, data


@pytest.fixture(scope="session")
def silent_knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandWorld]:
    """Knot serving the hand-written zones (not generated from the model), for the session."""
    from tests.check import handwritten

    require_knot()
    root = tmp_path_factory.mktemp("handwritten")
    project_dir = root / "project"
    (project_dir / "tenants").mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, project_dir / name)
    for slug, text in handwritten.TENANTS.items():
        (project_dir / "tenants" / f"{slug}.yaml").write_text(text)
    with KnotServer(root / "knot", handwritten.zones()) as knot:
        yield HandWorld(project_dir, knot)
