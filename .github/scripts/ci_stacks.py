"""Which stacks a CI run previews or deploys, in what order, and which need the destructive gate.

Used by .github/workflows/preview.yml and deploy.yml (run with the repository's venv python):

    ci_stacks.py preview --diff DIFF.json [--affected AFFECTED.json | --changed FILES.txt] [--all] [--destructive]
    ci_stacks.py deploy  --diff DIFF.json [--affected AFFECTED.json | --changed FILES.txt] [--all] [--destructive]

DIFF.json is ``mailfleet diff --format json`` (``mailfleet-diff/1``) between the base and the
head (which stacks are destructive, which domains move); AFFECTED.json is
``mailfleet diff --affected-stacks --format json`` (``mailfleet-affected-stacks/1``: which stacks
the change touches and each one's ``pulumi up --parallel``); without it, FILES.txt
(``git diff --name-only BASE HEAD``) and the diff decide. Prints
``name=value`` lines for ``$GITHUB_OUTPUT``:

- ``preview``: ``matrix`` (``{"include": [{"stack", "region", "destructive", "parallel"}]}``)
  and ``count``;
- ``deploy``: ``first`` and ``second`` (two matrices of the same shape) and ``first_count``,
  ``second_count``, and ``max_parallel`` (stacks of a phase at once) with ``--affected``. A stack that deletes a Mailgun domain another stack creates under the same
  name (a tenant moving region, in either direction) runs in ``first``; the stack that creates
  it in ``second``, after it: domain names are global, so the create fails while the old domain
  exists. Stacks without such a dependency run in ``first``, in parallel.

A stack is affected when the desired-state diff has rows for it, or when a changed file can
change what every stack's ``pulumi up`` does (the Pulumi program, ``components/``,
``mailfleet/``, the requirements...): then every stack is. Documentation, tests and benchmarks
affect none. Moves in both directions in one push have no whole-stack order: that is refused
with one line (exit 1), telling to land them separately or with ``mailfleet migrate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT = "mailfleet-diff/1"
AFFECTED_FORMAT = "mailfleet-affected-stacks/1"

# Changed paths that never change what a stack's `pulumi up` does. Tenant and stack files are
# judged by the desired-state diff itself, per stack.
NO_EFFECT_PREFIXES = ("docs/", "tests/", "bench/", ".github/", "tenants/")
NO_EFFECT_SUFFIXES = (".md",)


class Refused(Exception):
    """A problem with the input or the order; its message is one line."""


def load_diff(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Refused(f"{path}: not a mailfleet diff JSON document: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("stacks"), list):
        raise Refused(f"{path}: format: expected {FORMAT!r} (mailfleet diff --format json)")
    return doc


def load_affected(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Refused(f"{path}: not a JSON document: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != AFFECTED_FORMAT
        or not isinstance(doc.get("stacks"), list)
    ):
        raise Refused(f"{path}: format: expected {AFFECTED_FORMAT!r} (mailfleet diff --affected-stacks)")
    return doc


def code_changed(paths: Iterable[str]) -> list[str]:
    """The changed paths that can change every stack's `pulumi up`."""
    out = []
    for p in paths:
        p = p.strip()
        if not p or p.startswith(NO_EFFECT_PREFIXES) or p.endswith(NO_EFFECT_SUFFIXES):
            continue
        if p.startswith("Pulumi.") and p != "Pulumi.yaml" and "/" not in p:
            continue  # a stack file: the diff has its rows
        out.append(p)
    return out


def entries(
    doc: dict[str, Any],
    changed: list[str],
    every: bool = False,
    destructive: bool = False,
    affected: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One entry per affected stack: ``affected`` (``mailfleet diff --affected-stacks``) says
    which, with each stack's ``--parallel``; without it, the diff's stacks with rows, or every
    stack when a changed path can change every ``pulumi up``. ``every``: all stacks of the diff;
    ``destructive``: all marked destructive, for the approval environment."""
    summaries = {s["stack"]: s for s in doc["stacks"]}
    parallel = {a["stack"]: a.get("parallel") for a in (affected or {}).get("stacks", [])}
    if every:
        names = list(summaries)
    elif affected is not None:
        names = [a["stack"] for a in affected["stacks"]]
    else:
        everything = bool(code_changed(changed))
        names = [s["stack"] for s in doc["stacks"] if everything or s["rows"]]
    out = []
    for name in names:
        s = summaries.get(name)
        region = s["region"] if s else next(a["region"] for a in affected["stacks"] if a["stack"] == name)  # type: ignore[index]
        entry: dict[str, Any] = {
            "stack": name,
            "region": region,
            "destructive": destructive or bool(s and s["summary"].get("destructive", 0)),
        }
        if parallel.get(name):
            entry["parallel"] = parallel[name]
        out.append(entry)
    return out


def domain_handovers(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(from stack, to stack, domain) for every Mailgun domain one stack deletes and another
    creates (or imports) under the same name."""
    deleted: dict[str, str] = {}
    created: dict[str, list[str]] = {}
    for s in doc["stacks"]:
        for r in s["rows"]:
            if r.get("kind") != "mailgun domain":
                continue
            if r["op"] == "delete":
                deleted[r["name"]] = s["stack"]
            elif r["op"] in ("create", "import"):
                created.setdefault(r["name"], []).append(s["stack"])
    out = []
    for name, src in sorted(deleted.items()):
        for dst in created.get(name, []):
            if dst != src:
                out.append((src, dst, name))
    return out


def phases(
    doc: dict[str, Any],
    changed: list[str],
    every: bool = False,
    destructive: bool = False,
    affected: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stacks = entries(doc, changed, every, destructive, affected)
    handovers = domain_handovers(doc)
    after = {dst for _src, dst, _name in handovers}
    before = {src for src, _dst, _name in handovers}
    both = sorted(after & before)
    if both:
        moves = "; ".join(f"{name} {src} -> {dst}" for src, dst, name in handovers)
        raise Refused(
            f"Mailgun domains move between stacks in both directions ({moves}): stack(s) "
            f"{', '.join(both)} would have to run both before and after another; land the moves "
            "in separate pushes, or move the tenants with `mailfleet migrate`"
        )
    first = [e for e in stacks if e["stack"] not in after]
    second = [e for e in stacks if e["stack"] in after]
    return first, second


def matrix(items: list[dict[str, Any]]) -> str:
    return json.dumps({"include": items}, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ci_stacks.py", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["preview", "deploy"])
    parser.add_argument("--diff", type=Path, required=True, help="mailfleet diff --format json output")
    parser.add_argument("--changed", type=Path, help="git diff --name-only output, one path a line")
    parser.add_argument(
        "--affected", type=Path, help="mailfleet diff --affected-stacks --format json output (which stacks)"
    )
    parser.add_argument("--all", action="store_true", help="every stack of the diff, changed or not")
    parser.add_argument(
        "--destructive", action="store_true", help="mark every stack destructive (approval environment)"
    )
    args = parser.parse_args(argv)
    try:
        doc = load_diff(args.diff)
        changed = args.changed.read_text().splitlines() if args.changed else []
        affected = load_affected(args.affected) if args.affected else None
        if args.mode == "preview":
            items = entries(doc, changed, args.all, args.destructive, affected)
            print(f"matrix={matrix(items)}")
            print(f"count={len(items)}")
        else:
            first, second = phases(doc, changed, args.all, args.destructive, affected)
            if affected is not None:
                print(f"max_parallel={affected.get('max_parallel') or len(first) or 1}")
            print(f"first={matrix(first)}")
            print(f"first_count={len(first)}")
            print(f"second={matrix(second)}")
            print(f"second_count={len(second)}")
    except Refused as exc:
        print(f"ci_stacks.py: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ci_stacks.py: --changed: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
