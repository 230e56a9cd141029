"""``diff --affected-stacks``: which stacks a change touches, in a real git repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailfleet.diff.affected import Parallelism
from tests.conftest import run_cli
from tests.diff.conftest import Repo

FORMAT = "mailfleet-affected-stacks/1"


def affected(repo: Repo, *args: str) -> dict[str, Any]:
    proc = repo.diff("--affected-stacks", "--base", "main", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == FORMAT
    return doc


def stacks(doc: dict[str, Any]) -> list[str]:
    return [s["stack"] for s in doc["stacks"]]


def shard_eu(repo: Repo) -> None:
    """Region eu in two shards, eu-1 and eu-2, every eu tenant pinned (committed)."""
    text = (repo.root / "Pulumi.eu.yaml").read_text()
    (repo.root / "Pulumi.eu.yaml").unlink()
    (repo.root / "Pulumi.eu-1.yaml").write_text(text)
    (repo.root / "Pulumi.eu-2.yaml").write_text(text)
    for i, path in enumerate(sorted((repo.root / "tenants").glob("*.yaml"))):
        body = path.read_text()
        if "region: eu" in body:
            path.write_text(body.replace("region: eu\n", f"region: eu\nstack: eu-{1 + i % 2}\n", 1))
    repo.commit("shards")


def test_no_change_affects_no_stack(repo: Repo) -> None:
    doc = affected(repo)
    assert doc["stacks"] == [] and doc["all_stacks"] is False
    assert doc["reason"] == "no tenant, stack or program file changed"
    assert doc["head"] == {"rev": "WORKTREE", "commit": None}


def test_one_tenant_affects_its_stack_only(repo: Repo) -> None:
    repo.edit("nordlys", "booking", "bookings")
    doc = affected(repo)
    assert stacks(doc) == ["eu"]
    assert doc["stacks"][0]["region"] == "eu"
    assert doc["stacks"][0]["reasons"] == ["tenant nordlys"]
    repo.edit("bluebird", "region: us", "region: us")  # no-op edit: nothing changes for us
    assert stacks(affected(repo)) == ["eu"]


def test_a_new_untracked_tenant_file_counts(repo: Repo) -> None:
    (repo.root / "tenants" / "newco.yaml").write_text(
        "slug: newco\nname: New Co\nregion: us\nmailboxes: [hello]\n"
    )
    assert stacks(affected(repo)) == ["us"]


def test_a_removed_tenant_affects_the_stack_that_declared_it(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.tenant("acme").unlink()
    repo.commit("remove acme")
    assert stacks(affected(repo, "--head", "HEAD")) == ["eu"]


@pytest.mark.parametrize(
    "path",
    [
        "mailfleet/desired/build.py",
        "components/tenant_mail.py",
        "__main__.py",
        "Pulumi.yaml",
        "requirements.txt",
    ],
)
def test_program_code_affects_every_stack(repo: Repo, path: str) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    target = repo.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(target.read_text() + "\n# changed\n" if target.exists() else "# new\n")
    repo.commit(f"change {path}")
    doc = affected(repo, "--head", "HEAD")
    assert doc["all_stacks"] is True
    assert stacks(doc) == ["eu", "us"]
    assert doc["reason"] == f"code changed: {path}"


def test_docs_and_tests_affect_nothing(repo: Repo) -> None:
    for path in ("README.md", "docs/x.md", "tests/test_x.py", "requirements-dev.txt", "tenants/notes.txt"):
        (repo.root / path).parent.mkdir(parents=True, exist_ok=True)
        (repo.root / path).write_text("x\n")
    doc = affected(repo)
    assert doc["stacks"] == [] and doc["all_stacks"] is False


def test_a_stack_file_affects_that_stack_and_a_removed_one_is_listed_apart(repo: Repo) -> None:
    path = repo.root / "Pulumi.us.yaml"
    path.write_text(path.read_text().replace("recordTtl: 3600", "recordTtl: 1800"))
    assert stacks(affected(repo)) == ["us"]
    path.unlink()
    for t in (repo.root / "tenants").glob("*.yaml"):
        if "region: us" in t.read_text():
            t.unlink()
    doc = affected(repo)
    assert stacks(doc) == []
    assert doc["removed_stacks"] == [{"stack": "us", "region": "us"}]


def test_shards_only_the_tenants_shard_and_both_ends_of_a_move(repo: Repo) -> None:
    shard_eu(repo)
    slug = "nordlys"
    home = "eu-1" if "stack: eu-1" in repo.tenant(slug).read_text() else "eu-2"
    other = "eu-2" if home == "eu-1" else "eu-1"
    repo.edit(slug, "booking", "bookings")
    assert stacks(affected(repo)) == [home]
    repo.edit(slug, f"stack: {home}", f"stack: {other}")
    doc = affected(repo)
    assert stacks(doc) == ["eu-1", "eu-2"]
    assert all(s["reasons"] == [f"tenant {slug}"] for s in doc["stacks"])


def test_an_invalid_changed_tenant_is_one_line_exit_1(repo: Repo) -> None:
    repo.edit("acme", "region: eu", "region: mars")
    proc = repo.diff("--affected-stacks", "--base", "main", "--format", "json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("tenants/acme.yaml: region: ")
    assert "Traceback" not in proc.stderr


def test_usage_errors_name_the_flag(repo: Repo) -> None:
    for args, flag in (
        (("--stack", "eu"), "--stack"),
        (("--format", "markdown"), "--format markdown"),
        (("--stacks-at-once", "0"), "--stacks-at-once"),
        (("--api-latency", "0"), "--api-latency"),
    ):
        proc = repo.diff("--affected-stacks", "--base", "main", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith(f"{flag}: "), proc.stderr
    proc = repo.diff("--affected-stacks", "--base", "nope")
    assert proc.returncode == 2 and proc.stderr.strip() == "--base: unknown revision 'nope'"


def test_parallel_comes_from_the_rate_limits(repo: Repo) -> None:
    repo.edit("nordlys", "booking", "bookings")
    one = affected(repo)
    # One stack alone: min(Mailgun 5/s, Cloudflare 4/s) x 1 s latency = 4 operations in flight.
    assert [s["parallel"] for s in one["stacks"]] == [4]
    assert one["max_parallel"] == 1
    assert one["parallelism"]["mailgun_requests_per_second"] == 5.0
    assert one["parallelism"]["cloudflare_requests_per_second"] == 4.0
    repo.edit("bluebird", "name: ", "name: X")
    two = affected(repo)
    # Two stacks at once share Cloudflare's budget: 4 x 1 / 2 = 2 each.
    assert [(s["stack"], s["parallel"]) for s in two["stacks"]] == [("eu", 2), ("us", 2)]
    slow = affected(repo, "--api-latency", "3")
    assert [s["parallel"] for s in slow["stacks"]] == [6, 6]
    serial = affected(repo, "--stacks-at-once", "1")
    assert serial["max_parallel"] == 1 and [s["parallel"] for s in serial["stacks"]] == [4, 4]


def test_parallel_arithmetic_per_region() -> None:
    rates = Parallelism(latency=1.0, stacks_at_once=20)
    # 20 stacks at once, 10 of them in this region: Cloudflare 4/20 and Mailgun 5/10 floor to 0: at least 1.
    assert rates.parallel(20, 10) == 1
    assert Parallelism(latency=10.0).parallel(2, 1) == 20  # Cloudflare: 4 x 10 / 2
    assert Parallelism(latency=10.0).parallel(2, 2) == 20  # Mailgun 5 x 10 / 2 = 25, Cloudflare 20


def test_table_output(repo: Repo) -> None:
    repo.edit("nordlys", "booking", "bookings")
    proc = repo.diff("--affected-stacks", "--base", "main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "affected stacks: 1 tenant file(s), 0 stack file(s) changed",
        "stack  region  parallel  why",
        "eu     eu      4         tenant nordlys",
        "at most 1 stack(s) at once",
    ]


def test_project_in_a_subdirectory(tmp_path: Path, project_dir: Path) -> None:
    top = tmp_path / "mono"
    top.mkdir()
    project_dir.rename(top / "infra")
    repo = Repo(top)
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    (top / "mailfleet").mkdir()
    (top / "mailfleet" / "x.py").write_text("# not the project's code\n")
    (top / "infra" / "tenants" / "acme.yaml").write_text(
        (top / "infra" / "tenants" / "acme.yaml").read_text().replace("sales", "sales2")
    )
    proc = run_cli(
        "--stacks-dir", "infra", "diff", "--affected-stacks", "--base", "main", "--format", "json", cwd=top
    )
    assert proc.returncode == 0, proc.stderr
    assert stacks(json.loads(proc.stdout)) == ["eu"]
