"""`mailfleet check --all` vs checkdmarc on the same 1,000 tenants served by a real Knot server.

Setup: ``gen.py`` writes 1,000 tenants (about 1,670 Mailgun domains: every tenant's platform
domain plus the customers' own domains); their zones are generated from the model
(``tests/check/knot.py``), with real RSA DKIM keys, and served by knotd on 127.53.0.1:53.
One sender domain in twenty of each kind gets a deliberate SPF or DMARC fault (two SPF
records, a void include, 11 lookups, ptr, 3 void lookups, no SPF; DMARC without p, p not
second, two records, an unauthorised report destination, pct), so the verdict comparison
has something to compare.

Runs, in the same process run, on the same domains:
- ``mailfleet check --all --nameserver 127.53.0.1 --format json`` (best of 3),
- ``checkdmarc <domains file> -n 127.53.0.1 -o out.json`` (checkdmarc's CLI takes a
  nameserver IP and always asks port 53, hence port 53 and root; without root it is run
  through its library with a ``Do53Nameserver`` on a high port),
first direct, then through ``dns_delay_forwarder.py`` adding 20 ms to every answer
(127.53.0.2:53). Then it compares the SPF and DMARC verdicts per domain (docs/check.md
explains each kind of difference with its RFC section).

Environment: ``BENCH_CHECK_TENANTS`` (default 1000), ``BENCH_CHECK_DELAYED_DOMAINS``
(checkdmarc's domains in the 20 ms run; default all; checkdmarc is sequential, so a sample
times the same per-domain work, and the ratio is then taken per domain).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402
from gen import generate  # noqa: E402

from mailfleet.project import Project  # noqa: E402
from tests.check.knot import KnotServer, ModelZones, free_port, rsa_public_key_b64, txt_rr  # noqa: E402

N_TENANTS = int(os.environ.get("BENCH_CHECK_TENANTS", "1000"))
DELAYED_DOMAINS = int(os.environ.get("BENCH_CHECK_DELAYED_DOMAINS", "0"))
KNOT_ADDR = "127.53.0.1"
FWD_ADDR = "127.53.0.2"
DELAY = 0.02
REPEAT = 3
VENV_BIN = Path(sys.executable).parent


def _mutate(zones, states) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Break one sender domain in twenty per kind; returns domain -> fault name."""
    faults: dict[str, str] = {}
    senders = sorted(
        {d.name for s in states for t in s.tenants for d in t.domains if d.role == "sender"},
        key=lambda n: int("".join(c for c in n.split(".")[0] if c.isdigit()) or 0),
    )
    zones.zones.setdefault("reports.example.org", [])
    spf_faults = {
        1: ("spf-two-records", None),
        2: ("spf-void-include", "v=spf1 include:mailgun.org include:nonexistent.{d} ~all"),
        3: (
            "spf-11-lookups",
            "v=spf1 include:mailgun.org include:_spf.google.com include:spf.protection.outlook.com "
            "include:sendgrid.net ~all",
        ),
        4: ("spf-ptr", "v=spf1 ptr include:mailgun.org ~all"),
        5: ("spf-3-void-lookups", "v=spf1 a:x1.{d} a:x2.{d} a:x3.{d} include:mailgun.org ~all"),
        6: ("spf-missing", ""),
    }
    dmarc_faults = {
        11: ("dmarc-no-p", "v=DMARC1; rua=mailto:dmarc@{d}"),
        12: ("dmarc-p-not-second", "v=DMARC1; rua=mailto:dmarc@{d}; p=reject"),
        13: ("dmarc-two-records", None),
        14: ("dmarc-unauthorised-rua", "v=DMARC1; p=reject; rua=mailto:dmarc@reports.example.org"),
        15: ("dmarc-pct", "v=DMARC1; p=quarantine; pct=50; rua=mailto:dmarc@{d}"),
    }
    for index, domain in enumerate(senders):
        bucket = index % 20
        if bucket in spf_faults:
            name, value = spf_faults[bucket]
            if value is None:
                zones.add(txt_rr(domain, "v=spf1 include:sendgrid.net ~all"))
            else:
                current = [
                    ln for ln in zones.zones[domain] if ln.startswith(f"{domain}. ") and "v=spf1" in ln
                ]
                zones.zones[domain] = [ln for ln in zones.zones[domain] if ln not in current]
                if value:
                    zones.add(txt_rr(domain, value.format(d=domain)))
            faults[domain] = name
        elif bucket in dmarc_faults:
            name, value = dmarc_faults[bucket]
            dname = f"_dmarc.{domain}"
            if value is None:
                zones.add(txt_rr(dname, "v=DMARC1; p=none"))
            else:
                zones.remove(dname, "TXT")
                zones.add(txt_rr(dname, value.format(d=domain)))
            faults[domain] = name
    return faults


def _start_knot(workdir: Path, zones: dict[str, list[str]], port: int):  # type: ignore[no-untyped-def]
    return KnotServer(workdir, zones, KNOT_ADDR, port).start(wait=60)


def _start_forwarder(port: int, upstream_port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "dns_delay_forwarder.py"),
            "--listen",
            f"{FWD_ADDR}:{port}",
            "--upstream",
            f"{KNOT_ADDR}:{upstream_port}",
            "--delay",
            str(DELAY),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        proc.kill()
        raise RuntimeError(f"forwarder did not start: {line!r}")
    return proc


def _time(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess[str]]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - start, proc


def _mailfleet(root: Path, ns: str) -> tuple[float, dict]:  # type: ignore[type-arg]
    cmd = [
        sys.executable,
        "-m",
        "mailfleet",
        "--stacks-dir",
        str(root),
        "check",
        "--all",
        "--nameserver",
        ns,
        "--format",
        "json",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILGUN_API_KEY", None)
    best, data = float("inf"), {}
    for _ in range(REPEAT):
        elapsed, proc = _time(cmd, env=env)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"mailfleet check failed ({proc.returncode}): {proc.stderr[-2000:]}")
        best = min(best, elapsed)
        data = json.loads(proc.stdout)
    return best, data


CHECKDMARC_API = """
import json, sys
import checkdmarc
from dns.nameserver import Do53Nameserver
host, port, src, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
domains = [d.strip() for d in open(src) if d.strip()]
results = checkdmarc.check_domains(domains, nameservers=[Do53Nameserver(host, port)])
if isinstance(results, dict):
    results = [results]
json.dump(results, open(out, "w"), default=str)
"""


def _checkdmarc(domains: list[str], host: str, port: int, workdir: Path) -> tuple[float, list[dict]]:  # type: ignore[type-arg]
    src = workdir / f"domains-{host}-{len(domains)}.txt"
    src.write_text("\n".join(domains) + "\n")
    out = workdir / f"checkdmarc-{host}-{len(domains)}.json"
    if port == 53:
        cmd = [str(VENV_BIN / "checkdmarc"), str(src), "-n", host, "-o", str(out)]
    else:
        cmd = [sys.executable, "-c", CHECKDMARC_API, host, str(port), str(src), str(out)]
    elapsed, proc = _time(cmd)
    if not out.exists():
        raise RuntimeError(f"checkdmarc failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(out.read_text())
    return elapsed, data if isinstance(data, list) else [data]


def _our_verdicts(data: dict) -> dict[tuple[str, str], tuple[bool, list[str]]]:  # type: ignore[type-arg]
    """(domain, spf|dmarc) -> (valid, error codes): valid = found and no lint error.

    Model equality is left out: checkdmarc does not know the model, so only the lint verdict
    (the part both tools judge) is compared.
    """
    out = {}
    for tenant in data["tenants"]:
        for r in tenant["records"]:
            if r["purpose"] == "spf":
                domain = r["name"]
            elif r["purpose"] == "dmarc":
                domain = r["name"][len("_dmarc.") :]
            else:
                continue
            errors = [f["code"] for f in r["findings"] if f["severity"] == "error"]
            present = r["status"] in ("ok", "wrong")
            if not present:
                errors.append(r["status"])
            out[(domain, r["purpose"])] = (present and not errors, errors)
    return out


def _their_verdicts(results: list[dict]) -> dict[tuple[str, str], tuple[bool, str]]:  # type: ignore[type-arg]
    out = {}
    for item in results:
        for kind in ("spf", "dmarc"):
            part = item.get(kind) or {}
            out[(item["domain"], kind)] = (bool(part.get("valid")), str(part.get("error") or ""))
    return out


def compare(ours: dict, theirs: dict, faults: dict[str, str]) -> tuple[int, int, Counter[str], list[str]]:  # type: ignore[type-arg]
    agree = total = 0
    kinds: Counter[str] = Counter()
    examples: list[str] = []
    for key, (their_valid, their_error) in sorted(theirs.items()):
        if key not in ours:
            continue
        total += 1
        our_valid, our_errors = ours[key]
        if our_valid == their_valid:
            agree += 1
            continue
        domain, kind = key
        label = f"{kind}:{faults.get(domain, 'no fault')}: mailfleet={'valid' if our_valid else 'invalid'}"
        label += f" checkdmarc={'valid' if their_valid else 'invalid'}"
        kinds[label] += 1
        if kinds[label] == 1:
            examples.append(
                f"{domain} {label} (ours: {','.join(our_errors) or '-'}; theirs: {their_error[:160]})"
            )
    return agree, total, kinds, examples


def run() -> list[Result]:
    if not KnotServer.available():
        raise RuntimeError("knotd/kdig not installed (make system-deps)")
    root = Path(tempfile.mkdtemp(prefix="mailfleet-bench-check-"))
    knot = None
    forwarder = None
    try:
        generate(root / "tenants", N_TENANTS)
        for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
            shutil.copy(REPO / name, root / name)
        project = Project.load(root / "tenants", root)
        states = list(project.states.values())
        pool = {
            2048: [rsa_public_key_b64(2048) for _ in range(4)],
            1024: [rsa_public_key_b64(1024) for _ in range(2)],
        }
        keys: dict[str, str] = {}
        domains: list[str] = []
        for state in states:
            for tenant in state.tenants:
                domains.extend(d.name for d in tenant.domains)
                for rec in tenant.records:
                    if rec.from_mailgun:
                        bits = next(d.dkim_key_size for d in tenant.domains if d.name == rec.mailgun_domain)
                        keys[rec.name] = pool[bits][len(keys) % len(pool[bits])]
        zones = ModelZones()
        # serve every report destination (rua=mailto:dmarc@tenantN.example.com) so that the
        # RFC 7489 §7.1 authorisations the model implies can be published there
        for state in states:
            for tenant in state.tenants:
                for rec in tenant.records:
                    if rec.purpose == "dmarc":
                        for part in rec.values[0].split(";"):
                            key, _, val = part.strip().partition("=")
                            if key in ("rua", "ruf"):
                                for uri in val.split(","):
                                    zones.zones.setdefault(uri.split("@", 1)[1].split("!", 1)[0], [])
        zones.add_states(states, keys)
        faults = _mutate(zones, states)
        as_root = os.geteuid() == 0
        port = 53 if as_root else free_port(KNOT_ADDR)
        knot = _start_knot(root / "knot", zones.zones, port)
        fwd_port = 53 if as_root else free_port(FWD_ADDR)
        forwarder = _start_forwarder(fwd_port, port)

        results: list[Result] = []
        # 1. no added latency
        ours_t, ours_data = _mailfleet(root, f"{KNOT_ADDR}:{port}")
        theirs_t, theirs_data = _checkdmarc(domains, KNOT_ADDR, port, root)
        notes = {
            "tenants": N_TENANTS,
            "domains": len(domains),
            "dns_queries": ours_data["summary"]["dns_queries"],
            "mailfleet_runs": REPEAT,
        }
        results.append(
            Result(
                f"check --all vs checkdmarc, {N_TENANTS} tenants / {len(domains)} domains, no added latency (speedup)",
                theirs_t,
                ours_t,
                "mailfleet check --all",
                target=10.0,
                higher_is_better=True,
                notes=notes,
            )
        )
        agree, total, kinds, examples = compare(
            _our_verdicts(ours_data), _their_verdicts(theirs_data), faults
        )
        results.append(
            Result(
                "SPF+DMARC verdicts equal to checkdmarc's (share of domain x kind)",
                agree,
                total,
                "all verdicts",
                unit="",
                notes={"differences": dict(kinds), "faults": dict(Counter(faults.values()))},
            )
        )
        for example in examples:
            print(f"  verdict difference: {example}", flush=True)

        # 2. 20 ms added to every answer
        ours_d, _ = _mailfleet(root, f"{FWD_ADDR}:{fwd_port}")
        sample = domains if not DELAYED_DOMAINS else domains[:DELAYED_DOMAINS]
        theirs_d, _ = _checkdmarc(sample, FWD_ADDR, fwd_port, root)
        per_domain_scale = len(domains) / len(sample)
        results.append(
            Result(
                f"check --all vs checkdmarc, {N_TENANTS} tenants, {int(DELAY * 1000)} ms per answer (speedup)",
                theirs_d * per_domain_scale,
                ours_d,
                "mailfleet check --all",
                target=30.0,
                higher_is_better=True,
                notes={"checkdmarc_domains_timed": len(sample), "checkdmarc_seconds": round(theirs_d, 2)},
            )
        )
        return results
    finally:
        if forwarder is not None:
            forwarder.terminate()
            forwarder.wait(timeout=10)
        if knot is not None:
            knot.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for r in run():
        print(r.line())
