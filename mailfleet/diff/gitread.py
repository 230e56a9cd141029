"""Reading a revision's tenant and stack files straight from git, or from the working tree.

Contract: ``read_revisions`` resolves every revision first (a bad one raises ``UsageError``
naming the flag), then lists each revision's files with ``git ls-tree`` and reads all distinct
blobs of all revisions through ONE ``git cat-file --batch`` process. Nothing is checked out and
the working tree is never touched. Files are returned as bytes; validation is ``snapshot``'s job.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mailfleet.errors import Problem, UsageError
from mailfleet.loader import tenant_paths
from mailfleet.model.stack import discover_stacks, stack_file

log = logging.getLogger("mailfleet.diff.gitread")

WORKTREE = "WORKTREE"
STACK_PREFIX = "Pulumi."
SUFFIX = ".yaml"


@dataclass
class RevisionFiles:
    """The files of one revision.

    ``label`` prefixes problem locations (``origin/main:tenants/acme.yaml``); it is empty for
    the working tree, whose problems name plain paths like ``validate`` does.
    ``tenants`` maps a display path to the file's bytes, ``stacks`` a stack name to its bytes.
    """

    rev: str
    commit: str | None
    label: str
    tenants: dict[str, bytes] = field(default_factory=dict)
    stacks: dict[str, bytes] = field(default_factory=dict)
    stack_paths: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Where the tenants and stack files live inside the repository (POSIX, '' = top)."""

    top: Path
    tenants: str
    stacks: str


def _git(top: Path | str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(top), *args], input=input, capture_output=True, check=False)


def layout(tenants_dir: Path, stacks_dir: Path) -> Layout:
    """Locate the repository holding ``stacks_dir``; raises ``UsageError`` outside git."""
    try:
        proc = _git(stacks_dir, "rev-parse", "--show-toplevel")
    except FileNotFoundError:
        raise UsageError(problems=[Problem("", "base", "git is not installed")]) from None
    if proc.returncode != 0:
        raise UsageError(problems=[Problem("", "base", f"{stacks_dir} is not inside a git repository")])
    top = Path(proc.stdout.decode().strip()).resolve()
    rel = {}
    for param, d in (("tenants_dir", tenants_dir), ("stacks_dir", stacks_dir)):
        try:
            rel[param] = Path(d).resolve().relative_to(top).as_posix()
        except ValueError:
            raise UsageError(
                problems=[Problem("", param, f"{d} is outside the git repository {top}")]
            ) from None
    return Layout(
        top,
        "" if rel["tenants_dir"] == "." else rel["tenants_dir"],
        "" if rel["stacks_dir"] == "." else rel["stacks_dir"],
    )


def resolve(top: Path, rev: str, param: str) -> str:
    """The commit id of ``rev``; ``UsageError`` naming ``param`` when git does not know it."""
    if not rev or rev.startswith("-"):
        raise UsageError(problems=[Problem("", param, f"{rev!r} is not a revision")])
    proc = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if proc.returncode != 0:
        raise UsageError(problems=[Problem("", param, f"unknown revision {rev!r}")])
    return proc.stdout.decode().strip()


def _ls_tree(top: Path, commit: str, directory: str) -> list[tuple[str, str]]:
    """``(name, blob id)`` of the regular ``*.yaml`` files directly in ``directory``."""
    args = ["ls-tree", "-z", "--full-tree", commit]
    if directory:
        args += ["--", directory.rstrip("/") + "/"]
    proc = _git(top, *args)
    if proc.returncode != 0:
        raise UsageError(problems=[Problem("", "base", f"git ls-tree failed for {commit[:12]}")])
    out = []
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, oid = meta.split(b" ")
        if kind != b"blob" or mode == b"120000":
            continue
        name = PurePosixPath(path.decode("utf-8", "surrogateescape")).name
        if name.endswith(SUFFIX):
            out.append((name, oid.decode()))
    return out


def cat_blobs(top: Path, oids: list[str]) -> dict[str, bytes]:
    """The contents of every blob in ``oids`` through one ``git cat-file --batch`` process."""
    if not oids:
        return {}
    proc = _git(top, "cat-file", "--batch", input=("\n".join(oids) + "\n").encode())
    if proc.returncode != 0:
        raise UsageError(problems=[Problem("", "base", "git cat-file --batch failed")])
    data = proc.stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in oids:
        end = data.index(b"\n", pos)
        header = data[pos:end].split(b" ")
        if len(header) != 3 or header[1] != b"blob":
            raise UsageError(problems=[Problem("", "base", f"git object {oid} is not a blob")])
        size = int(header[2])
        start = end + 1
        blobs[oid] = data[start : start + size]
        pos = start + size + 1
    log.debug("cat_blobs blobs=%d bytes=%d", len(blobs), len(data))
    return blobs


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}" if directory else name


def read_revisions(lay: Layout, revs: list[tuple[str, str]]) -> list[RevisionFiles]:
    """Read each ``(rev, flag)`` of ``revs``; every blob of every revision in one batch."""
    commits = [resolve(lay.top, rev, flag) for rev, flag in revs]
    listings = []
    wanted: dict[str, None] = {}
    for commit in commits:
        tenants = [(n, o) for n, o in _ls_tree(lay.top, commit, lay.tenants)]
        stacks = [
            (n, o)
            for n, o in _ls_tree(lay.top, commit, lay.stacks)
            if n.startswith(STACK_PREFIX) and len(n) > len(STACK_PREFIX) + len(SUFFIX)
        ]
        listings.append((tenants, stacks))
        for _, oid in (*tenants, *stacks):
            wanted[oid] = None
    blobs = cat_blobs(lay.top, list(wanted))
    out = []
    for (rev, _flag), commit, (tenants, stacks) in zip(revs, commits, listings, strict=True):
        files = RevisionFiles(rev=rev, commit=commit, label=f"{rev}:")
        for name, oid in tenants:
            files.tenants[_join(lay.tenants, name)] = blobs[oid]
        for name, oid in stacks:
            stack = name[len(STACK_PREFIX) : -len(SUFFIX)]
            files.stacks[stack] = blobs[oid]
            files.stack_paths[stack] = _join(lay.stacks, name)
        log.info(
            "read_revision rev=%s commit=%s tenants=%d stacks=%d", rev, commit[:12], len(tenants), len(stacks)
        )
        out.append(files)
    return out


def read_worktree(tenants_dir: Path, stacks_dir: Path) -> RevisionFiles:
    """The working tree's files (what ``validate`` and ``plan`` would read)."""
    files = RevisionFiles(rev=WORKTREE, commit=None, label="")
    if Path(tenants_dir).is_dir():
        for path in tenant_paths(Path(tenants_dir)):
            files.tenants[str(path)] = path.read_bytes()
    for name in discover_stacks(Path(stacks_dir)):
        path = stack_file(Path(stacks_dir), name)
        files.stacks[name] = path.read_bytes()
        files.stack_paths[name] = str(path)
    return files
