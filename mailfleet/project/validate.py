"""What ``mailfleet validate`` reports: every problem and warning over tenant and stack files.

Contract: ``validate_project`` never stops at the first problem and never raises for bad data
(only ``UsageError`` for a path that does not exist). Problems come from the loader (YAML,
schema, file name vs slug), the stack files and the cross-tenant checks of
``mailfleet.desired.build.conflicts`` (a domain, address or record declared twice across both
regions). Warnings are things that work but deserve a look (a 1024-bit DKIM key, an SPF
include whose lookup cost is unknown offline, DMARC reports sent to a domain that must
authorise them, a migration in progress). Whether a change replaces a Mailgun domain is a
question about two revisions and belongs to ``diff``, not here.

With ``paths``, only problems about those files are reported, but they are still checked
against every other tenant in the tenants directory.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.loader import parse_yaml, scan_tenants, tenant_paths, yaml_problem
from mailfleet.model.load import load_stack
from mailfleet.model.stack import discover_stacks
from mailfleet.model.tenant import Tenant
from mailfleet.project import Project
from mailfleet.project.tenantfile import migration_in_progress, migration_phase
from mailfleet.records import dkim, dmarc, spf

log = logging.getLogger("mailfleet.project.validate")

_STACK_FILE = re.compile(r"^Pulumi\.(?P<name>[^.]+(?:\.[^.]+)*)\.yaml$")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    tenant_files: int = 0
    stack_files: int = 0
    by_region: dict[str, int] = field(default_factory=dict)

    def files_with_problems(self, problems: list[Problem] | None = None) -> int:
        return len({p.where for p in (self.problems if problems is None else problems)})

    def summary(self, problems: list[Problem]) -> str:
        """``N problems in M files; ...`` for ``problems``, or the OK summary when empty."""
        count = len(problems)
        checked = (
            f"{self.tenant_files} tenant file{'s' * (self.tenant_files != 1)}, "
            f"{self.stack_files} stack file{'s' * (self.stack_files != 1)} checked"
        )
        if count:
            files = self.files_with_problems(problems)
            return f"{count} problem{'s' * (count != 1)} in {files} file{'s' * (files != 1)}; {checked}"
        regions = ", ".join(f"{r} {n}" for r, n in sorted(self.by_region.items()))
        warn = f", {len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}" if self.warnings else ""
        total = sum(self.by_region.values())
        return f"{total} tenant{'s' * (total != 1)} ({regions or 'none'}); {checked}{warn}"

    def as_dict(self, ok: bool) -> dict[str, Any]:
        def rows(items: list[Problem]) -> list[dict[str, str]]:
            return [{"file": p.where, "field": p.field, "message": p.message} for p in items]

        return {
            "format": "mailfleet-validate/1",
            "ok": ok,
            "problems": rows(self.problems),
            "warnings": rows(self.warnings),
            "checked": {"tenant_files": self.tenant_files, "stack_files": self.stack_files},
            "tenants_by_region": dict(sorted(self.by_region.items())),
        }


def _classify(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]], list[Path]]:
    """(tenant files, (stack file, stack name), Pulumi.yaml project files) among ``paths``."""
    tenants: list[Path] = []
    stacks: list[tuple[Path, str]] = []
    projects: list[Path] = []
    missing = []
    for path in paths:
        if not path.exists():
            missing.append(Problem(str(path), "", "no such file or directory"))
        elif path.is_dir():
            tenants.extend(tenant_paths(path))
        elif path.name == "Pulumi.yaml":
            projects.append(path)
        elif (m := _STACK_FILE.match(path.name)) is not None:
            stacks.append((path, m["name"]))
        else:
            tenants.append(path)
    if missing:
        raise UsageError(problems=missing)
    return tenants, stacks, projects


def validate_project(tenants_dir: Path, stacks_dir: Path, paths: list[Path] | None = None) -> Report:
    """Validate everything (no ``paths``) or the given files against everything else."""
    report = Report()
    given = list(paths or [])
    if not given:
        # Entries that are not tenant files are problems, and every other file is still checked.
        try:
            all_tenants, listing = scan_tenants(tenants_dir)
        except InvalidData as exc:
            report.problems.extend(exc.problems)
            return report
        report.problems.extend(listing)
        project = Project.load(tenants_dir, stacks_dir, strict=False, tenant_paths=all_tenants)
        report.problems.extend(project.problems)
        report.tenant_files = len(all_tenants) + len(listing)
        report.stack_files = len(discover_stacks(stacks_dir))
        _count_regions(report, project.tenants)
        report.warnings.extend(warnings(project))
        return report

    tenant_files, stack_files, project_files = _classify(given)
    report.tenant_files = len(tenant_files)
    report.stack_files = len(stack_files)
    for path, name in stack_files:
        try:
            load_stack(path.parent, name)
        except InvalidData as exc:
            report.problems.extend(exc.problems)
    for path in project_files:
        report.problems.extend(_project_file_problems(path))
    if not tenant_files:
        return report
    # Check the given tenant files against every other tenant file.
    # ... those that are tenant files: a broken entry elsewhere does not stop the check.
    try:
        others = scan_tenants(tenants_dir)[0] if tenants_dir.is_dir() else []
    except InvalidData:
        others = []
    chosen = {p.resolve(): p for p in others}
    chosen.update({p.resolve(): p for p in tenant_files})
    project = Project.load(tenants_dir, stacks_dir, strict=False, tenant_paths=list(chosen.values()))
    wanted = {str(p) for p in tenant_files}
    for p in project.problems:
        if p.where in wanted or any(f"({w})" in p.message for w in wanted):
            report.problems.append(p)
    given_slugs = {slug for slug, path in project.paths.items() if str(path) in wanted}
    _count_regions(report, {s: t for s, t in project.tenants.items() if s in given_slugs})
    report.warnings.extend(w for w in warnings(project) if w.where in wanted)
    return report


def _count_regions(report: Report, tenants: dict[str, Tenant]) -> None:
    for t in tenants.values():
        report.by_region[t.region] = report.by_region.get(t.region, 0) + 1


def _project_file_problems(path: Path) -> list[Problem]:
    try:
        data = parse_yaml(path.read_bytes())
    except yaml.YAMLError as exc:
        return [yaml_problem(str(path), exc)]
    if not isinstance(data, dict) or "name" not in data or "runtime" not in data:
        return [Problem(str(path), "", "a Pulumi project file needs 'name' and 'runtime'")]
    return []


def warnings(project: Project) -> list[Problem]:
    """Warnings for every valid tenant of ``project`` (see the module docstring)."""
    out: list[Problem] = []
    platform_of = {cfg.region: cfg.platform_domain for cfg in project.stacks.values()}
    for slug, tenant in project.tenants.items():
        where = str(project.paths.get(slug, f"{slug}.yaml"))
        if tenant.dkim.bits < dkim.RECOMMENDED_BITS:
            out.append(
                Problem(
                    where,
                    "dkim.bits",
                    f"{tenant.dkim.bits}-bit key; {dkim.RECOMMENDED_BITS} is recommended (RFC 8301)",
                )
            )
        sender = tenant.sender_domain
        if sender is not None:
            for include in sender.spf_includes:
                if include not in spf.KNOWN_INCLUDE_COSTS:
                    out.append(
                        Problem(
                            where,
                            "sender_domain.spf_includes",
                            f"lookup cost of include:{include} is unknown offline and counted as "
                            f"{spf.UNKNOWN_INCLUDE_COST}; `mailfleet check` resolves it",
                        )
                    )
        reports = [*tenant.dmarc.rua, *tenant.dmarc.ruf]
        if reports:
            platform = platform_of.get(tenant.region)
            domain = sender.name if sender is not None else f"{slug}.{platform}" if platform else None
            if domain is not None:
                for dest in dmarc.external_destinations(domain, reports):
                    out.append(
                        Problem(
                            where,
                            "dmarc",
                            f"reports for {domain} go to {dest}, which must publish "
                            f'{dmarc.authorisation_name(domain, dest)} TXT "{dmarc.AUTHORISATION_VALUE}" '
                            "(RFC 7489 §7.1)",
                        )
                    )
        if migration_in_progress(tenant.migration):
            out.append(
                Problem(
                    where,
                    "migration",
                    f"migration in progress (phase {migration_phase(tenant.migration)!r})",
                )
            )
    return out
