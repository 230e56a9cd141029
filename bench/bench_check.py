"""`mailfleet check --all` on a real Knot server: its own time at 20 ms per answer against 0 ms,
its CPU per query against a bare dnspython loop, and checkdmarc on the same domains.

Setup, per size (``BENCH_CHECK_TENANTS``, default ``1000,10000``): ``gen.py`` writes the
tenants (1,000 tenants: 1,666 Mailgun domains, every platform domain plus the customers' own);
their zones are generated from the model (``tests/check/knot.py``), with real RSA DKIM keys,
and served by knotd on 127.53.0.1. One sender domain in twenty of each kind gets a deliberate
SPF or DMARC fault (two SPF records, a void include, 11 lookups, ptr, 3 void lookups, no SPF;
DMARC without p, p not second, two records, an unauthorised report destination, pct), so the
verdict comparison has something to compare.

Every tool asks through ``dns_delay_forwarder.py``: one in front of Knot adding 0 ms
(127.53.0.3), one adding 20 ms to every answer (127.53.0.2), both logging each query they
forward (``--log``), so the queries each run asked are counted, not estimated. Rows:

1. ``check --all`` at 20 ms against its own time at 0 ms (target <= 1.3x): three runs each,
   interleaved, best against best (every run in the notes).
2. ``check --all``'s CPU time per query (the whole process: start-up, loading the tenants,
   judging, output) against a bare dnspython asyncio loop (``dns.asyncquery.udp``, 100 in
   flight) sending the same queries, read from the forwarder's log of a check run, through the
   same 0 ms forwarder, CPU of the loop alone (target <= 1.5x).
3. At 1,000 tenants only (``BENCH_CHECK_CHECKDMARC_TENANTS``): ``checkdmarc`` on the same
   domains, as many runs as check (``REPEAT``), best against best: the speedup per domain (the
   time for all domains) and per query (time / queries each asked), at 0 ms on every domain, and
   at 20 ms on the first ``BENCH_CHECK_DELAYED_DOMAINS`` domains (default 100; checkdmarc is
   sequential, about 0.7 s a domain at 20 ms, so per domain is what is compared). checkdmarc's
   CLI takes a nameserver IP and always asks port 53, hence port 53 and root; without root it
   runs through its library with a ``Do53Nameserver`` on a high port.
4. SPF and DMARC verdicts compared per domain (docs/check.md explains each kind of difference).

``python bench/run.py check`` runs this (about 15-25 minutes on 2 shared cores).
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
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from common import Result, loadavg, rounds, timed_run  # noqa: E402
from gen import generate  # noqa: E402

from mailfleet.project import Project  # noqa: E402
from tests.check.knot import KnotServer, ModelZones, free_port, rsa_public_key_b64, txt_rr  # noqa: E402

SIZES = [int(x) for x in os.environ.get("BENCH_CHECK_TENANTS", "1000,10000").split(",") if x.strip()]
CHECKDMARC_TENANTS = int(os.environ.get("BENCH_CHECK_CHECKDMARC_TENANTS", "1000"))
DELAYED_DOMAINS = int(os.environ.get("BENCH_CHECK_DELAYED_DOMAINS", "100"))
KNOT_ADDR = "127.53.0.1"
SLOW_ADDR = "127.53.0.2"
FAST_ADDR = "127.53.0.3"
DELAY = 0.02
REPEAT = 3
LATENCY_TARGET = 1.3
CPU_TARGET = 1.5
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


def _start_forwarder(
    addr: str, port: int, upstream_port: int, delay: float, log: Path
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "dns_delay_forwarder.py"),
            "--listen",
            f"{addr}:{port}",
            "--upstream",
            f"{KNOT_ADDR}:{upstream_port}",
            "--delay",
            str(delay),
            "--log",
            str(log),
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


class Counted:
    """A forwarder's query log: how many lines a run added, and which."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark = 0

    def start(self) -> None:
        self.mark = self._size()

    def _size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since_start(self) -> list[str]:
        time.sleep(0.2)  # the forwarder writes each line as it forwards; let the last ones land
        with self.path.open("rb") as handle:
            handle.seek(self.mark)
            return handle.read().decode().splitlines()


def _mailfleet(root: Path, ns: str, log: Counted) -> tuple[float, float, int, dict[str, Any]]:
    """One ``check --all`` run: wall s, CPU s, queries the forwarder saw, the JSON output."""
    cmd = [sys.executable, "-m", "mailfleet", "--stacks-dir", str(root), "check", "--all"]
    cmd += ["--nameserver", ns, "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILGUN_API_KEY", None)
    out = root / "check-out.json"
    log.start()
    with out.open("w") as handle:  # exit 1: the deliberate faults
        wall, cpu = timed_run(cmd, ok=(0, 1), env=env, stdout=handle, stderr=subprocess.DEVNULL)
    queries = len(log.since_start())
    return wall, cpu, queries, json.loads(out.read_text())


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


def _checkdmarc(
    domains: list[str], host: str, port: int, workdir: Path, log: Counted
) -> tuple[float, int, list[dict]]:  # type: ignore[type-arg]
    src = workdir / f"domains-{host}-{len(domains)}.txt"
    src.write_text("\n".join(domains) + "\n")
    out = workdir / f"checkdmarc-{host}-{len(domains)}.json"
    out.unlink(missing_ok=True)
    if port == 53:
        cmd = [str(VENV_BIN / "checkdmarc"), str(src), "-n", host, "-o", str(out)]
    else:
        cmd = [sys.executable, "-c", CHECKDMARC_API, host, str(port), str(src), str(out)]
    log.start()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if not out.exists():
        raise RuntimeError(f"checkdmarc failed ({proc.returncode}): {proc.stderr[-2000:]}")
    queries = len(log.since_start())
    data = json.loads(out.read_text())
    return elapsed, queries, data if isinstance(data, list) else [data]


BARE_LOOP = """
import asyncio, json, sys, time
import dns.asyncquery, dns.message, dns.rdatatype
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
questions = [line.split("\\t") for line in open(src).read().splitlines() if line]
async def main():
    sem = asyncio.Semaphore(100)
    errors = 0
    async def one(name, qtype):
        nonlocal errors
        async with sem:
            query = dns.message.make_query(name, dns.rdatatype.RdataType(int(qtype)))
            try:
                await dns.asyncquery.udp(query, host, timeout=2.0, port=port)
            except Exception:
                errors += 1
    await asyncio.gather(*(one(n, t) for n, t in questions))
    return errors
cpu, wall = time.process_time(), time.perf_counter()
errors = asyncio.run(main())
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "queries": len(questions), "errors": errors}))
"""


def _bare_loop(questions: list[str], host: str, port: int, workdir: Path) -> dict[str, Any]:
    src = workdir / "questions.tsv"
    src.write_text("\n".join(questions) + "\n")
    proc = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, host, str(port), str(src)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bare dnspython loop failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


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


def _world(root: Path, n: int) -> tuple[dict[str, list[str]], list[str], dict[str, str]]:
    """Tenant files, stack files and the zones Knot serves: (zones, domains, faults)."""
    generate(root / "tenants", n)
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
    return zones.zones, domains, faults


def _size(n: int) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="mailfleet-bench-check-"))
    procs: list[subprocess.Popen[str]] = []
    knot = None
    try:
        zones, domains, faults = _world(root, n)
        as_root = os.geteuid() == 0
        port = 53 if as_root else free_port(KNOT_ADDR)
        knot = KnotServer(root / "knot", zones, KNOT_ADDR, port).start(wait=120)
        slow_port = 53 if as_root else free_port(SLOW_ADDR)
        fast_port = 53 if as_root else free_port(FAST_ADDR)
        slow_log, fast_log = Counted(root / "slow.tsv"), Counted(root / "fast.tsv")
        procs.append(_start_forwarder(SLOW_ADDR, slow_port, port, DELAY, slow_log.path))
        procs.append(_start_forwarder(FAST_ADDR, fast_port, port, 0.0, fast_log.path))
        load_before = loadavg()

        fast: list[tuple[float, float, int]] = []
        slow: list[tuple[float, float, int]] = []
        data: dict[str, Any] = {}
        questions: list[str] = []
        for _ in range(REPEAT):
            wall, cpu, queries, data = _mailfleet(root, f"{FAST_ADDR}:{fast_port}", fast_log)
            questions = fast_log.since_start()
            fast.append((wall, cpu, queries))
            wall, cpu, queries, _ = _mailfleet(root, f"{SLOW_ADDR}:{slow_port}", slow_log)
            slow.append((wall, cpu, queries))
        summary = data["summary"]
        if summary["timeout"] or summary["error"]:
            raise RuntimeError(f"check had timeouts or errors: {summary}")
        results = [
            Result(
                f"check --all, {n} tenants, {int(DELAY * 1000)} ms per answer vs 0 ms (same forwarder)",
                min(w for w, _, _ in slow),
                min(w for w, _, _ in fast),
                "check --all at 0 ms",
                target=LATENCY_TARGET,
                notes={
                    "tenants": n,
                    "domains": len(domains),
                    "queries": [q for _, _, q in fast],
                    "slow_s": [round(w, 3) for w, _, _ in slow],
                    "fast_s": [round(w, 3) for w, _, _ in fast],
                    "round_ratios": rounds([w for w, _, _ in slow], [w for w, _, _ in fast]),
                    "cpu_s_0ms": [round(c, 3) for _, c, _ in fast],
                    "load": f"{load_before} -> {loadavg()}",
                },
            )
        ]
        bare = _bare_loop(questions, FAST_ADDR, fast_port, root)
        ours_cpu = min(c / q for _, c, q in fast)
        bare_cpu = bare["cpu"] / bare["queries"]
        results.append(
            Result(
                f"check --all CPU per DNS query, {n} tenants, vs a bare dnspython asyncio loop",
                ours_cpu * 1000,
                bare_cpu * 1000,
                "dnspython loop, same queries, same forwarder",
                target=CPU_TARGET,
                unit=" ms",
                notes={
                    "queries": bare["queries"],
                    "check_cpu_s": [round(c, 3) for _, c, _ in fast],
                    "loop_cpu_s": round(bare["cpu"], 3),
                    "loop_wall_s": round(bare["wall"], 3),
                    "loop_errors": bare["errors"],
                    "what": "check: the whole process; loop: the loop alone",
                },
            )
        )
        if n == CHECKDMARC_TENANTS:
            results += _versus_checkdmarc(
                root, domains, faults, data, fast, slow, fast_port, slow_port, fast_log, slow_log
            )
        return results
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        if knot is not None:
            knot.stop()
        shutil.rmtree(root, ignore_errors=True)


def _versus_checkdmarc(
    root: Path,
    domains: list[str],
    faults: dict[str, str],
    ours_data: dict[str, Any],
    fast: list[tuple[float, float, int]],
    slow: list[tuple[float, float, int]],
    fast_port: int,
    slow_port: int,
    fast_log: Counted,
    slow_log: Counted,
) -> list[Result]:
    results: list[Result] = []
    theirs_fast = [_checkdmarc(domains, FAST_ADDR, fast_port, root, fast_log) for _ in range(REPEAT)]
    sample = domains[:DELAYED_DOMAINS] if DELAYED_DOMAINS else domains
    theirs_slow = [_checkdmarc(sample, SLOW_ADDR, slow_port, root, slow_log) for _ in range(REPEAT)]
    for label, ours, theirs, timed in (
        ("0 ms", fast, theirs_fast, len(domains)),
        (f"{int(DELAY * 1000)} ms per answer", slow, theirs_slow, len(sample)),
    ):
        ours_t = min(w for w, _, _ in ours)
        ours_q = min(q for _, _, q in ours)
        their_t = min(t for t, _, _ in theirs)
        their_q = min(q for _, q, _ in theirs)
        per_domain_theirs = their_t / timed
        per_domain_ours = ours_t / len(domains)
        results.append(
            Result(
                f"check --all vs checkdmarc, {len(domains)} domains, {label}: speedup per domain",
                per_domain_theirs * 1000,
                per_domain_ours * 1000,
                "mailfleet check --all",
                target=10.0 if label == "0 ms" else 30.0,
                higher_is_better=True,
                unit=" ms",
                notes={
                    "runs_each": REPEAT,
                    "checkdmarc_domains_timed": timed,
                    "checkdmarc_s": [round(t, 2) for t, _, _ in theirs],
                    "mailfleet_s": [round(w, 3) for w, _, _ in ours],
                    "checkdmarc_queries_per_domain": round(their_q / timed, 1),
                    "mailfleet_queries_per_domain": round(ours_q / len(domains), 1),
                },
            )
        )
        results.append(
            Result(
                f"check --all vs checkdmarc, {label}: speedup per DNS query",
                their_t / their_q * 1000,
                ours_t / ours_q * 1000,
                "mailfleet check --all",
                higher_is_better=True,
                unit=" ms",
                notes={"checkdmarc_queries": their_q, "mailfleet_queries": ours_q},
            )
        )
    agree, total, kinds, examples = compare(
        _our_verdicts(ours_data), _their_verdicts(theirs_fast[-1][2]), faults
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
    return results


def run() -> list[Result]:
    if not KnotServer.available():
        raise RuntimeError("knotd/kdig not installed (make system-deps)")
    results: list[Result] = []
    for n in SIZES:
        results += _size(n)
    return results


if __name__ == "__main__":
    for r in run():
        print(r.line())
