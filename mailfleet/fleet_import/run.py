"""``import_region``: read one Mailgun region, group it into tenants, write the tenant files.

Contract:

- The project must load without problems first (like ``tenant add``): the import adds to a
  consistent project, or refuses with the problems (``InvalidData``, exit 1).
- Mailgun is read before anything else happens, without holding any lock (a region of 1,000
  domains takes minutes at Mailgun's rate limit). An API error stops the import: nothing is
  written (``ImportFailed``, exit 1).
- Every file is computed and validated before any is written: new tenant files are rendered
  (``project.tenantfile.render``), existing ones get their ``adopted.mailgun`` block added or
  replaced in place (``edit``), and the tenants directory as it would be is loaded with every
  rule ``mailfleet validate`` runs. A problem anywhere: nothing is written.
- Writes happen under the tenants directory's lock. If any tenant file changed (or appeared)
  since the import started, the project is loaded again under the lock: a change to a tenant
  the import writes refuses the import (run it again), any other change is validated again
  with the files to write. Each file is written atomically; if a write fails, the files
  already written are put back, so the directory never holds half an import.
- A file whose ``adopted.mailgun`` already records what was found (only ``taken_at`` would
  differ) is not touched: running the import twice changes nothing.
- ``dry_run``: everything but the lock and the writes. Nothing to write takes no lock either.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mailfleet.errors import InvalidData, Problem
from mailfleet.fleet_import.edit import EditRefused, with_mailgun_block
from mailfleet.fleet_import.match import Candidate, Matcher, Outcome
from mailfleet.fleet_import.read import DEFAULT_WORKERS, Gone, Progress, Reader
from mailfleet.fleet_import.report import UNCHANGED, UPDATED, WRITTEN, ImportReport, TenantResult
from mailfleet.fsutil import atomic_remove, atomic_write, locked
from mailfleet.loader import scan_tenants
from mailfleet.model.migration import now_iso
from mailfleet.model.tenant import Tenant
from mailfleet.project import Project
from mailfleet.project.tenantfile import render

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

log = logging.getLogger("mailfleet.fleet_import")


def header(region: str, taken_at: str) -> str:
    return (
        f"# Written by `mailfleet import --from-mailgun` from Mailgun {region} at {taken_at}.\n"
        "# Check name and sender_domain.dns (manual until you name its DNS host), then `mailfleet validate`.\n"
    )


def _project(tenants_dir: Path, stacks_dir: Path) -> Project:
    if not tenants_dir.is_dir():
        raise InvalidData(problems=[Problem(str(tenants_dir), "", "tenants directory does not exist")])
    project = Project.load(tenants_dir, stacks_dir, strict=False)
    if project.problems:
        raise InvalidData(
            problems=[
                *project.problems,
                Problem(
                    str(tenants_dir),
                    "",
                    "not imported: the project has the problems above; fix them first (mailfleet validate)",
                ),
            ]
        )
    return project


def import_region(
    tenants_dir: Path,
    stacks_dir: Path,
    client: MailgunClient,
    *,
    dry_run: bool,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every domain, route and webhook of ``client``'s region (see the module docstring)."""
    tenants_dir, stacks_dir = Path(tenants_dir), Path(stacks_dir)
    region = client.region
    before = _fingerprint(tenants_dir)
    project = _project(tenants_dir, stacks_dir)
    stack = project.stack_for_region(region)  # type: ignore[arg-type]
    reader = Reader(client, workers=workers, progress=progress)

    domains = reader.domains()
    routes = reader.routes()
    if progress is not None:
        progress("domains and routes listed", len(domains), len(routes))
    hooks = reader.webhooks(domains)
    matcher = Matcher(stack, project.tenants, project.paths, tenants_dir)
    matcher.group(domains, hooks, routes)
    accepted = matcher.select()
    settings = reader.settings(sorted({d for c in accepted for d in c.domains}))
    logins = reader.logins(sorted({d for c in accepted if (d := c.sending_domain) is not None}))
    taken_at = now_iso()
    outcomes = matcher.finish(accepted, settings, logins, taken_at)

    report = ImportReport(region, stack.name, dry_run, taken_at)
    report.read = {
        "domains": len(domains),
        "routes": len(routes),
        "webhooks": sum(len(h) for h in hooks.values() if not isinstance(h, Gone)),
        "logins": sum(len(x) for x in logins.values() if not isinstance(x, Gone)),
        "api_calls": client.requests,
        "retries": client.retries,
    }
    report.unmatched = sorted(matcher.unmatched, key=lambda u: (u.kind, u.name, u.id))
    report.differences = matcher.differences
    report.stale = _stale(project, region, {o.slug for o in outcomes}, set(domains))

    # Checked without the lock (so a refused import never creates the lock file); under it,
    # checked again only if a file of the directory changed since the import started.
    contents = _contents(tenants_dir, outcomes, region, taken_at)
    _validate(tenants_dir, stacks_dir, contents)
    if not dry_run and contents:
        with locked(tenants_dir):
            if _fingerprint(tenants_dir) != before:
                _unchanged_since(tenants_dir, stacks_dir, project, accepted)
                contents = _contents(tenants_dir, outcomes, region, taken_at)
                _validate(tenants_dir, stacks_dir, contents)
            _write_all(contents)
    for o in outcomes:
        action = UNCHANGED if o.path not in contents else UPDATED if o.existing is not None else WRITTEN
        report.tenants.append(TenantResult(o, action))
    log.info(
        "import region=%s dry_run=%s tenants=%d written=%d updated=%d unmatched=%d calls=%d",
        region,
        dry_run,
        len(outcomes),
        report.count(WRITTEN),
        report.count(UPDATED),
        len(report.unmatched),
        client.requests,
    )
    return report


def _fingerprint(tenants_dir: Path) -> dict[str, bytes]:
    """Every ``*.yaml`` of the directory with a digest of its bytes (what a change would alter)."""
    out = {}
    for path in sorted(tenants_dir.glob("*.yaml")):
        try:
            out[path.name] = hashlib.sha256(path.read_bytes()).digest()
        except OSError:
            out[path.name] = b""
    return out


def _stale(project: Project, region: str, imported: set[str], listed: set[str]) -> list[str]:
    """Tenant files of ``region`` whose ``adopted.mailgun`` names only domains Mailgun lacks now."""
    out = []
    for slug, t in sorted(project.tenants.items()):
        mg = t.adopted.mailgun if t.adopted is not None else None
        if slug in imported or mg is None or mg.region != region:
            continue
        if not set(mg.domains) & listed:
            out.append(slug)
    return out


def _unchanged_since(tenants_dir: Path, stacks_dir: Path, before: Project, accepted: list[Candidate]) -> None:
    """Refuse when a tenant file the import depends on changed while Mailgun was being read."""
    now = _project(tenants_dir, stacks_dir)
    changed = [
        c.slug
        for c in accepted
        if now.tenants.get(c.slug) != before.tenants.get(c.slug)
        or (c.slug not in before.tenants and (tenants_dir / f"{c.slug}.yaml").exists())
    ]
    if changed:
        raise InvalidData(
            problems=[
                Problem(
                    str(tenants_dir / f"{slug}.yaml"),
                    "",
                    "changed while Mailgun was being read; nothing written: run the import again",
                )
                for slug in changed
            ]
        )


def _contents(tenants_dir: Path, outcomes: list[Outcome], region: str, taken_at: str) -> dict[Path, bytes]:
    """The bytes of every file to write (new or changed); ``InvalidData`` if one cannot be made."""
    out: dict[Path, bytes] = {}
    problems = []
    for o in outcomes:
        if o.unchanged:
            continue
        if o.existing is None:
            out[o.path] = render(o.tenant, header(region, taken_at))
            continue
        try:
            text = o.path.read_bytes().decode("utf-8")
            out[o.path] = with_mailgun_block(text, o.adoption).encode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(o.path), "", f"cannot read: {exc}"))
        except EditRefused as exc:
            problems.append(Problem(str(o.path), "adopted.mailgun", f"not imported: {exc}"))
    if problems:
        raise InvalidData(problems=[*problems, _nothing_written(tenants_dir)])
    return out


def _nothing_written(tenants_dir: Path) -> Problem:
    return Problem(str(tenants_dir), "", "nothing written: every file is checked before any is written")


def _validate(tenants_dir: Path, stacks_dir: Path, contents: dict[Path, bytes]) -> None:
    """Load the tenants directory as it would be after the writes, with every rule of
    ``mailfleet validate``; ``InvalidData`` naming the real files otherwise."""
    if not contents:
        return
    existing, listing = scan_tenants(tenants_dir)
    with tempfile.TemporaryDirectory(prefix="mailfleet-import-") as tmp:
        staging = Path(tmp)
        staged = {path: staging / path.name for path in contents}
        for path, data in contents.items():
            staged[path].write_bytes(data)
        paths = [p for p in existing if p not in staged] + list(staged.values())
        project = Project.load(tenants_dir, stacks_dir, strict=False, tenant_paths=paths)
        back = {str(s): str(p) for p, s in staged.items()}

        def real(text: str) -> str:
            for s, p in back.items():
                text = text.replace(s, p)
            return text

        problems = [Problem(real(p.where), p.field, real(p.message)) for p in [*listing, *project.problems]]
        loaded = {project.paths[s]: t for s, t in project.tenants.items()}
    if problems:
        raise InvalidData(problems=[*problems, _nothing_written(tenants_dir)])
    for path, s in staged.items():
        if not isinstance(loaded.get(s), Tenant):
            raise InvalidData(
                problems=[Problem(str(path), "", "does not load after import"), _nothing_written(tenants_dir)]
            )


def _write_all(contents: dict[Path, bytes]) -> None:
    """Write every file atomically; on a failure, put back the ones already written."""
    done: list[tuple[Path, bytes | None]] = []
    current = Path()
    try:
        for current, data in sorted(contents.items()):
            before = current.read_bytes() if current.exists() else None
            atomic_write(current, data)
            done.append((current, before))
    except OSError as exc:
        for path, before in reversed(done):
            try:
                if before is None:
                    atomic_remove(path)
                else:
                    atomic_write(path, before)
            except OSError:
                log.error("import rollback failed path=%s", path)
        raise InvalidData(
            problems=[
                Problem(
                    str(current),
                    "",
                    f"cannot write: {exc.strerror or exc}; the files written before it were put back",
                )
            ]
        ) from None
