"""`mailfleet import` as a process: usage errors (2), data and API failures (1), nothing half-written."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from mailfleet.errors import InvalidData
from mailfleet.fleet_import import run as import_run
from mailfleet.fleet_import.run import import_region
from mailfleet.fsutil import locked
from mailfleet.mailgun.client import MailgunClient
from tests.cli.conftest import assert_clean_failure
from tests.conftest import tree_bytes
from tests.fleet_import.conftest import World, secret_forms, stack_settings
from tests.fleet_import.fleet import TENANT_KINDS
from tests.ptyrun import run_on_pty


def client(world: World) -> MailgunClient:
    return MailgunClient("eu", world.fake.api_key, world.fake.base_url("eu"))


def test_without_the_key_it_is_a_usage_error(world: World) -> None:
    proc = world.run("import", "--from-mailgun", "--region", "eu", env={"MAILGUN_API_KEY": ""})
    assert_clean_failure(proc, 2, "MAILGUN_API_KEY", "is not set")
    assert world.fake.calls == []


def test_without_from_mailgun_it_is_a_usage_error(world: World) -> None:
    proc = world.run("import", "--region", "eu")
    assert_clean_failure(proc, 2, "--from-mailgun", "required")


def test_an_unknown_region_is_a_usage_error(world: World) -> None:
    proc = world.run("import", "--from-mailgun", "--region", "mars")
    assert proc.returncode == 2 and "--region" in proc.stderr and "Traceback" not in proc.stderr


def test_a_refused_key_is_one_line_and_exit_1(world: World) -> None:
    before = tree_bytes(world.tenants)
    proc = world.run("import", "--from-mailgun", "--region", "eu", env={"MAILGUN_API_KEY": "key-wrong"})
    line = assert_clean_failure(proc, 1, "Mailgun eu", "HTTP 401")
    assert "nothing written" in line
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tree_bytes(world.tenants) == before


def test_an_api_failure_midway_writes_nothing(world: World) -> None:
    before = tree_bytes(world.tenants)
    world.fake.inject(403, count=1, path=r"^/v4/domains/shop010\.mail")  # a domain's settings
    proc = world.run("import", "--from-mailgun", "--region", "eu")
    assert_clean_failure(proc, 1, "Mailgun eu", "/v4/domains/shop010.mail.example.eu", "HTTP 403")
    assert tree_bytes(world.tenants) == before


def test_progress_goes_to_stderr_and_data_to_stdout(world: World) -> None:
    proc = world.run("import", "--from-mailgun", "--region", "eu", "--format", "json")
    assert proc.returncode == 0
    assert proc.stdout.lstrip().startswith("{")
    lines = proc.stderr.splitlines()
    assert any("domains" in x and "routes listed" in x for x in lines)
    assert any(
        x.startswith("import eu: webhooks") and x.endswith(f"/{world.fleet.domain_count + 1}") for x in lines
    )


def test_text_output_lists_files_unmatched_items_and_a_summary(world: World) -> None:
    proc = world.run("import", "--from-mailgun", "--region", "eu", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "written (dry run)  tenants/shop001.yaml" in proc.stdout
    assert f"route {world.fleet.catch_all} " in proc.stdout
    assert "domain orphan.example: no tenant" in proc.stdout
    assert "Summary: 32 tenants (31 written, 1 updated, 0 unchanged)" in proc.stdout
    assert proc.stdout.rstrip().endswith("dry run: nothing written")


def test_a_tenant_that_breaks_a_project_rule_stops_the_whole_import(world: World) -> None:
    """Every file is validated before any is written: a new tenant whose sender domain lies in
    another tenant's zone (berlinbikes.de) refuses the import; no other file is written."""
    settings = stack_settings("eu")
    world.fake.seed_domain("zz.mail.example.eu", "eu")
    world.fake.seed_domain("news.berlinbikes.de", "eu")
    for d in ("zz.mail.example.eu", "news.berlinbikes.de"):
        world.fake.seed_webhooks("eu", d, {k: [f"{settings['webhookUrl']}/zz"] for k in TENANT_KINDS})
    world.fake.seed_route(
        "eu",
        'match_recipient("^info@zz\\.mail\\.example\\.eu$")',
        [f'forward("{settings["inboundUrl"]}/zz")'],
    )
    before = tree_bytes(world.tenants)
    proc = world.run("import", "--from-mailgun", "--region", "eu")
    assert_clean_failure(proc, 1, "tenants/zz.yaml", "berlinbikes.de")
    assert "nothing written" in proc.stderr
    assert "mailfleet-import-" not in proc.stderr  # problems name the real files
    assert tree_bytes(world.tenants) == before


def test_an_existing_file_that_cannot_be_edited_in_place_stops_the_import(world: World) -> None:
    path = world.tenants / "acme.yaml"
    path.write_text(path.read_text() + "adopted: {}\n")
    before = tree_bytes(world.tenants)
    proc = world.run("import", "--from-mailgun", "--region", "eu")
    assert_clean_failure(proc, 1, "tenants/acme.yaml", "adopted.mailgun", "inline")
    assert tree_bytes(world.tenants) == before


def test_a_project_with_problems_is_not_imported_into(world: World) -> None:
    (world.tenants / "broken.yaml").write_text("slug: broken\n")
    proc = world.run("import", "--from-mailgun", "--region", "eu")
    assert_clean_failure(proc, 1, "tenants", "fix them first")
    assert not (world.tenants / "shop001.yaml").exists()


def test_a_failed_write_puts_back_the_files_already_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_bytes(world.tenants)
    real = import_run.atomic_write
    written: list[Path] = []

    def flaky(path: Path, data: bytes) -> None:
        if len(written) == 5:  # the sixth file: the disk is full, once
            written.append(Path("(failed)"))
            raise OSError(28, "No space left on device")
        real(path, data)
        written.append(path)

    monkeypatch.setattr(import_run, "atomic_write", flaky)
    with pytest.raises(InvalidData) as info:
        import_region(world.tenants, world.root, client(world), dry_run=False)
    assert "No space left on device" in str(info.value) and "put back" in str(info.value)
    assert written[5] == Path("(failed)")  # then acme.yaml, the one existing file, is put back
    assert written[6:] == [world.tenants / "acme.yaml"]
    after = tree_bytes(world.tenants)
    after.pop(".mailfleet.lock")
    assert after == before  # acme.yaml restored, the new files removed


def test_writes_wait_for_the_tenants_directory_lock(world: World) -> None:
    done = threading.Event()
    box: dict[str, object] = {}

    def work() -> None:
        box["report"] = import_region(world.tenants, world.root, client(world), dry_run=False)
        done.set()

    with locked(world.tenants):
        thread = threading.Thread(target=work)
        thread.start()
        assert not done.wait(3)  # Mailgun read, then blocked on the lock
        assert not (world.tenants / "shop001.yaml").exists()
    thread.join(30)
    assert done.is_set() and (world.tenants / "shop001.yaml").exists()


def test_a_tenant_file_changed_while_reading_refuses_the_import(world: World) -> None:
    acme = world.tenants / "acme.yaml"

    def meddle(what: str, done: int, total: int) -> None:
        if what == "webhooks" and done == total:
            acme.write_text(acme.read_text().replace("[support, sales]", "[support, sales, billing]"))
            time.sleep(0.01)

    with pytest.raises(InvalidData) as info:
        import_region(world.tenants, world.root, client(world), dry_run=False, progress=meddle)
    assert "changed while Mailgun was being read" in str(info.value)
    assert not (world.tenants / "shop001.yaml").exists()


def test_a_conflicting_file_added_while_waiting_for_the_lock_is_caught(world: World) -> None:
    """Under the lock the directory is checked again: a tenant file added meanwhile that
    declares a domain the import would give another tenant refuses the import."""
    box: dict[str, BaseException] = {}

    def work() -> None:
        try:
            import_region(world.tenants, world.root, client(world), dry_run=False)
        except BaseException as exc:
            box["error"] = exc

    with locked(world.tenants):
        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(3)  # read, checked, waiting for the lock
        (world.tenants / "zz.yaml").write_text(
            "slug: zz\nname: Z\nregion: eu\nmailboxes: [info]\ndmarc: {policy: none}\n"
            "sender_domain: {name: shop001-store.example, dns: manual}\n"
        )
    thread.join(30)
    assert isinstance(box.get("error"), InvalidData), box
    assert "shop001-store.example" in str(box["error"])
    assert not (world.tenants / "shop001.yaml").exists()


def test_progress_is_one_line_on_a_terminal(world: World) -> None:
    argv = ["import", "--from-mailgun", "--region", "eu", "--format", "json", "--dry-run"]
    code, stdout, terminal = run_on_pty(argv, world.root, world.fake.env())
    assert code == 0, terminal
    assert "import eu: listing domains and routes" in terminal  # drawn from the start
    # then redrawn per reading step (which one is drawn last depends on which read ends last)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)
    steps = re.findall(r"import eu: (?!listing)([A-Za-z ]+?) [━ ]*(\d+)/(\d+)", plain)
    assert steps, plain
    assert steps[-1][1] == steps[-1][2]  # the last frame: that step done
    assert "routes listed" not in terminal  # a redrawn line, not the piped log lines
    assert json.loads(stdout)["format"].startswith("mailfleet-import")  # stdout: the data only
    for form in secret_forms(world.fake.api_key):
        assert form not in stdout and form not in terminal
