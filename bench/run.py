"""Run the benchmarks in bench/ (modules named ``bench_<name>.py``) and print ratios.

Each module defines ``run() -> list[Result]``. A result compares a measured figure with a
baseline measured in the same run, because these machines are noisy; figures are reported as
ratios. A module is registered by existing: drop ``bench/bench_<name>.py`` with a ``run()`` and
``python bench/run.py <name>`` runs it.

    python bench/run.py                 # every benchmark
    python bench/run.py plan cli        # only bench_plan and bench_cli
    python bench/run.py --list          # the benchmark names
    python bench/run.py --help

A name that is not a benchmark is a usage error (exit 2, nothing runs). Results are merged
into ``bench/results.json`` (``--results FILE``) by row name: a run replaces the rows it
measured and keeps every other row, so running one benchmark never loses the others' figures,
and a run that measured nothing writes nothing. The file is replaced atomically. Each row
records when it was measured and the load average before and after its module ran (the build
machines' 2 cores are shared). Exit 0 when every row is within target, 1 when a row is over
target or a module failed (the rows of the modules that finished are still saved), 2 for
usage errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402

from mailfleet.fsutil import atomic_write  # noqa: E402

FORMAT = "mailfleet-bench-results/1"


def benchmarks(directory: Path = HERE) -> dict[str, Path]:
    """Benchmark name (``plan`` for ``bench_plan.py``) -> module path, in name order."""
    return {p.stem[len("bench_") :]: p for p in sorted(directory.glob("bench_*.py"))}


def parser(known: list[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Run mailfleet's benchmarks and merge their rows into the results file.",
        epilog=f"benchmarks: {', '.join(known)}",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="benchmarks to run (default: all); 'plan' or 'bench_plan' runs bench/bench_plan.py",
    )
    p.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    p.add_argument(
        "--results",
        type=Path,
        default=HERE / "results.json",
        metavar="FILE",
        help="the results file rows are merged into (default: bench/results.json)",
    )
    p.add_argument("--no-save", action="store_true", help="print the rows, write no results file")
    return p


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an existing results file; [] when there is none or it is unreadable."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    rows = doc.get("rows") if isinstance(doc, dict) else doc  # a bare list: the older format
    return [r for r in rows if isinstance(r, dict) and "name" in r] if isinstance(rows, list) else []


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` with every row named in ``new`` replaced by it (new names appended, in order)."""
    fresh = {r["name"]: r for r in new}
    out = [fresh.pop(r["name"]) if r["name"] in fresh else r for r in old]
    out.extend(r for r in new if r["name"] in fresh)
    return out


def save(path: Path, rows: list[dict[str, Any]]) -> None:
    doc = {"format": FORMAT, "rows": merge(load_rows(path), rows)}
    atomic_write(path, (json.dumps(doc, indent=2) + "\n").encode())


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def main(argv: list[str] | None = None, directory: Path = HERE) -> int:
    found = benchmarks(directory)
    args = parser(list(found)).parse_args(argv)
    if args.list:
        print("\n".join(found))
        return 0
    names = [n[len("bench_") :] if n.startswith("bench_") else n for n in args.names]
    unknown = [n for n in names if n not in found]
    if unknown:
        print(
            f"bench/run.py: unknown benchmark {', '.join(map(repr, unknown))} (known: {', '.join(found)})",
            file=sys.stderr,
        )
        return 2
    chosen = [n for n in found if not names or n in names]
    rows: list[dict[str, Any]] = []
    results: list[Result] = []
    broken: list[str] = []
    for name in chosen:
        print(f"== bench_{name}", flush=True)
        before = _loadavg()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            produced = list(_load(found[name]).run())
        except Exception:
            traceback.print_exc()
            broken.append(name)
            continue
        after = _loadavg()
        for r in produced:
            print(r.line(), flush=True)
            results.append(r)
            rows.append({**r.as_dict(), "bench": name, "measured_at": started, "load": [before, after]})
    if rows and not args.no_save:
        save(args.results, rows)
        print(f"\n{len(rows)} row(s) merged into {args.results}")
    elif not rows:
        print(f"\nno rows measured; {args.results} left as it was")
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} within target, {len(failed)} over target", end="")
    print(f", failed: {', '.join(broken)}" if broken else "")
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
