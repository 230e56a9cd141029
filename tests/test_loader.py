"""mailfleet.loader: YAML parsing, tenant files and collecting every problem."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mailfleet.desired.rules import tenant_problems
from mailfleet.errors import InvalidData
from mailfleet.loader import (
    MAX_NESTING,
    MailfleetLoader,
    TooDeep,
    check_nesting,
    json_nesting_exceeds,
    parse_yaml,
    scan_tenants,
    tenant_paths,
)
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
    (tmp_path / "subdir").mkdir()
    (tmp_path / "d.yml").mkdir()
    (tmp_path / "dangling.txt").symlink_to("missing")
    assert [p.name for p in tenant_paths(tmp_path)] == ["a.yaml", "b.yaml"]


def test_a_symlink_to_a_tenant_file_is_that_file(tmp_path: Path) -> None:
    write(tmp_path, "real.txt", VALID.format(slug="acme"))
    (tmp_path / "acme.yaml").symlink_to("real.txt")
    assert tenant_paths(tmp_path) == [tmp_path / "acme.yaml"]
    assert list(load_tenants(tmp_path).tenants) == ["acme"]


def _bad_entry(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A ``*.yaml`` entry of ``kind`` in ``tmp_path`` and the problem line it must give."""
    path = tmp_path / "x.yaml"
    if kind == "directory":
        path.mkdir()
        return path, f"{path}: is a directory, not a tenant file"
    if kind == "dangling-symlink":
        path.symlink_to("missing")
        return (
            path,
            f"{path}: dangling symlink: its target 'missing' does not exist (the tenant would drop out of its stack)",
        )
    if kind == "symlink-loop":
        path.symlink_to("y.yaml")
        (tmp_path / "y.yaml").symlink_to("x.yaml")
        return path, f"{path}: symlink loop (too many levels of symbolic links); not a tenant file"
    assert kind == "fifo"
    os.mkfifo(path)
    return path, f"{path}: is not a regular file (tenant files are plain YAML files)"


BAD_ENTRIES = ["directory", "dangling-symlink", "symlink-loop", "fifo"]


@pytest.mark.parametrize("kind", BAD_ENTRIES)
def test_a_yaml_entry_that_is_not_a_file_is_a_problem_never_skipped(tmp_path: Path, kind: str) -> None:
    # Skipped silently, the tenant would drop out of its stack: the next `pulumi up` would
    # delete its resources.
    write(tmp_path, "acme.yaml", VALID.format(slug="acme"))
    _path, line = _bad_entry(tmp_path, kind)
    paths, problems = scan_tenants(tmp_path)
    assert paths == [tmp_path / "acme.yaml"]
    lines = [str(p) for p in problems]
    assert line in lines
    if kind == "symlink-loop":
        assert lines == sorted([line, line.replace("x.yaml", "y.yaml")])
    else:
        assert lines == [line]
    with pytest.raises(InvalidData) as exc:
        tenant_paths(tmp_path)
    assert exc.value.lines() == lines
    # Loading keeps the valid tenants and lists the entry like a bad file.
    loaded = load_tenants(tmp_path)
    assert list(loaded.tenants) == ["acme"]
    assert [str(p) for p in loaded.problems] == lines


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


def _nested_seq(depth: int) -> str:
    return "[" * depth + "]" * depth


def _nested_map(depth: int) -> str:
    return "{a: " * depth + "1" + "}" * depth


def _block_map(depth: int, indent: int = 0) -> str:
    return "".join(" " * (indent + i) + "a:\n" for i in range(depth)) + " " * (indent + depth) + "1\n"


@pytest.mark.parametrize(
    "make", [_nested_seq, _nested_map, _block_map], ids=["flow-seq", "flow-map", "block-map"]
)
def test_nesting_up_to_the_limit_parses(make: Callable[[int], str]) -> None:
    assert parse_yaml(make(MAX_NESTING)) is not None


@pytest.mark.parametrize(
    "make", [_nested_seq, _nested_map, _block_map], ids=["flow-seq", "flow-map", "block-map"]
)
@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 10_000])
def test_nesting_over_the_limit_is_refused_before_anything_is_built(
    make: Callable[[int], str], depth: int
) -> None:
    # Without the limit a deep mapping raises RecursionError while it is constructed.
    with pytest.raises(TooDeep) as exc:
        parse_yaml(make(depth))
    assert exc.value.problem == f"nesting deeper than {MAX_NESTING} levels"


def test_deep_nesting_is_one_problem_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", VALID.format(slug="acme") + "dkim:\n" + _block_map(10_000, indent=2))
    # The top level is level 1, dkim's mapping (line 6) level 2: level 101 starts on line 105.
    assert problems_of(path) == [f"{path}: line {5 + MAX_NESTING}: nesting deeper than {MAX_NESTING} levels"]


def test_a_million_levels_do_not_crash_the_process(tmp_path: Path) -> None:
    # libyaml's composer recurses in C: without the check this is a segmentation fault.
    path = write(tmp_path, "acme.yaml", "mailboxes: " + _nested_seq(1_000_000) + "\n")
    code = (
        "import sys\nfrom pathlib import Path\nfrom mailfleet.model.load import load_tenant_file\n"
        "print(*load_tenant_file(Path(sys.argv[1]))[1])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout == f"{path}: line 1: nesting deeper than {MAX_NESTING} levels\n"


def test_aliases_count_as_deep_as_their_expansion() -> None:
    # Each anchor nests 40 levels around the previous one: 40, 80, 120 levels once expanded.
    text = "a0: &a0 " + _nested_seq(40) + "\n"
    for i in (1, 2):
        text += f"a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40 + "\n"
    with pytest.raises(TooDeep) as exc:
        parse_yaml(text)
    assert exc.value.problem == f"nesting deeper than {MAX_NESTING} levels (through the alias *a1)"
    assert exc.value.problem_mark.line == 2
    assert parse_yaml(text.rsplit("a2:", 1)[0]) is not None


def test_many_shallow_collections_are_not_deep() -> None:
    # Over the cheap bound (one start character per collection), under the real limit.
    text = "".join(f"k{i}: [a, {{b: c}}]\n" for i in range(MAX_NESTING))
    check_nesting(text)
    assert len(parse_yaml(text)) == MAX_NESTING


def test_nesting_check_leaves_syntax_errors_to_the_parser() -> None:
    text = "a: [" + "[1], " * MAX_NESTING + "\n"  # unterminated
    check_nesting(text)
    with pytest.raises(yaml.YAMLError) as exc:
        parse_yaml(text)
    assert not isinstance(exc.value, TooDeep)


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1), True),
        ('{"a": ' * 5000 + "1" + "}" * 5000, True),
        ("[" * MAX_NESTING + "]" * MAX_NESTING, False),
        ('{"k": "' + "[" * 500 + '"}', False),  # brackets inside a string do not nest
        ('{"k\\"[": "' + "{" * 500 + '"}', False),  # nor after an escaped quote
        ("{" + ", ".join(f'"k{i}": [1]' for i in range(500)) + "}", False),
    ],
)
def test_json_nesting(text: str, deep: bool) -> None:
    assert json_nesting_exceeds(text) is deep
