"""The two ways to a change report: two git revisions (``diff``) or a Pulumi preview file."""

from __future__ import annotations

from pathlib import Path

from mailfleet.diff import compare, gitread, preview, snapshot
from mailfleet.diff.outputs import Report
from mailfleet.errors import InvalidData, Problem, UsageError


def revisions(
    tenants_dir: Path,
    stacks_dir: Path,
    base: str,
    head: str | None,
    stack: str | None,
    region: str | None = None,
) -> Report:
    """The desired state at ``base`` against ``head`` (None: the working tree), per stack.

    ``stack`` None compares every stack found at either revision. Invalid files at either
    revision raise ``InvalidData`` (one ``REV:path: field: problem`` each); an unknown
    revision or stack raises ``UsageError`` naming the parameter.
    """
    lay = gitread.layout(tenants_dir, stacks_dir)
    revs = [(base, "base")] + ([(head, "head")] if head is not None else [])
    files = gitread.read_revisions(lay, revs)
    if head is None:
        files.append(gitread.read_worktree(tenants_dir, stacks_dir))
    loader = snapshot.Snapshots()
    old, new = loader.load(files[0]), loader.load(files[1])
    problems = old.problems + new.problems
    if problems:
        raise InvalidData(problems=problems)
    if not old.states and not new.states:
        raise InvalidData(
            problems=[Problem(str(stacks_dir), "", f"no stack files (Pulumi.<stack>.yaml) at {base} or head")]
        )
    wanted = None if stack is None else [stack]
    if stack is not None and stack not in old.states and stack not in new.states:
        raise UsageError(
            problems=[Problem("", "stack", f"no stack file Pulumi.{stack}.yaml at {base} or head")]
        )
    if region is not None:
        # Every stack of the region at either revision (a shard added or removed included).
        wanted = sorted({n for snap in (old, new) for n, cfg in snap.stacks.items() if cfg.region == region})
        if not wanted:
            raise UsageError(
                problems=[Problem("", "region", f"no stack serves region {region!r} at {base} or head")]
            )
    head_text = (
        f"`{files[1].rev}` (`{(files[1].commit or '')[:12]}`)" if head is not None else "the working tree"
    )
    return Report(
        tool="mailfleet-diff",
        title="mailfleet diff",
        source=f"Desired state at `{base}` (`{(files[0].commit or '')[:12]}`) → {head_text}.",
        stacks=compare.compare(old, new, wanted),
        meta={
            "base": {"rev": files[0].rev, "commit": files[0].commit},
            "head": {"rev": files[1].rev, "commit": files[1].commit},
        },
    )


def preview_file(text: bytes, file: str, stack: str | None) -> Report:
    """The report of a ``pulumi preview --json`` document read from ``file``."""
    doc = preview.load(text, file)
    changes = preview.changes(doc, stack)
    if not changes.stack:
        raise UsageError(problems=[Problem("", "stack", "the preview names no stack: name it")])
    return Report(
        tool="mailfleet-preview",
        title="pulumi preview",
        source=f"DNS records and Mailgun resources changed by `pulumi preview` of stack `{changes.stack}`.",
        stacks=[changes],
        meta={"file": file, "stack": changes.stack},
    )
