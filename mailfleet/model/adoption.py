"""The ``adopted:`` block of a tenant file: what existed before mailfleet, and is given back.

Real infrastructure is never empty. A customer's zone already holds an SPF record (Google
Workspace, Microsoft 365, a newsletter tool), often a DMARC record, and site verifications at
the apex; the Mailgun fleet already holds the tenant's domains, routes and webhooks. mailfleet
owns only what it created or adopted, and gives back what it adopted. This block is the
record of what it adopted, written by ``mailfleet tenant adopt`` / ``tenant add --adopt``
(``dns``) and ``mailfleet import --from-mailgun`` (``mailgun``), never by hand, so that
``plan`` and ``diff`` stay offline and deterministic.

- ``dns.records``: each RRset that existed at a name and type mailfleet declares, with its
  values as they were (TXT joined) and, for Cloudflare, the id of the record holding each
  value (Cloudflare keeps one record per value). The desired state imports the RRset into
  Pulumi instead of creating it, merges mailfleet's part into the customer's SPF and DMARC,
  keeps every other value at the name, and never deletes it (``retain_on_delete``).
- ``mailgun``: the Mailgun domains, route ids and SMTP logins found in the account region.
- ``release``: set by ``tenant remove`` on an adopted tenant. The stack then declares only
  what was adopted, with its original values (the restore ``pulumi up``); removing the file
  afterwards lets Pulumi forget the records without deleting them (the release ``up``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mailfleet.model import names
from mailfleet.model.region import Region

AdoptedType = Literal["TXT", "CNAME", "MX"]
SPF_PREFIX = "v=spf1"
DMARC_PREFIX = "v=DMARC1"


def _iso(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time (like 2026-11-29T20:00:00Z)") from None
    return value


def is_spf(value: str) -> bool:
    """RFC 7208 §4.5: a record is SPF when it is exactly ``v=spf1`` or starts ``v=spf1 ``."""
    return value.lower() == SPF_PREFIX or value.lower().startswith(SPF_PREFIX + " ")


def is_dmarc(value: str) -> bool:
    """RFC 7489 §6.3: ``v=DMARC1`` first (the tag list may have spaces around ``=``/``;``)."""
    head = value.split(";", 1)[0].replace(" ", "").replace("\t", "")
    return head == DMARC_PREFIX


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AdoptedRecord(_Strict):
    """One RRset as found: every value at (name, type), TXT strings joined."""

    name: Annotated[str, AfterValidator(lambda v: names.domain(v, service_labels=True))]
    type: AdoptedType
    values: Annotated[list[str], Field(min_length=1)]
    ids: list[str] = Field(default_factory=list)  # Cloudflare record id of each value, in order
    ttl: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None

    @model_validator(mode="after")
    def _ids_match_values(self) -> AdoptedRecord:
        if self.ids and len(self.ids) != len(self.values):
            raise ValueError(f"ids: {len(self.ids)} ids for {len(self.values)} values (one id per value)")
        if len(set(self.values)) != len(self.values):
            raise ValueError("values: a value is listed twice")
        return self

    def id_of(self, value: str) -> str | None:
        """The Cloudflare record id holding ``value`` (None without ids)."""
        if not self.ids or value not in self.values:
            return None
        return self.ids[self.values.index(value)]

    @property
    def spf(self) -> str | None:
        found = [v for v in self.values if is_spf(v)]
        return found[0] if found else None

    @property
    def dmarc(self) -> str | None:
        found = [v for v in self.values if is_dmarc(v)]
        return found[0] if found else None


class DnsAdoption(_Strict):
    taken_at: Annotated[str, AfterValidator(_iso)]
    source: (
        str  # where the values were read: "nameserver 127.0.0.1:53", "system resolver", "+ cloudflare api"
    )
    records: list[AdoptedRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_record_per_name_and_type(self) -> DnsAdoption:
        seen: set[tuple[str, str]] = set()
        for r in self.records:
            key = (r.name, r.type)
            if key in seen:
                raise ValueError(f"records: {r.name} {r.type} is listed twice")
            seen.add(key)
            if r.type == "TXT" and sum(1 for v in r.values if is_spf(v)) > 1:
                raise ValueError(
                    f"records: {r.name} has {sum(1 for v in r.values if is_spf(v))} SPF records "
                    "(RFC 7208 §3.2 allows one; delete all but one before adopting)"
                )
            if r.type == "TXT" and sum(1 for v in r.values if is_dmarc(v)) > 1:
                raise ValueError(f"records: {r.name} has more than one DMARC record (RFC 7489 §6.6.3)")
        return self

    def find(self, name: str, type_: str) -> AdoptedRecord | None:
        for r in self.records:
            if r.name == name and r.type == type_:
                return r
        return None


class MailgunAdoption(_Strict):
    taken_at: Annotated[str, AfterValidator(_iso)]
    region: Region
    domains: Annotated[list[str], Field(min_length=1)]
    routes: dict[str, str] = Field(default_factory=dict)  # address -> Mailgun route id
    credentials: list[str] = Field(default_factory=list)  # SMTP logins found (never passwords)


class Adoption(_Strict):
    dns: DnsAdoption | None = None
    mailgun: MailgunAdoption | None = None
    release: bool = False
