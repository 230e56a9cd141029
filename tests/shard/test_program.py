"""The Pulumi program of a shard (``__main__.py`` under mocks) declares exactly its tenants."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.components.test_program import SECRET_CONFIG, _run_main
from tests.shard.conftest import shard_project


def test_each_shard_declares_only_the_tenants_that_name_it(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    tenants = project_dir / "tenants"
    (tenants / "nordlys.yaml").write_text(
        (tenants / "nordlys.yaml").read_text().replace("stack: eu-1", "stack: eu-2")
    )
    # A broken file on eu-1 never reaches eu-2's program (validate and eu-1's program report it).
    (tenants / "zz-broken.yaml").write_text("stack: eu-1\nslug: [oops\n")
    eu2 = _run_main(project_dir, "eu-2", SECRET_CONFIG, monkeypatch)
    providers = {"mailgun-eu", "aws-eu-central-1", "cloudflare"}
    assert {n for n in eu2.created if n not in providers and not n.startswith("nordlys")} == set()
    assert any(name == "nordlys" for name in eu2.created)
    with pytest.raises(Exception, match=r"zz-broken\.yaml"):
        _run_main(project_dir, "eu-1", SECRET_CONFIG, monkeypatch)
    (tenants / "zz-broken.yaml").unlink()
    eu1 = _run_main(project_dir, "eu-1", SECRET_CONFIG, monkeypatch)
    slugs = {p.stem for p in tenants.glob("*.yaml") if "stack: eu-1" in p.read_text()}
    assert {n for n in eu1.created if n in slugs | {"nordlys"}} == slugs
