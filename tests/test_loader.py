"""mailfleet.loader: YAML parsing, tenant files and collecting every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mailfleet.desired.rules import tenant_problems
from mailfleet.errors import InvalidData
from mailfleet.loader import MailfleetLoader, parse_yaml, tenant_paths
from mailfleet.model.load import load_tenant_file, load_tenants
from tests.model.data import way1

VALID = "slug: {slug}\nname: {slug} Ltd\nregion: eu\nmailboxes: [support]\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    tenant, problems = load_tenant_file(path)
    assert (tenant is None) == bool(problems)
    return [str(p) for p in problems]


def test_the_loader_is_libyaml_based_when_available() -> None:
    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(MailfleetLoader, yaml.CSafeLoader)
    assert issubclass(MailfleetLoader, yaml.SafeLoader) or issubclass(MailfleetLoader, yaml.CSafeLoader)


def test_parse_yaml_is_safe() -> None:
    with pytest.raises(yaml.YAMLError):
        parse_yaml("!!python/object/apply:os.system ['true']")


def test_valid_file(tmp_path: Path) -> None:
    tenant, problems = load_tenant_file(write(tmp_path, "acme.yaml", VALID.format(slug="acme")))
    assert problems == []
    assert tenant is not None and tenant.slug == "acme"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", "slug: acme\nname: Acme\nmailboxes: [support\nregion: eu\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: line ")
    assert "YAML syntax error:" in line
    line_no = int(line.split(": line ")[1].split(":")[0])
    assert 3 <= line_no <= 5


def test_tab_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", "slug: acme\ndmarc:\n\tpolicy: none\n")
    (line,) = problems_of(path)
    assert "YAML syntax error" in line and line.startswith(f"{path}: line 3: ")


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", VALID.format(slug="acme") + "region: us\n")
    assert problems_of(path) == [f"{path}: line 5: duplicate key 'region' (line 5)"]


def test_duplicate_nested_key(tmp_path: Path) -> None:
    text = VALID.format(slug="acme") + "dmarc:\n  policy: none\n  policy: reject\n"
    path = write(tmp_path, "acme.yaml", text)
    assert problems_of(path) == [f"{path}: line 7: duplicate key 'policy' (line 7)"]


def test_duplicate_key_in_flow_mapping(tmp_path: Path) -> None:
    text = VALID.format(slug="acme") + "dkim: {bits: 1024, bits: 2048}\n"
    path = write(tmp_path, "acme.yaml", text)
    (line,) = problems_of(path)
    assert "duplicate key 'bits'" in line


def test_unhashable_key_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", "? [a, b]\n: 1\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: line 1: YAML syntax error:")
    assert "unhashable" in line


def test_multiple_documents_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", VALID.format(slug="acme") + "---\nslug: other\n")
    (line,) = problems_of(path)
    assert "YAML syntax error" in line


def test_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", b"slug: acme\nname: Caf\xe9\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: YAML syntax error:")
    assert "utf-8" in line.lower()


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "acme.yaml", text)
    assert problems_of(path) == [f"{path}: file is empty"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- slug: acme\n", "list"), ("acme\n", "str"), ("42\n", "int"), ("true\n", "bool")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, "acme.yaml", text)
    assert problems_of(path) == [f"{path}: top level must be a mapping, not {kind}"]


def test_file_name_must_match_slug(tmp_path: Path) -> None:
    path = write(tmp_path, "acme-corp.yaml", VALID.format(slug="acme"))
    assert problems_of(path) == [f"{path}: slug: slug 'acme' does not match the file name 'acme-corp.yaml'"]


def test_schema_errors_come_with_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", VALID.format(slug="acme") + "dkim:\n  bits: 4096\n")
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: dkim.bits: ")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.mkdir()  # a directory where a file is expected: reading fails
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: cannot read:")


def test_tenant_paths_only_yaml_files_sorted(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml", "c.yml", "notes.txt"):
        write(tmp_path, name, "x: 1\n")
    (tmp_path / "d.yaml").mkdir()
    assert [p.name for p in tenant_paths(tmp_path)] == ["a.yaml", "b.yaml"]


def test_missing_tenants_dir(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as exc:
        tenant_paths(tmp_path / "nope")
    assert exc.value.lines() == [f"{tmp_path / 'nope'}: tenants directory does not exist"]


def test_load_tenants_keeps_valid_ones_and_lists_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", VALID.format(slug="good"))
    write(tmp_path, "also-good.yaml", VALID.format(slug="also-good"))
    bad1 = write(tmp_path, "bad1.yaml", "slug: bad1\nslug: bad1\n")
    bad2 = write(tmp_path, "bad2.yaml", VALID.format(slug="bad2") + "tracking: maybe\nregion2: x\n")
    empty = write(tmp_path, "empty.yaml", "")
    loaded = load_tenants(tmp_path)
    assert sorted(loaded.tenants) == ["also-good", "good"]
    assert loaded.paths["good"] == tmp_path / "good.yaml"
    wheres = sorted(p.where for p in loaded.problems)
    assert wheres == sorted([str(bad1), str(bad2), str(bad2), str(empty)])
    with pytest.raises(InvalidData) as exc:
        loaded.raise_for_problems()
    assert len(exc.value.lines()) == 4


def test_load_tenants_subset_of_paths(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID.format(slug="a"))
    b = write(tmp_path, "b.yaml", VALID.format(slug="b"))
    write(tmp_path, "c.yaml", "broken: [")
    loaded = load_tenants(tmp_path, [b])
    assert list(loaded.tenants) == ["b"]
    assert loaded.problems == []
    loaded.raise_for_problems()  # nothing to raise


def test_yaml_11_booleans_do_not_sneak_into_strings(tmp_path: Path) -> None:
    # "no" is a YAML 1.1 boolean: a mailbox named no must be quoted, and unquoted is an error.
    path = write(tmp_path, "acme.yaml", "slug: acme\nname: Acme\nregion: eu\nmailboxes: [no]\n")
    assert problems_of(path) == [f"{path}: mailboxes.0: Input should be a valid string"]
    ok = write(tmp_path, "acme2.yaml", "slug: acme2\nname: Acme\nregion: eu\nmailboxes: ['no']\n")
    assert problems_of(ok) == []


def test_helper_data_round_trips_through_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", yaml.safe_dump(way1()))
    assert problems_of(path) == []


def test_yml_files_are_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "acme.yaml", VALID.format(slug="acme"))
    write(tmp_path, "typo.yml", VALID.format(slug="typo"))
    with caplog.at_level("WARNING", logger="mailfleet.loader"):
        loaded = load_tenants(tmp_path)
    assert list(loaded.tenants) == ["acme"]
    assert [r.getMessage() for r in caplog.records] == [
        f"ignored tenant file: path={tmp_path / 'typo.yml'} reason='tenant files end in .yaml'"
    ]


def test_block_scalar_newline_does_not_slip_into_a_name(tmp_path: Path) -> None:
    text = "slug: acme\nname: Acme\nregion: eu\nmailboxes:\n  - |\n    support\n"
    path = write(tmp_path, "acme.yaml", text)
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: mailboxes.0: mailbox 'support\\n' may only contain")


def test_a_tenant_file_not_ending_in_yaml_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yml", VALID.format(slug="acme"))
    assert problems_of(path) == [f"{path}: tenant files end in .yaml (named tenants/<slug>.yaml)"]


def test_spf_include_of_the_domain_itself_is_a_loop(tmp_path: Path) -> None:
    text = (
        VALID.format(slug="acme")
        + "sender_domain:\n  name: acme.no\n  spf_includes: [sendgrid.net, acme.no]\n"
    )
    path = write(tmp_path, "acme.yaml", text)
    # The schema alone accepts it; the tenant's own rules (run by every command) do not.
    tenant, problems = load_tenant_file(path)
    assert tenant is not None and problems == []
    assert [str(p) for p in tenant_problems(tenant, str(path))] == [
        f"{path}: sender_domain.spf_includes: include:acme.no is the domain's own SPF record "
        "(it would include itself: an SPF loop, permerror)"
    ]
    other = write(tmp_path, "acme.yaml", text.replace("acme.no]", "mail.acme.no]"))
    tenant, _ = load_tenant_file(other)
    assert tenant is not None and tenant_problems(tenant, str(other)) == []
