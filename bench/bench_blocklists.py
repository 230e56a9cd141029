"""`mailfleet blocklists --all` against a bare dnspython asyncio loop asking the same questions.

1,000 generated tenants (about 1,670 sending domains; the way-3 tenants get an SMTP egress IP
of their own; every EU tenant shares its stack's two egress IPs, every US tenant the other
two), the ten default lists served by a local Knot under their real zone names (loopback
only), one target in fifty listed. Run at 0 ms and through bench/dns_delay_forwarder.py
adding 20 ms to every answer.

Measured: the whole `mailfleet blocklists --all` process (start-up, loading 1,000 tenant
files, the DNS) against the whole bare process (start-up, dnspython, the DNS) that asks
exactly the questions mailfleet asked (the `query` names of its JSON output, read back), at
the same concurrency (100) in the same run, rounds interleaved. Target: at most 1.5x.
Also reported: the queries asked against targets x lists, proving a shared IP (the stack's
egress IPs, on every tenant of the region) is asked once per list, not once per tenant.
Run: ``venv/bin/python bench/run.py blocklists``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from common import Result, interleaved, median  # noqa: E402
from gen import generate  # noqa: E402

from mailfleet.blocklists.lists import load_lists  # noqa: E402
from tests.check.knot import KnotServer, free_port  # noqa: E402

TENANTS = int(os.environ.get("BENCH_BLOCKLISTS_TENANTS", "1000"))
CONCURRENCY = 100
KNOT_ADDR = "127.0.0.1"
ROUNDS = int(os.environ.get("BENCH_BLOCKLISTS_ROUNDS", "3"))

BARE_LOOP = """
import asyncio, sys
import dns.asyncquery, dns.message, dns.rdatatype
host, port, src, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
names = [line for line in open(src).read().splitlines() if line]
async def main():
    sem = asyncio.Semaphore(concurrency)
    async def one(name):
        async with sem:
            query = dns.message.make_query(name, dns.rdatatype.A)
            for _ in range(3):
                try:
                    return await dns.asyncquery.udp(query, host, timeout=2.0, port=port)
                except Exception:
                    continue
    await asyncio.gather(*(one(n) for n in names))
asyncio.run(main())
"""


def _project(root: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    paths = generate(root / "tenants", TENANTS)
    for i, path in enumerate(paths):
        text = path.read_text()
        if "  smtp:\n" in text:
            text = text.replace(
                "    port: 587\n", f"    port: 587\n    egress_ips: [10.{i // 250}.{i % 250}.25]\n"
            )
            path.write_text(text)


def _zones(root: Path) -> dict[str, list[str]]:
    """The list zones, one target in fifty listed (targets from a first, unlisted run)."""
    lists = load_lists()
    zones: dict[str, list[str]] = {b.zone: [] for b in lists}
    first = _blocklists(root, None, {b.zone: [] for b in lists})
    for n, target in enumerate(first["targets"]):
        if n % 50:
            continue
        for result in target["lists"][:1]:
            answer = "127.0.0.2" if result["zone"] != "dbl.spamhaus.org" else "127.0.1.2"
            if result["zone"] in ("multi.surbl.org", "multi.uribl.com"):
                answer = "127.0.0.64" if result["zone"] == "multi.surbl.org" else "127.0.0.2"
            zones[result["zone"]].append(f"{result['query']}. 300 A {answer}")
    return zones


def _cmd(root: Path, ns: str) -> list[str]:
    return [
        sys.executable, "-m", "mailfleet", "--stacks-dir", str(root), "blocklists", "--all",
        "--nameserver", ns, "--concurrency", str(CONCURRENCY), "--format", "json",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILGUN_API_KEY", None)
    return env


def _blocklists(root: Path, ns: str | None, zones: dict[str, list[str]]) -> dict:  # type: ignore[type-arg]
    """One run against a Knot of ``zones`` (started here when ``ns`` is None)."""
    if ns is None:
        knot = KnotServer(root / "knot0", zones, KNOT_ADDR, free_port(KNOT_ADDR)).start(wait=120)
        try:
            return _blocklists(root, knot.nameserver, zones)
        finally:
            knot.stop()
    proc = subprocess.run(_cmd(root, ns), capture_output=True, text=True, env=_env())
    if proc.returncode not in (0, 1, 3):
        raise RuntimeError(f"blocklists failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _forwarder(upstream: int, delay: float) -> tuple[subprocess.Popen[str], str]:
    port = free_port(KNOT_ADDR)
    proc = subprocess.Popen(
        [
            sys.executable, str(HERE / "dns_delay_forwarder.py"), "--listen", f"{KNOT_ADDR}:{port}",
            "--upstream", f"{KNOT_ADDR}:{upstream}", "--delay", str(delay),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening"):
        proc.kill()
        raise RuntimeError(f"forwarder did not start: {line!r}")
    return proc, f"{KNOT_ADDR}:{port}"


def run() -> list[Result]:
    if not KnotServer.available():
        raise RuntimeError("knotd/kdig not installed (make system-deps)")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-blocklists-") as tmp:
        root = Path(tmp)
        _project(root)
        zones = _zones(root)
        knot = KnotServer(root / "knot", zones, KNOT_ADDR, free_port(KNOT_ADDR)).start(wait=120)
        try:
            for delay in (0.0, 0.02):
                forwarder = None
                ns = knot.nameserver
                if delay:
                    forwarder, ns = _forwarder(knot.port, delay)
                try:
                    data = _blocklists(root, ns, zones)
                    names = [r["query"] for t in data["targets"] for r in t["lists"]]
                    src = root / "names.txt"
                    src.write_text("\n".join(names) + "\n")
                    host, port = ns.rsplit(":", 1)
                    walls, cpus = interleaved(
                        {
                            "mailfleet": (_cmd(root, ns), {"env": _env(), "ok": (0, 1, 3)}),
                            "bare": (
                                [sys.executable, "-c", BARE_LOOP, host, port, str(src), str(CONCURRENCY)],
                                {},
                            ),
                        },
                        repeat=ROUNDS,
                    )
                finally:
                    if forwarder is not None:
                        forwarder.terminate()
                        forwarder.wait()
                summary = data["summary"]
                lists = {b["zone"]: b["kind"] for b in data["lists"]}
                per_target = summary["ips"] * sum(1 for k in lists.values() if k == "ip") + summary[
                    "domains"
                ] * sum(1 for k in lists.values() if k == "domain")
                owners_of_shared = max(len(t["owners"]) for t in data["targets"])
                results.append(
                    Result(
                        f"blocklists --all, {TENANTS} tenants, 10 lists, {int(delay * 1000)} ms per answer",
                        median(walls["mailfleet"]),
                        median(walls["bare"]),
                        "bare dnspython asyncio loop, same questions, same concurrency",
                        target=1.5,
                        notes={
                            "queries": summary["dns_queries"],
                            "targets_x_lists": per_target,
                            "ips": summary["ips"],
                            "domains": summary["domains"],
                            "listed": summary["listed"],
                            "most_owners_of_one_ip": owners_of_shared,
                            "mailfleet_walls": [round(w, 3) for w in walls["mailfleet"]],
                            "bare_walls": [round(w, 3) for w in walls["bare"]],
                            "mailfleet_cpu": round(median(cpus["mailfleet"]), 3),
                            "bare_cpu": round(median(cpus["bare"]), 3),
                        },
                    )
                )
        finally:
            knot.stop()
    return results


if __name__ == "__main__":
    for r in run():
        print(r.line())
