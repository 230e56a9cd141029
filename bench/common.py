"""Shared benchmark helpers: timing and the Result record."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    measured: float  # seconds, or a count when unit says so
    baseline: float
    baseline_name: str
    target: float | None = None  # the ratio measured/baseline must be <= target (>= when higher_is_better)
    higher_is_better: bool = False
    unit: str = "s"
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("inf")

    @property
    def ok(self) -> bool:
        if self.target is None:
            return True
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def line(self) -> str:
        cmp = ">=" if self.higher_is_better else "<="
        target = f" (target {cmp} {self.target:g}x)" if self.target is not None else ""
        status = "ok" if self.ok else "OVER TARGET"
        extra = "".join(f" {k}={v}" for k, v in self.notes.items())
        return (
            f"{self.name}: {self.measured:.3f}{self.unit} vs {self.baseline_name} {self.baseline:.3f}{self.unit}"
            f" = {self.ratio:.2f}x{target} {status}{extra}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "measured": self.measured,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "target": self.target,
            "higher_is_better": self.higher_is_better,
            "ok": self.ok,
            "unit": self.unit,
            "notes": self.notes,
        }


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock runs of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_command(cmd: list[str], repeat: int = 3, **kwargs: object) -> float:
    """The fastest of ``repeat`` runs of a subprocess (seconds); fails loudly if it fails."""

    def once() -> None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]

    return best_of(once, repeat)


def median(values: list[float]) -> float:
    return statistics.median(values)


# The strict floor of every command that reads the tenant and stack files: a process that
# imports nothing of mailfleet and parses the same files with PyYAML's libyaml-based
# ``CSafeLoader`` (PyYAML's own C fast path, no duplicate-key check, no nesting check, no
# validation). Run as ``python -c STRICT_FLOOR ROOT`` with the same interpreter as the command.
STRICT_FLOOR = """
import sys
from pathlib import Path
import yaml
root = Path(sys.argv[1])
for path in sorted((root / "tenants").glob("*.yaml")) + sorted(root.glob("Pulumi.*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
assert "mailfleet" not in sys.modules
"""


def timed_run(cmd: list[str], ok: tuple[int, ...] = (0,), **kwargs: object) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (user + system) of one subprocess run; fails loudly
    if it exits with a code not in ``ok``. The CPU time is the child's own
    (``RUSAGE_CHILDREN`` before and after)."""
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, **kwargs)  # type: ignore[call-overload]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(
    cmds: dict[str, tuple[list[str], dict[str, object]]], repeat: int = 3
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run each command once per round, ``repeat`` rounds, so a noisy moment hits all alike.

    ``cmds`` maps a label to (argv, subprocess keyword arguments); returns label -> wall times
    and label -> CPU times, one per round.
    """
    walls: dict[str, list[float]] = {label: [] for label in cmds}
    cpus: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(repeat):
        for label, (cmd, kwargs) in cmds.items():
            wall, cpu = timed_run(cmd, **kwargs)
            walls[label].append(wall)
            cpus[label].append(cpu)
    return walls, cpus


def rounds(measured: list[float], baseline: list[float]) -> list[float]:
    """Each round's own ratio."""
    return [round(m / b, 2) for m, b in zip(measured, baseline, strict=True)]


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
