"""What a check run finds: findings, per-record results, per-tenant results, the run.

Statuses (``RecordResult.status``):
- ``ok``: present and as the model says (lint warnings may remain);
- ``missing``: the name or the record type does not exist (NXDOMAIN / no data);
- ``wrong``: present but different from the model, or a lint error (``expected`` and
  ``found`` are shown, TXT strings joined);
- ``timeout`` / ``error``: no verdict (no answer, SERVFAIL, REFUSED, a Mailgun API failure).
  Never reported as missing.

Exit codes (``RunResult.exit_code``): 0 all ok; 1 anything missing or wrong; 3 only
timeouts or errors prevented a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailfleet.dns.resolver import Lookup

OK = "ok"
MISSING = "missing"
WRONG = "wrong"
TIMEOUT = "timeout"
ERROR = "error"
STATUSES = (OK, MISSING, WRONG, TIMEOUT, ERROR)
FAILING = (MISSING, WRONG)
UNDECIDED = (TIMEOUT, ERROR)

# Finding severities: ``error`` makes an ok record ``wrong``; ``timeout``/``undecided`` make
# it ``timeout``/``error``; ``warning`` never changes the status.
SEV_ERROR = "error"
SEV_WARNING = "warning"
SEV_TIMEOUT = "timeout"
SEV_UNDECIDED = "undecided"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNDECIDED = 3


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str
    code: str
    message: str
    rfc: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "rfc": self.rfc}


@dataclass
class RecordResult:
    """One record the model says must exist (or Mailgun's view of one domain)."""

    tenant: str
    purpose: str
    zone: str
    name: str
    type: str
    status: str
    expected: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    message: str = ""
    hint: str = ""
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Who fixes a missing/wrong record: "pulumi up -s STACK" (records Pulumi publishes) or
    # "the customer (DOMAIN's DNS)" (a manual-DNS customer's zone); set by the runner.
    fix_by: str = ""
    ttl: int = 0  # the model's TTL, for the bind snippet of failing records
    nxdomain: bool = False  # missing because the name does not exist at all
    # Values found that must go (e.g. the SPF record that is not ours when there are two).
    delete: list[str] = field(default_factory=list)

    def undecided_by(self, lookup: Lookup) -> bool:
        """Mark the record timeout/error when ``lookup`` gave no answer; never "missing"."""
        if not lookup.failed:
            return False
        self.status = TIMEOUT if lookup.status == "timeout" else ERROR
        self.message = lookup.describe()
        return True

    def wrong(self, code: str, message: str, rfc: str) -> None:
        """Mark the record wrong with ``message`` and the error finding that says why."""
        self.status = WRONG
        self.message = message
        self.findings.append(Finding(SEV_ERROR, code, message, rfc))

    def apply_findings(self) -> None:
        """Fold lint findings into the status (see the module docstring)."""
        if self.status != OK:
            return
        severities = {f.severity for f in self.findings}
        first = None
        if SEV_ERROR in severities:
            self.status = WRONG
            first = next(f for f in self.findings if f.severity == SEV_ERROR)
        elif SEV_TIMEOUT in severities:
            self.status = TIMEOUT
            first = next(f for f in self.findings if f.severity == SEV_TIMEOUT)
        elif SEV_UNDECIDED in severities:
            self.status = ERROR
            first = next(f for f in self.findings if f.severity == SEV_UNDECIDED)
        if first is not None and not self.message:
            self.message = first.message

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == SEV_WARNING]

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "zone": self.zone,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "expected": list(self.expected),
            "found": list(self.found),
            "message": self.message,
            "hint": self.hint,
            "findings": [f.as_dict() for f in self.findings],
            "details": dict(self.details),
            "fix_by": self.fix_by,
            "delete": list(self.delete),
        }


def worst(statuses: list[str]) -> str:
    """The tenant-level status: missing/wrong beat timeout/error beat ok."""
    for status in (WRONG, MISSING, TIMEOUT, ERROR):
        if status in statuses:
            return status
    return OK


@dataclass
class TenantResult:
    slug: str
    stack: str
    region: str
    records: list[RecordResult] = field(default_factory=list)
    mailgun: list[RecordResult] = field(default_factory=list)

    def __repr__(self) -> str:  # short: asyncio may repr a run's result
        return f"TenantResult({self.slug!r}, {self.status!r}, {len(self.all_results)} results)"

    @property
    def all_results(self) -> list[RecordResult]:
        return [*self.records, *self.mailgun]

    @property
    def status(self) -> str:
        return worst([r.status for r in self.all_results])

    @property
    def hint(self) -> str:
        """A tenant-level hint: every record NXDOMAIN means nothing was published yet."""
        if self.records and all(r.status == MISSING and r.nxdomain for r in self.records):
            return (
                f"every record of {self.slug} is NXDOMAIN: has `pulumi up -s {self.stack}` run "
                "since the tenant was added?"
            )
        return ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slug": self.slug,
            "stack": self.stack,
            "region": self.region,
            "status": self.status,
            "hint": self.hint,
            "records": [r.as_dict() for r in self.records],
        }
        out["mailgun"] = [r.as_dict() for r in self.mailgun]
        return out


@dataclass
class RunResult:
    tenants: list[TenantResult] = field(default_factory=list)
    nameserver: str = ""
    queries: int = 0
    mailgun_checked: bool = False

    def __repr__(self) -> str:  # short: asyncio.run reprs its main task's result
        return f"RunResult({len(self.tenants)} tenants, exit_code={self.exit_code})"

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for t in self.tenants:
            for r in t.all_results:
                counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        counts = self.counts()
        if any(counts[s] for s in FAILING):
            return EXIT_FAILED
        if any(counts[s] for s in UNDECIDED):
            return EXIT_UNDECIDED
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        counts = self.counts()
        warnings = sum(len(r.warnings) for t in self.tenants for r in t.all_results)
        return {
            "format": "mailfleet-check/1",
            "summary": {
                "tenants": len(self.tenants),
                "records": sum(len(t.all_results) for t in self.tenants),
                **counts,
                "warnings": warnings,
                "exit_code": self.exit_code,
                "nameserver": self.nameserver,
                "dns_queries": self.queries,
                "mailgun_checked": self.mailgun_checked,
            },
            "tenants": [t.as_dict() for t in self.tenants],
        }
