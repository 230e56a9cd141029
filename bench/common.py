"""Shared benchmark helpers: timing and the Result record."""

from __future__ import annotations

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
