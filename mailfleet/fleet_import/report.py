"""What ``import --from-mailgun`` did, as data: the ``mailfleet-import/1`` document.

``ImportReport.as_dict()`` is the JSON the CLI prints with ``--format json``::

    {
      "format": "mailfleet-import/1",
      "region": "eu", "stack": "eu", "dry_run": false, "taken_at": "2026-...+00:00",
      "read": {"domains": 62, "routes": 90, "webhooks": 300, "logins": 31, "api_calls": 190, "retries": 0},
      "tenants": [{"slug", "file", "action": "written|updated|unchanged", "platform_domain",
                   "sender_domain", "mailboxes", "dkim": {"selector", "bits"}, "domains",
                   "routes": {address: id}, "credentials": [logins]}],
      "unmatched": [{"kind": "domain|route", "name", "id", "tenant", "reason"}],
      "differences": [{"tenant", "kind", "name", "field", "found", "declared", "effect"}],
      "stale": [slugs],
      "summary": {"tenants", "written", "updated", "unchanged", "unmatched", "differences"}
    }

``action`` is what happened to the file (with ``dry_run``, what would happen: nothing is
written). ``stale`` lists tenant files of the region whose ``adopted.mailgun`` names domains
none of which Mailgun holds now; they are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailfleet.fleet_import.match import Difference, Outcome, Unmatched

FORMAT = "mailfleet-import/1"
WRITTEN, UPDATED, UNCHANGED = "written", "updated", "unchanged"


@dataclass
class TenantResult:
    outcome: Outcome
    action: str  # written | updated | unchanged

    @property
    def path(self) -> Path:
        return self.outcome.path

    def as_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "slug": o.slug,
            "file": str(o.path),
            "action": self.action,
            "platform_domain": o.platform,
            "sender_domain": o.sender,
            "mailboxes": o.mailboxes,
            "dkim": {"selector": o.dkim.selector, "bits": o.dkim.bits} if o.dkim else None,
            "domains": list(o.adoption.domains),
            "routes": dict(o.adoption.routes),
            "credentials": list(o.adoption.credentials),
        }


@dataclass
class ImportReport:
    region: str
    stack: str
    dry_run: bool
    taken_at: str
    read: dict[str, int] = field(default_factory=dict)
    tenants: list[TenantResult] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for t in self.tenants if t.action == action)

    def summary(self) -> dict[str, int]:
        return {
            "tenants": len(self.tenants),
            WRITTEN: self.count(WRITTEN),
            UPDATED: self.count(UPDATED),
            UNCHANGED: self.count(UNCHANGED),
            "unmatched": len(self.unmatched),
            "differences": len(self.differences),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "region": self.region,
            "stack": self.stack,
            "dry_run": self.dry_run,
            "taken_at": self.taken_at,
            "read": dict(self.read),
            "tenants": [t.as_dict() for t in self.tenants],
            "unmatched": [u.as_dict() for u in self.unmatched],
            "differences": [d.as_dict() for d in self.differences],
            "stale": list(self.stale),
            "summary": self.summary(),
        }
