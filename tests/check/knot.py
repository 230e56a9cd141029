"""A real Knot DNS server for tests and benchmarks, and zones generated from the model.

``KnotServer(workdir, zones, address, port).start()`` writes knot.conf and one zone file per
zone, runs ``knotd -c knot.conf`` in the foreground as a child process and waits until
``kdig`` gets an answer; ``stop()`` terminates it. ``zones`` maps a zone name to its
record lines (``name TTL TYPE value``, absolute names with a trailing dot); SOA and NS are
added.

``ModelZones`` turns desired states into those zones: every record the model declares (the
DKIM values from the given keys), the report authorisations each DMARC record needs, and
the SPF include trees of the senders the example tenants use (``INCLUDE_TREES``).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from mailfleet.desired.state import StackState
from mailfleet.model import names
from mailfleet.records import dkim as dkim_records
from mailfleet.records import dmarc as dmarc_records
from mailfleet.records import txt

# Include trees we serve ourselves. Costs match mailfleet.records.spf.KNOWN_INCLUDE_COSTS.
INCLUDE_TREES: dict[str, str] = {
    "mailgun.org": "v=spf1 include:spf1.mailgun.org include:spf2.mailgun.org ~all",
    "spf1.mailgun.org": "v=spf1 ip4:209.61.151.0/24 ip4:166.78.68.0/22 ip4:198.61.254.0/23 ~all",
    "spf2.mailgun.org": "v=spf1 ip4:69.72.32.0/20 include:spf3.mailgun.org ~all",
    "spf3.mailgun.org": "v=spf1 ip4:161.38.192.0/20 ip4:141.193.32.0/23 ~all",
    "_spf.google.com": "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com "
    "include:_netblocks3.google.com ~all",
    "_netblocks.google.com": "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ~all",
    "_netblocks2.google.com": "v=spf1 ip6:2001:4860:4000::/36 ~all",
    "_netblocks3.google.com": "v=spf1 ip4:172.217.0.0/19 ~all",
    "spf.protection.outlook.com": "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all",
    "spfd.protection.outlook.com": "v=spf1 ip4:51.4.72.0/24 -all",
    "sendgrid.net": "v=spf1 ip4:167.89.0.0/17 ip4:208.117.48.0/20 ~all",
    "amazonses.com": "v=spf1 ip4:199.255.192.0/22 ip4:54.240.0.0/18 ~all",
    "servers.mcsv.net": "v=spf1 ip4:205.201.128.0/20 ~all",
}
# Set for each test by tests/conftest.py (pytest_runtest_setup): does the running test carry the
# ``knot`` marker? None outside pytest (the benchmarks), where nothing is checked.
CURRENT_TEST_MARKED: bool | None = None

# Addresses of Mailgun's inbound hosts (RFC 5737 documentation addresses): `check` asks for
# the address of every MX host.
MX_HOST_ADDRESSES: dict[str, str] = {
    "mxa.mailgun.org": "192.0.2.201",
    "mxb.mailgun.org": "192.0.2.202",
    "mxa.eu.mailgun.org": "192.0.2.211",
    "mxb.eu.mailgun.org": "192.0.2.212",
}
INCLUDE_ZONES = ("mailgun.org", "google.com", "outlook.com", "sendgrid.net", "amazonses.com", "mcsv.net")


def free_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((address, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((address, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def txt_rr(name: str, value: str, ttl: int = 300) -> str:
    return f"{name}. {ttl} TXT {txt.quoted(value)}"


class KnotServer:
    def __init__(
        self, workdir: Path, zones: dict[str, list[str]], address: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.workdir = workdir
        self.zones = zones
        self.address = address
        self.port = port or free_port(address)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("knotd") and shutil.which("kdig"))

    def write(self) -> Path:
        zdir = self.workdir / "zones"
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        zdir.mkdir(parents=True, exist_ok=True)
        for zone, lines in self.zones.items():
            head = [
                f"$ORIGIN {zone}.",
                "$TTL 300",
                f"@ SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 300",
                f"@ NS ns1.{zone}.",
                f"ns1 A {self.address}",
            ]
            (zdir / f"{zone}.zone").write_text("\n".join(head + list(lines)) + "\n")
        conf = self.workdir / "knot.conf"
        zone_lines = "\n".join(f"  - domain: {z}" for z in self.zones)
        conf.write_text(
            f"""server:
    rundir: "{self.workdir}"
    listen: {self.address}@{self.port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{self.workdir / "db"}"
template:
  - id: default
    storage: "{zdir}"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
{zone_lines}
"""
        )
        return conf

    def start(self, wait: float = 20.0) -> KnotServer:
        if CURRENT_TEST_MARKED is False:
            raise RuntimeError("a test that starts Knot must carry @pytest.mark.knot (tests/conftest.py)")
        if not self.available():
            from tests.conftest import require_knot

            require_knot()
        conf = self.write()
        log = open(self.workdir / "knotd.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(["knotd", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        probe = next(iter(self.zones))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited: {(self.workdir / 'knotd.log').read_text()[-2000:]}")
            out = subprocess.run(
                [
                    "kdig",
                    f"@{self.address}",
                    "-p",
                    str(self.port),
                    probe,
                    "SOA",
                    "+short",
                    "+timeout=1",
                    "+retry=0",
                ],
                capture_output=True,
                text=True,
            )
            if out.returncode == 0 and out.stdout.strip():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("knotd did not answer in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> KnotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rsa_public_key_b64(bits: int) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


class ModelZones:
    """Zones holding exactly what the model declares (plus what it implies elsewhere)."""

    def __init__(self, extra_zones: Iterable[str] = ()) -> None:
        self.zones: dict[str, list[str]] = {z: [] for z in INCLUDE_ZONES}
        for z in extra_zones:
            self.zones.setdefault(z, [])
        for name, value in INCLUDE_TREES.items():
            self.add(txt_rr(name, value))
        for name, address in MX_HOST_ADDRESSES.items():
            self.add(f"{name}. 300 A {address}")
        self.dkim_keys: dict[str, str] = {}

    def zone_of(self, name: str) -> str | None:
        best = None
        for zone in self.zones:
            if (name == zone or name.endswith("." + zone)) and (best is None or len(zone) > len(best)):
                best = zone
        return best

    def add(self, line: str) -> None:
        name = line.split(" ", 1)[0].rstrip(".")
        zone = self.zone_of(name)
        if zone is None:
            raise KeyError(f"no zone serves {name}")
        if line not in self.zones[zone]:
            self.zones[zone].append(line)

    def remove(self, name: str, rtype: str) -> None:
        for zone, lines in self.zones.items():
            self.zones[zone] = [ln for ln in lines if not (ln.startswith(f"{name}. ") and f" {rtype} " in ln)]

    def add_states(
        self,
        states: Iterable[StackState],
        keys: dict[str, str],
        *,
        authorise: bool = True,
        skip: Iterable[str] = (),
    ) -> None:
        """Every record of every tenant not in ``skip``; DKIM values from ``keys`` (by name)."""
        skipped = set(skip)
        for state in states:
            self.zones.setdefault(state.platform_domain, [])
            for tenant in state.tenants:
                for rec in tenant.records:
                    if rec.zone != "ours":
                        self.zones.setdefault(rec.zone, [])
        for state in states:
            for tenant in state.tenants:
                if tenant.slug in skipped:
                    continue
                for rec in tenant.records:
                    self.add_record(
                        rec.name,
                        rec.type,
                        rec.values,
                        rec.ttl,
                        keys.get(rec.name) if rec.from_mailgun else None,
                    )
                    if rec.purpose == "dmarc" and authorise:
                        domain = rec.name[len("_dmarc.") :]
                        self.authorise(domain, rec.values[0])

    def add_record(
        self, name: str, rtype: str, values: Iterable[str], ttl: int = 300, dkim_key: str | None = None
    ) -> None:
        if dkim_key is not None:
            self.dkim_keys[name] = dkim_key
            self.add(txt_rr(name, dkim_records.value(dkim_key), ttl))
            return
        for value in values:
            if rtype == "TXT":
                self.add(txt_rr(name, value, ttl))
            elif rtype == "MX":
                pref, host = value.split(" ", 1)
                self.add(f"{name}. {ttl} MX {pref} {host}.")
            elif rtype == "CNAME":
                self.add(f"{name}. {ttl} CNAME {value}.")
            else:
                self.add(f"{name}. {ttl} {rtype} {value}")

    def authorise(self, domain: str, dmarc_value: str) -> None:
        """Publish RFC 7489 §7.1 authorisations at each served external destination."""
        uris = []
        for part in dmarc_value.split(";"):
            key, _, val = part.strip().partition("=")
            if key in ("rua", "ruf"):
                uris.extend(u.strip() for u in val.split(","))
        for dest in dmarc_records.external_destinations(domain, uris):
            name = dmarc_records.authorisation_name(domain, dest)
            if self.zone_of(name) is None:
                continue
            line = txt_rr(name, dmarc_records.AUTHORISATION_VALUE)
            zone = self.zone_of(name)
            assert zone is not None
            if line not in self.zones[zone]:
                self.zones[zone].append(line)

    @staticmethod
    def organisational(name: str) -> str:
        return names.organisational_domain(name)
