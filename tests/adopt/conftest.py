"""Customer zones as customers have them before mailfleet, served by a real Knot on loopback.

Every zone here is written by hand, not generated from mailfleet's model: what a Google
Workspace customer, a Microsoft 365 customer and a Cloudflare customer already publish, and
stand-in zones for the SPF include trees (``mailgun.org``, ``_spf.google.com``,
``spf.protection.outlook.com``) with address ranges made up from the documentation blocks
(RFC 5737), so SPF evaluates end to end without leaving the machine.

The project is a copy of the example project with one tenant file per customer, also written
by hand.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.resolver
import pytest

from mailfleet.desired.state import DnsRecord
from tests.check.knot import KnotServer
from tests.conftest import REPO, require_knot
from tests.fakes.cloudflare_server import FakeCloudflare, txt_content

CF_ZONE_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"
R53_ZONE_ID = "Z0GSUITE000001"

# Senders, from the made-up ranges of the include trees below.
GOOGLE_IP = "203.0.113.9"  # in _spf.google.com's ip4:203.0.113.0/27
MICROSOFT_IP = "203.0.113.70"  # in spf.protection.outlook.com's ip4:203.0.113.64/27
MAILGUN_IP = "198.51.100.140"  # in _spf.mailgun.org's ip4:198.51.100.128/26
STRANGER_IP = "192.0.2.77"  # in nobody's record

GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
MICROSOFT_SPF = "v=spf1 include:spf.protection.outlook.com -all"
GOOGLE_VERIFY = "google-site-verification=3pZVq0bJmQ1xTnA8kLw2"
MS_VERIFY = "MS=ms47110815"
GSUITE_DMARC = "v=DMARC1; p=none; rua=mailto:dmarc@gsuite.no"
OFFICE_DMARC = "v=DMARC1; p=reject; rua=mailto:reports@office.no; fo=1"
FLARE_DMARC = "v=DMARC1; p=none; rua=mailto:postmaster@flare.no"
GSUITE_TRACKING = "links.newsletter-tool.example"
STACK_RUA = "mailto:dmarc-reports@mail.example.eu"  # Pulumi.eu.yaml mailfleet:dmarcRua

INCLUDE_ZONES: dict[str, list[str]] = {
    "mailgun.org": [
        'mailgun.org. 300 TXT "v=spf1 include:_spf.mailgun.org ~all"',
        '_spf.mailgun.org. 300 TXT "v=spf1 ip4:198.51.100.0/26 ip4:198.51.100.128/26 ~all"',
    ],
    "google.com": ['_spf.google.com. 300 TXT "v=spf1 ip4:203.0.113.0/27 ~all"'],
    "outlook.com": ['spf.protection.outlook.com. 300 TXT "v=spf1 ip4:203.0.113.64/27 -all"'],
}

RRsets = dict[tuple[str, str], list[str]]

# (name, type) -> values, as each customer has them. TXT values unquoted (rendered by
# ``zone_lines``), other types in zone-file form.
CUSTOMERS: dict[str, RRsets] = {
    # Google Workspace, DNS on Route53, a newsletter tool's tracking CNAME where ours goes.
    "gsuite.no": {
        ("gsuite.no", "TXT"): [GOOGLE_SPF, GOOGLE_VERIFY],
        ("gsuite.no", "MX"): ["1 aspmx.l.google.com."],
        ("gsuite.no", "A"): ["192.0.2.10"],
        ("_dmarc.gsuite.no", "TXT"): [GSUITE_DMARC],
        ("email.gsuite.no", "CNAME"): [f"{GSUITE_TRACKING}."],
    },
    # Microsoft 365, DNS the customer runs itself (manual).
    "office.no": {
        ("office.no", "TXT"): [MICROSOFT_SPF, MS_VERIFY],
        ("office.no", "MX"): ["0 office-no.mail.protection.outlook.com."],
        ("_dmarc.office.no", "TXT"): [OFFICE_DMARC],
    },
    # Google Workspace on Cloudflare (the same records are seeded into FakeCloudflare).
    "flare.no": {
        ("flare.no", "TXT"): [GOOGLE_SPF, GOOGLE_VERIFY],
        ("_dmarc.flare.no", "TXT"): [FLARE_DMARC],
    },
    # Two SPF records: receivers answer permerror; adopt must refuse.
    "twospf.no": {("twospf.no", "TXT"): [GOOGLE_SPF, MICROSOFT_SPF]},
    # A CNAME where our DKIM TXT record goes.
    "cnamed.no": {("mailfleet._domainkey.cnamed.no", "CNAME"): ["dkim.elsewhere.example."]},
    # Nothing at all at our names.
    "bare.no": {("bare.no", "A"): ["192.0.2.20"]},
}


def txt_rdata(value: str) -> str:
    """A TXT value in zone-file form: character-strings of at most 255 octets, quoted."""
    data = value.encode()
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        text = "".join(
            "\\" + chr(b) if chr(b) in '"\\' else chr(b) if 32 <= b < 127 else f"\\{b:03d}" for b in chunk
        )
        out.append(f'"{text}"')
    return " ".join(out)


def zone_lines(rrsets: RRsets) -> list[str]:
    lines = []
    for (name, type_), values in rrsets.items():
        for value in values:
            lines.append(f"{name}. 300 {type_} {txt_rdata(value) if type_ == 'TXT' else value}")
    return lines


TENANTS: dict[str, str] = {
    "gsuite": f"""slug: gsuite
name: G Suite Kunde AS
region: eu
mailboxes: [post]
sender_domain:
  name: gsuite.no
  dns: route53:{R53_ZONE_ID}
tracking: true
""",
    "office": """# A Microsoft 365 customer; they run their DNS themselves.
slug: office
name: Office Kunde AS
region: eu
mailboxes: [post]
sender_domain:
  name: office.no
  dns: manual
""",
    "flare": f"""slug: flare
name: Flare Kunde AS
region: eu
mailboxes: [post]
sender_domain:
  name: flare.no
  dns: cloudflare:{CF_ZONE_ID}
""",
    "twospf": """slug: twospf
name: Two SPF AS
region: eu
mailboxes: [post]
sender_domain: {name: twospf.no, dns: manual}
dmarc: {policy: quarantine}
""",
    "cnamed": """slug: cnamed
name: Cnamed AS
region: eu
mailboxes: [post]
sender_domain: {name: cnamed.no, dns: manual}
dmarc: {policy: quarantine}
""",
}


# What Mailgun would generate as the DKIM key: longer than 255 octets, so it is split.
FAKE_DKIM = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "q" * 330 + "IDAQAB"


def _replaced(purpose: str, value: str) -> bool:
    """Whether the customer's ``value`` is the one record mailfleet's ``purpose`` replaces."""
    if purpose == "spf":
        return value.lower().startswith("v=spf1")
    if purpose == "dmarc":
        return value.replace(" ", "").startswith("v=DMARC1")
    return True  # DKIM, tracking: one value at the name


def after_first_up(rrsets: RRsets, records: Iterable[DnsRecord]) -> RRsets:
    """The customer's zone once the records mailfleet declares are published.

    Route53: the resource owns the whole RRset, so it holds exactly the declared values.
    Cloudflare (one record per value) and manual DNS (the customer replaces the record they
    are told to): the one record of that purpose is replaced, the other values stay.
    """
    out = {key: list(values) for key, values in rrsets.items()}
    for r in records:
        values = [FAKE_DKIM] if r.from_mailgun else [v if r.type != "CNAME" else f"{v}." for v in r.values]
        key = (r.name, r.type)
        if r.provider == "route53":
            out[key] = values
        else:
            out[key] = [v for v in out.get(key, []) if not _replaced(r.purpose, v)] + values
    return out


@contextmanager
def dns_at(nameserver: str) -> Iterator[dns.resolver.Resolver]:
    """dnspython's default resolver (which pyspf uses) asks ``nameserver`` only."""
    host, port = nameserver.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.lifetime = 5.0
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pyspf calls dns.resolver.query
            yield resolver
    finally:
        dns.resolver.default_resolver = saved


def spf_result(ip: str, domain: str, nameserver: str) -> str:
    """pyspf's verdict for mail from ``crm@domain`` sent by ``ip`` (pass, fail, softfail...)."""
    import spf

    with dns_at(nameserver):
        result, _explanation = spf.check2(i=ip, s=f"crm@{domain}", h="crm.example.eu")
    return str(result)


def txt_at(name: str, nameserver: str) -> list[str]:
    """The TXT values at ``name`` (character-strings joined), asked with dnspython."""
    with dns_at(nameserver) as resolver:
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
    return sorted(b"".join(r.strings).decode() for r in answer)


def zones(changes: dict[str, RRsets] | None = None) -> dict[str, list[str]]:
    """Every zone's lines; the customer zones named in ``changes`` hold those RRsets instead."""
    customers = {**CUSTOMERS, **(changes or {})}
    return {**INCLUDE_ZONES, **{zone: zone_lines(rrsets) for zone, rrsets in customers.items()}}


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "tenants", root / "tenants")
    for slug, text in TENANTS.items():
        (root / "tenants" / f"{slug}.yaml").write_text(text, encoding="utf-8")
    return root


@dataclass
class World:
    project: Path
    knot: KnotServer

    @property
    def tenants(self) -> Path:
        return self.project / "tenants"

    @property
    def ns(self) -> str:
        return self.knot.nameserver


def knot_or_skip() -> None:
    require_knot()


@pytest.fixture(scope="session")
def before_knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    """The zones as they are before mailfleet, served for the whole session (read only)."""
    knot_or_skip()
    with KnotServer(tmp_path_factory.mktemp("adopt-knot"), zones()) as knot:
        yield knot


@pytest.fixture
def world(tmp_path: Path, before_knot: KnotServer) -> World:
    """A fresh project copy (tests write to it) against the session's Knot."""
    return World(make_project(tmp_path / "project"), before_knot)


def seed_flare(fake: FakeCloudflare) -> dict[str, str]:
    """flare.no in the fake as Cloudflare holds it (TXT stored quoted and unquoted); the ids
    of its SPF, verification and DMARC records."""
    zone = fake.seed_zone("flare.no", zone_id=CF_ZONE_ID)
    ids = {
        "spf": fake.seed_txt(zone, "@", GOOGLE_SPF)["id"],
        "verify": fake.seed_txt(zone, "@", GOOGLE_VERIFY, stored="raw")["id"],
        "dmarc": fake.seed_txt(zone, "_dmarc", FLARE_DMARC)["id"],
    }
    fake.seed_record(zone, "MX", "@", "aspmx.l.google.com", priority=1)
    fake.seed_record(zone, "A", "@", "192.0.2.30", proxied=True)
    return ids


def cloudflare_after_up(fake: FakeCloudflare, records: Iterable[DnsRecord]) -> None:
    """What ``pulumi up`` does to the fake's zone: an imported record (``ZONE/ID``) gets the
    declared value in place, a new one is created."""
    zone = fake.zones[CF_ZONE_ID]
    for r in records:
        values = [FAKE_DKIM] if r.from_mailgun else list(r.values)
        content = txt_content(values[0]) if r.type == "TXT" else values[0]
        if r.adopted is not None and r.adopted.import_id:
            record_id = r.adopted.import_id.split("/", 1)[1]
            with fake.lock:
                zone.records[record_id]["content"] = content
        else:
            fake.seed_record(zone, r.type, r.name, content)


@pytest.fixture
def cloudflare(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeCloudflare, dict[str, str]]]:
    """FakeCloudflare holding flare.no; the environment points the Manager at it."""
    with FakeCloudflare() as fake:
        ids = seed_flare(fake)
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake, ids
