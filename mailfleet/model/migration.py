"""The ``migration:`` block of a tenant file: the journal of a region move, and what it implies.

``mailfleet migrate`` is the only writer of this block. It records which steps of the move
have started and finished (``steps``), so that a killed run resumes where it stopped and a
reviewer sees in git where every tenant stands. The block is also *input to the model*:
``declaration(region)`` says what each region stack declares for the tenant at the current
point of the move, and ``mailfleet/desired/build.py`` obeys it. That is how the US stack stops
declaring the Mailgun domain at cutover and the EU stack starts declaring it, with no other
switch anywhere.

A step counts as *in effect* once it has started: a step first records its start (the
intent), the model changes with it, then the step's Pulumi and Mailgun operations run, then
it records its end. A resumed run re-runs every started-but-not-done step; every step is
idempotent.

After a successful move the block stays with ``state: done``: it keeps the tenant's platform
domain name and zone from the source region (the name does not change when the tenant moves,
so nobody's address changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mailfleet.model import names
from mailfleet.model.region import Region

MigrationState = Literal["running", "done"]

# The steps of a move, in order. Each is (name, phase). The point of no return is the first
# step whose effect cannot be undone: deleting the Mailgun domain in the source region. DNS
# record ownership moves to the target stack inside that step, just before the source stack
# lets the domain go (a DKIM record's value is an output of the Mailgun domain, so no stack can
# declare the record without the domain); the target stack then changes the values in place
# in the same run that creates the target domain.
STEPS: tuple[tuple[str, str], ...] = (
    ("prepare.lower-ttl", "prepare"),
    ("prepare.dkim", "prepare"),
    ("prepare.wait-ttl", "prepare"),
    ("export", "export"),
    ("cutover.release-source-domain", "cutover"),
    ("cutover.wait-source-gone", "cutover"),
    ("cutover.create-target", "cutover"),
    ("cutover.import-data", "cutover"),
    ("cutover.release-source-routes", "cutover"),
    ("dns.confirm", "dns"),
    ("verify", "verify"),
    ("finalize", "finalize"),
)
STEP_NAMES: tuple[str, ...] = tuple(name for name, _ in STEPS)
POINT_OF_NO_RETURN = "cutover.release-source-domain"

# The TTL records that will change get during the move: short enough that the switch
# propagates within a minute, and the lowest TTL Cloudflare and Route53 both accept.
LOWERED_TTL = 60

# Record purposes whose value depends on the region (MX hosts, tracking target, the DKIM key
# Mailgun generates per region, DMARC report addresses of the stack). SPF is added when the
# regions' SPF includes differ (they do not today: both use include:mailgun.org).
REGION_DEPENDENT_PURPOSES = frozenset({"mx", "tracking", "dkim", "dmarc", "dmarc-auth"})


def _iso(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} needs a time zone (e.g. a trailing +00:00)")
    return value


Timestamp = Annotated[str, AfterValidator(_iso)]


def now_iso(clock_value: float | None = None) -> str:
    """``clock_value`` (epoch seconds, default now) as an ISO timestamp in UTC, to the second."""
    moment = datetime.now(UTC) if clock_value is None else datetime.fromtimestamp(clock_value, UTC)
    return moment.replace(microsecond=0).isoformat()


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class StepRecord(_Strict):
    started_at: Timestamp
    done_at: Timestamp | None = None


class Owner(_Strict):
    """Who runs the move right now (informational; the per-tenant lock file is what excludes)."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    pid: Annotated[int, Field(ge=1)]
    since: Timestamp


class LateExport(_Strict):
    """The second suppression export, taken at the point of no return just before the source
    domain is deleted: the entries added since the first export (``Export``)."""

    path: Annotated[str, Field(min_length=1, max_length=300)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    suppressions: Annotated[int, Field(ge=0)]
    exported_at: Timestamp


class Export(_Strict):
    """Where the source region's routes, webhooks and suppressions were saved, and their digest."""

    path: Annotated[str, Field(min_length=1, max_length=300)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    routes: Annotated[int, Field(ge=0)]
    webhooks: Annotated[int, Field(ge=0)]
    suppressions: Annotated[int, Field(ge=0)]
    # SMTP logins that cannot be moved (Mailgun never returns passwords): every exported login
    # but the `crm` one mailfleet re-creates; the operator re-issues them in the target region.
    # Absent when there are none.
    logins_to_reissue: list[Annotated[str, Field(min_length=3, max_length=320)]] | None = None
    late: LateExport | None = None  # written at the point of no return
    templates: Annotated[int, Field(ge=0)] | None = None  # template versions exported (absent: none)


class InboundGap(_Strict):
    """The tenant's inbound gap, measured by the engine on its clock (epoch seconds).

    It runs from the moment the source region accepted the delete of the tenant's Mailgun
    domain (the release ``up`` returned: the provider's ``DELETE`` was answered) until the
    target region accepts mail for the tenant's addresses (the create-target ``up`` returned:
    the domain is created and its routes are live). ``resolver_cache_s`` is reported apart:
    after the gap, resolvers may still hand out the old MX for up to the lowered TTL.
    """

    source_deleted_at: Annotated[float, Field(ge=0)]
    target_live_at: Annotated[float, Field(ge=0)] | None = None
    seconds: Annotated[float, Field(ge=0)] | None = None
    resolver_cache_s: Annotated[int, Field(ge=0, le=86400)]


class DkimOverlap(_Strict):
    """The target region's DKIM keys (``mailfleet.migrate.dkim``), published before cutover.

    ``keys`` holds the PUBLIC half per Mailgun domain (base64 DER): the target stack publishes
    it at ``<selector>._domainkey.<domain>`` from ``prepare.dkim`` on. The private half is
    never here: it is encrypted under ``tenants/.migrations/<slug>/dkim/``. ``old_values``: the
    old selector's record value per domain (the source region's key), which the target stack
    keeps publishing, unchanged, from the point of no return until ``finalize``.
    """

    selector: Annotated[str, AfterValidator(names.dkim_selector)]
    old_selector: Annotated[str, AfterValidator(names.dkim_selector)]
    keys: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]+={0,2}$", max_length=2000)]]
    old_values: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict)
    generated_at: Timestamp
    publish_by: Timestamp | None = None  # manual DNS: when the move stops waiting for the customer

    @model_validator(mode="after")
    def _distinct(self) -> DkimOverlap:
        if self.selector == self.old_selector:
            raise ValueError("the new DKIM selector must differ from the old one (overlap)")
        return self


class Migration(_Strict):
    """The ``migration:`` block. ``from``/``to`` are regions; ``steps`` maps step name to times."""

    from_region: Region = Field(alias="from")
    to: Region
    state: MigrationState = "running"
    started_at: Timestamp
    platform_domain: Annotated[str, AfterValidator(names.domain)]
    platform_zone_id: Annotated[str, AfterValidator(names.route53_zone_id)]
    original_ttl: Annotated[int, Field(ge=60, le=86400)]
    lowered_ttl: Annotated[int, Field(ge=1, le=86400)] = LOWERED_TTL
    ttl_wait_until: Timestamp | None = None
    point_of_no_return_passed: bool = False
    export: Export | None = None
    dkim: DkimOverlap | None = None
    owner: Owner | None = None
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    inbound_gap: InboundGap | None = None
    finished_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Migration:
        if self.from_region == self.to:
            raise ValueError("from and to must be different regions")
        unknown = [s for s in self.steps if s not in STEP_NAMES]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} (known: {', '.join(STEP_NAMES)})")
        if self.state == "done" and not self.is_done(STEP_NAMES[-1]):
            raise ValueError("state is done but step 'finalize' is not")
        return self

    def started(self, step: str) -> bool:
        """True once ``step`` has started: its effect on the model is in force."""
        return step in self.steps

    def is_done(self, step: str) -> bool:
        record = self.steps.get(step)
        return record is not None and record.done_at is not None

    @property
    def next_step(self) -> str | None:
        """The first step not done yet (None when all are)."""
        for name in STEP_NAMES:
            if not self.is_done(name):
                return name
        return None

    @property
    def phase(self) -> str:
        step = self.next_step
        if step is None:
            return "done"
        return dict(STEPS)[step]

    def declaration(self, region: str, tenant_region: str) -> Declaration | None:
        """What the stack of ``region`` declares for this tenant now (None: nothing)."""
        if self.state == "done":
            return FULL if region == tenant_region else None
        lowered = self.started("prepare.lower-ttl") and not self.started("finalize")
        ttl = self.lowered_ttl if lowered else None
        if region == self.from_region:
            domains = records = not self.started(POINT_OF_NO_RETURN)
            routes = not self.started("cutover.release-source-routes")
            # While the move runs, the source's records are never really deleted by a stack
            # that stops declaring them: they are handed to the target, not destroyed.
            retained, held = records, False
        elif region == self.to:
            domains = routes = self.started("cutover.create-target")
            # The target owns the records from the point of no return on: from then until
            # create-target it declares them *held* (as they are, adopted if its state lacks
            # them), so no up of it by anyone deletes or changes them in that window.
            records = self.started(POINT_OF_NO_RETURN)
            retained = held = records and not domains
            if not records and self.dkim is not None and self.started("prepare.dkim"):
                # The overlap: the new DKIM selector's record is live before the cutover.
                return Declaration(
                    domains=False, routes=False, records=False, dkim_only=True, lowered_ttl=ttl
                )
        else:
            return None
        if not (domains or routes or records):
            return None
        return Declaration(
            domains=domains,
            routes=routes,
            records=records,
            lowered_ttl=ttl,
            records_retained=retained,
            records_held=held,
        )


@dataclass(frozen=True, slots=True)
class Declaration:
    """Which parts of a tenant a stack declares.

    ``domains`` covers the Mailgun domains with their webhooks, SMTP credential and the
    outbound setting (what the CRM reads to send, meaningless without the domain); ``routes``
    covers the routes (account-wide, so the source keeps them until the target has its own);
    ``records`` covers every DNS record (see ``records_retained``/``records_held``;
    ``dkim_only``: only the new DKIM selector's records, published before the cutover).
    ``lowered_ttl`` replaces the TTL of
    the records whose value will change, while a move is under way.
    """

    domains: bool = True
    routes: bool = True
    records: bool = True
    lowered_ttl: int | None = None
    # ``records_retained``: the records carry ``retain_on_delete`` (a stack that stops declaring
    # them forgets them; the DNS records stay). ``records_held``: the target stack between the
    # point of no return and create-target: records declared as they are (values and TTL not
    # changed, ``ignore_changes``), imported when its state lacks them, never created anew.
    records_retained: bool = False
    records_held: bool = False
    dkim_only: bool = False  # records is False, but the new DKIM selector's records are declared


FULL = Declaration()


def declaration(migration: Migration | None, region: str, tenant_region: str) -> Declaration | None:
    """What the stack of ``region`` declares for a tenant whose home is ``tenant_region``."""
    if migration is None:
        return FULL if region == tenant_region else None
    return migration.declaration(region, tenant_region)
