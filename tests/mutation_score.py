"""Per-module mutation scores from a finished `mutmut run` (`make mutate`; docs/testing.md).

Reads ``mutants/**/*.py.meta`` (mutmut 3's results: an exit code per mutant) and prints, per
module group of issue 16 (mailfleet/check, mailfleet/records, mailfleet/desired,
mailfleet/diff/compare.py, mailfleet/diff/preview.py, mailfleet/model/migration.py), the
mutants killed (a test failed, or it timed out) out of all mutants, and the survivors (a
surviving mutant, or one no test reaches) with ``--survivors``. Exit 1 when a group is under
``--target`` percent (default 90).

    venv/bin/python tests/mutation_score.py [--target 90] [--survivors] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

GROUPS = {
    "mailfleet/check": "mailfleet.check.",
    "mailfleet/records": "mailfleet.records.",
    "mailfleet/desired": "mailfleet.desired.",
    "mailfleet/diff/compare.py": "mailfleet.diff.compare.",
    "mailfleet/diff/preview.py": "mailfleet.diff.preview.",
    "mailfleet/model/migration.py": "mailfleet.model.migration.",
}
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}  # a failing test, a timeout, a type-check catch
SURVIVED = {0}
NO_TESTS = {5, 33}


def load(root: Path) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        out.update(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def scores(codes: dict[str, int | None]) -> dict[str, dict]:
    result = {}
    for group, prefix in GROUPS.items():
        mine = {k: v for k, v in codes.items() if k.startswith(prefix)}
        killed = sorted(k for k, v in mine.items() if v in KILLED)
        survived = sorted(k for k, v in mine.items() if v in SURVIVED)
        untested = sorted(k for k, v in mine.items() if v in NO_TESTS)
        unchecked = sorted(k for k, v in mine.items() if v is None)
        judged = len(mine) - len(unchecked)
        result[group] = {
            "mutants": len(mine),
            "killed": len(killed),
            "survived": survived,
            "no_tests": untested,
            "not_checked": len(unchecked),
            "score": round(100 * len(killed) / judged, 1) if judged else 0.0,
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--target", type=float, default=90.0)
    parser.add_argument("--survivors", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.root.is_dir():
        print(f"{args.root}: no mutmut results; run `make mutate` first", file=sys.stderr)
        return 2
    result = scores(load(args.root))
    print("| module | mutants | killed | survived | no test reaches it | not run | score |")
    print("|---|---|---|---|---|---|---|")
    for group, s in result.items():
        print(
            f"| {group} | {s['mutants']} | {s['killed']} | {len(s['survived'])} | {len(s['no_tests'])} "
            f"| {s['not_checked']} | {s['score']}% |"
        )
    if args.survivors:
        for group, s in result.items():
            for name in s["survived"] + s["no_tests"]:
                print(f"{group}: {name}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if all(s["score"] >= args.target for s in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
