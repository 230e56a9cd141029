"""The outputs of ``mailfleet reputation``: table, JSON, Prometheus text exposition format.

The Prometheus output is the text format node-exporter's textfile collector reads
(``--collector.textfile.directory``, files named ``*.prom``): ``# HELP`` and ``# TYPE`` lines,
then ``name{label="value",...} number`` samples; label values escape backslash, double quote
and newline. Counts over the window are gauges (they go down as the window moves), never
``_total`` counters. Write the file atomically (``> x.prom.tmp && mv x.prom.tmp x.prom``) so
the collector never reads half of it.
"""

from __future__ import annotations

import json
from typing import TextIO

from mailfleet.reputation.run import COUNTS, SEVERITY, DomainReputation, ReputationResult


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


class Table:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, result: ReputationResult) -> None:
        header = (
            "tenant",
            "domain",
            "status",
            "delivered",
            "bounced",
            "bounce",
            "complaints",
            "complaint",
            "why",
        )
        rows = []
        for t in result.tenants:
            for d in t.domains:
                rows.append(
                    (
                        t.slug,
                        d.domain,
                        d.status,
                        str(d.counts.get("delivered", 0)),
                        str(d.counts.get("bounced", 0)),
                        _pct(d.bounce_rate),
                        str(d.counts.get("complained", 0)),
                        _pct(d.complaint_rate),
                        "; ".join(d.reasons),
                    )
                )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
            self.stream.write("  ".join(cells).rstrip() + "\n")
        summary = result.to_dict()["summary"]
        counts = ", ".join(f"{summary[s.replace('-', '_')]} {s}" for s in SEVERITY)
        self.stream.write(
            f"{summary['domains']} domains of {summary['tenants']} tenants over {result.since}: {counts}; "
            f"{result.api_calls} API calls\n"
        )


class Json:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, result: ReputationResult) -> None:
        self.stream.write(json.dumps(result.to_dict(), indent=2) + "\n")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


PREFIX = "mailfleet_reputation"
COUNT_HELP = {
    "accepted": "Outgoing messages Mailgun accepted in the window (accepted_outgoing_count).",
    "delivered": "Messages delivered in the window (delivered_count).",
    "processed": "Messages processed after acceptance in the window (processed_count).",
    "permanent_failed": "Permanent failures in the window, suppressions included (permanent_failed_count).",
    "temporary_failed": "Temporary failures in the window (temporary_failed_count).",
    "bounced": "Bounces in the window: permanent failures minus suppressions (bounced_count).",
    "complained": "Spam complaints in the window (complained_count).",
    "unsubscribed": "Unsubscribes in the window (unsubscribed_count).",
}


class Prometheus:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, result: ReputationResult) -> None:
        lines: list[str] = []
        domains = result.domains

        def family(name: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {PREFIX}_{name} {help_}")
            lines.append(f"# TYPE {PREFIX}_{name} gauge")
            lines.extend(f"{PREFIX}_{name}{_labels(lb)} {_number(v)}" for lb, v in samples)

        def labels(d: DomainReputation) -> dict[str, str]:
            return {"tenant": d.tenant, "domain": d.domain, "region": d.region, "stack": d.stack}

        for key in COUNTS.values():
            family(
                key,
                COUNT_HELP[key],
                [(labels(d), d.counts.get(key, 0)) for d in domains if d.status != "error"],
            )
        family(
            "bounce_ratio",
            "bounced_count / processed_count over the window (Mailgun's bounce rate), as a ratio.",
            [
                (labels(d), d.bounce_rate)
                for d in domains
                if d.bounce_rate is not None and d.status != "error"
            ],
        )
        family(
            "complaint_ratio",
            "complained_count / delivered_count over the window (Mailgun's complaint rate), as a ratio.",
            [
                (labels(d), d.complaint_rate)
                for d in domains
                if d.complaint_rate is not None and d.status != "error"
            ],
        )
        family(
            "status",
            "1 for the domain's verdict (ok, warn, fail, low-volume: not enough mail, error: no data), 0 for the others.",
            [({**labels(d), "status": s}, 1 if d.status == s else 0) for d in domains for s in SEVERITY],
        )
        thresholds = []
        for stack, t in sorted(result.thresholds.items()):
            for kind, level, value in (
                ("bounce", "warn", t.bounce_warn),
                ("bounce", "fail", t.bounce_fail),
                ("complaint", "warn", t.complaint_warn),
                ("complaint", "fail", t.complaint_fail),
            ):
                thresholds.append(({"stack": stack, "kind": kind, "level": level}, value / 100))
        family("threshold_ratio", "The stack's reputation thresholds, as ratios.", thresholds)
        family(
            "min_delivered",
            "Deliveries a domain needs in the window before its rates are judged.",
            [({"stack": s}, t.min_delivered) for s, t in sorted(result.thresholds.items())],
        )
        family("window_seconds", "Length of the window the counts cover.", [({}, result.window_seconds)])
        family(
            "end_timestamp_seconds",
            "End of the window the counts cover (Unix time).",
            [({}, result.end.timestamp())],
        )
        self.stream.write("\n".join(lines) + "\n")


OUTPUTS = {"table": Table, "json": Json, "prometheus": Prometheus}
