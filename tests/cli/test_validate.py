"""`mailfleet validate`: all problems listed, summaries, paths, warnings, JSON."""

from __future__ import annotations

import json

from tests.cli.conftest import assert_clean_failure


def test_valid_project_ok_summary(proj) -> None:
    result = proj.run("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 9 tenants (eu 5, us 4)")
    assert "9 tenant files, 2 stack files checked" in result.stdout
    # redwood uses a 1024-bit key: a warning, not a problem.
    assert "tenants/redwood.yaml: dkim.bits: warning: 1024-bit key" in result.stderr


def test_every_problem_is_listed_not_just_the_first(proj) -> None:
    (proj.tenants / "one.yaml").write_text(
        "slug: one\nname: One\nregion: eu\nmailboxes: ['a b', 'ok']\ndkim:\n  selector: x.y\n  bits: 512\n"
    )
    (proj.tenants / "two.yaml").write_text("slug: two\nname: Two\nregion: eu\nmailboxes: [x]\ncolour: red\n")
    (proj.tenants / "three.yaml").write_text("slug: three\n  name: x\n")
    result = proj.run("validate")
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines()[:-1] if "warning:" not in line]
    assert sorted(p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems) == sorted(
        [
            "tenants/one.yaml: mailboxes.0",
            "tenants/one.yaml: dkim.selector",
            "tenants/one.yaml: dkim.bits",
            "tenants/three.yaml: line 2",
            "tenants/two.yaml: colour",
        ]
    )
    assert result.stderr.splitlines()[-1] == (
        "validate: 5 problems in 3 files; 12 tenant files, 2 stack files checked"
    )


def test_conflict_between_regions_is_found_from_either_file(proj) -> None:
    (proj.tenants / "copycat.yaml").write_text(
        "slug: copycat\nname: Copy\nregion: us\nmailboxes: [a]\nsender_domain:\n  name: fjordbank.no\n"
    )
    everything = proj.run("validate")
    assert_clean_failure(everything, 1, "", "fjordbank.no", "already declared")
    # Given only the new file, the conflict with a file not given is still found.
    only = proj.run("validate", "tenants/copycat.yaml")
    assert_clean_failure(only, 1, "tenants/copycat.yaml", "fjordbank.no")
    # Given only an unrelated valid file, the problem is out of scope.
    other = proj.run("validate", "tenants/acme.yaml")
    assert other.returncode == 0, other.stderr
    assert other.stdout.startswith("OK: 1 tenant (eu 1); 1 tenant file, 0 stack files checked")


def test_paths_stack_files_and_missing_path(proj) -> None:
    ok = proj.run("validate", "Pulumi.eu.yaml", "Pulumi.us.yaml", "Pulumi.yaml", "tenants")
    assert ok.returncode == 0, ok.stderr
    assert "9 tenant files, 2 stack files checked" in ok.stdout
    missing = proj.run("validate", "tenants/nope.yaml")
    assert_clean_failure(missing, 2, "tenants/nope.yaml", "no such file")


def test_stack_secret_value_is_reported_without_the_value(proj) -> None:
    secret = "AAABAF0sEcReTcIpHeRtExT"
    path = proj.root / "Pulumi.eu.yaml"
    path.write_text(
        path.read_text().replace(
            "mailfleet:dmarcRua: mailto:dmarc-reports@mail.example.eu",
            f"mailfleet:dmarcRua:\n    secure: {secret}\n  mailgun:apiKey:\n    secure: {secret}",
        )
    )
    result = proj.run("validate", "--format", "json")
    assert result.returncode == 1
    assert secret not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    fields = {(p["file"], p["field"]) for p in data["problems"]}
    assert ("Pulumi.eu.yaml", "config.mailfleet:dmarcRua") in fields


def test_json_format_and_strict(proj) -> None:
    result = proj.run("validate", "--format", "json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["format"] == "mailfleet-validate/1"
    assert data["ok"] is True and data["problems"] == []
    assert data["checked"] == {"tenant_files": 9, "stack_files": 2}
    assert data["tenants_by_region"] == {"eu": 5, "us": 4}
    assert {"file": "tenants/redwood.yaml", "field": "dkim.bits"}.items() <= data["warnings"][0].items()
    strict = proj.run("validate", "--strict")
    assert strict.returncode == 1
    assert strict.stderr.splitlines()[-1].startswith("validate: 1 problem")


def test_warnings_for_reports_to_other_domains_and_migrations(proj) -> None:
    path = proj.tenants / "acme.yaml"
    path.write_text(path.read_text() + "dmarc:\n  rua: ['mailto:reports@dmarc-vendor.example']\n")
    result = proj.run("validate")
    assert result.returncode == 0, result.stderr
    assert (
        "tenants/acme.yaml: dmarc: warning: reports for acme.mail.example.eu go to dmarc-vendor.example, "
        "which must publish acme.mail.example.eu._report._dmarc.dmarc-vendor.example"
    ) in result.stderr


def test_lock_and_temp_files_are_not_tenants(proj) -> None:
    (proj.tenants / ".mailfleet.lock").write_bytes(b"")
    (proj.tenants / ".acme.yaml.x1y2.tmp").write_text("slug: [broken")
    result = proj.run("validate")
    assert result.returncode == 0, result.stderr
    assert "9 tenant files" in result.stdout


def test_a_dangling_tenant_symlink_is_a_problem_in_json(proj) -> None:
    # Before: silently skipped, so `validate` said OK while tenant "gone" had dropped out of its
    # stack.
    (proj.tenants / "gone.yaml").symlink_to("gone-for-real.yaml")
    result = proj.run("validate", "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["problems"] == [
        {
            "file": "tenants/gone.yaml",
            "field": "",
            "message": "dangling symlink: its target 'gone-for-real.yaml' does not exist "
            "(the tenant would drop out of its stack)",
        }
    ]


def test_a_symlink_to_a_tenant_file_is_valid(proj) -> None:
    # A symlink to a regular file is that file: no problem, and the tenant counts.
    target = proj.root / "kept.yaml"
    target.write_text("slug: kept\nname: Kept\nregion: eu\nmailboxes: [support]\n")
    (proj.tenants / "kept.yaml").symlink_to(target)
    result = proj.run("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 10 tenants (eu 6, us 4)")


def test_a_stack_secret_in_clear_is_reported_and_valid_tenants_still_count(proj) -> None:
    canary = "clear-canary-91c2"
    path = proj.root / "Pulumi.us.yaml"
    path.write_text(path.read_text() + f"  cloudflare:apiToken: {canary}\n")
    result = proj.run("validate")
    assert result.returncode == 1
    assert "Pulumi.us.yaml: config.cloudflare:apiToken: must be set with `pulumi config set --secret`" in (
        result.stderr.splitlines()
    )
    assert canary not in result.stdout + result.stderr
