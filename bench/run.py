"""Run every benchmark in bench/ (modules named bench_*.py) and print ratios.

Each module defines ``run() -> list[Result]``. A result compares a measured wall time with
a baseline measured in the same run, because these machines are noisy; figures are reported
as ratios. ``python bench/run.py plan check`` runs only the modules whose name contains one
of the words. Results are also written to bench/results.json.

The modules: ``bench_check``, ``bench_cli``, ``bench_components``, ``bench_diff``,
``bench_import`` (``import --from-mailgun`` of 1,000 domains against the fake Mailgun: API calls
per domain, wall time against the rate-limit bound), ``bench_migrate`` and ``bench_plan``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402


def main(argv: list[str]) -> int:
    words = argv[1:]
    results: list[Result] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if words and not any(w in path.stem for w in words):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {path.stem}", flush=True)
        for r in module.run():
            print(r.line(), flush=True)
            results.append(r)
    (HERE / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} within target, {len(failed)} over target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
