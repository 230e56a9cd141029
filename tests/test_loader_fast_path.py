"""parse_yaml's one-pass builder gives exactly what PyYAML's constructor gives, or its error.

Every document is parsed both ways: ``parse_yaml`` and ``yaml.load(..., MailfleetLoader)`` (the
loader it replaced). Plain documents must not reach PyYAML's constructor at all (that is the
speed-up); every other document must (that is how its values and errors stay PyYAML's).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailfleet import loader
from mailfleet.loader import MailfleetLoader, parse_yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from gen import tenant_yaml  # noqa: E402

PLAIN = [
    "slug: acme\nname: Acme\nmailboxes: [support, sales]\n",
    "a: 1\nb: -0x1F\nc: 0o17\nd: 012\ne: 1_000\nf: 1:30\ng: +7\n",
    "a: 1.5\nb: .inf\nc: -.Inf\nd: 1e3\ne: 6.8523015e+5\nf: 190:20:30.15\n",
    "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: False\n",
    "a: ~\nb: null\nc:\nd: ''\ne: 'yes'\nf: \"1\"\ng: !!str 12\n",
    "? [a\n: b\n",  # not valid YAML at all: the same syntax error
    "{1: one, 2.5: two, false: three, null: four, '1': five}\n",
    "- - 1\n  - [2, [3, {x: y}]]\n- {}\n- []\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "",
    "# only a comment\n",
    "just a string\n",
    "42\n",
    "dmarc: {policy: reject, rua: [mailto:d@x.no]}\n",
]

UNUSUAL = [
    "a: &x [1, 2]\nb: *x\n",  # an alias: the same list object twice
    "a: &x {k: v}\nb:\n  <<: *x\n  j: w\n",  # a merge key
    "a: &x [1, *x]\n",  # a recursive alias
    "a: 1\nb: 2\na: 3\n",  # a duplicate key
    "a:\n  x: 1\n  x: 2\nb: 1\nb: 2\n",  # two duplicates: PyYAML's order decides which one is told
    "? [1, 2]\n: v\n",  # an unhashable key
    "{1: one, true: two}\n",  # 1 == True: a duplicate key to PyYAML too
    "when: 2001-12-14\n",  # a timestamp
    "blob: !!binary aGVsbG8=\n",
    "x: !custom 1\n",
    "s: !!set {a, b}\n",
    "o: !!omap [a: 1, b: 2]\n",
    "a: 1\n---\nb: 2\n",  # two documents
    "x: !!int abc\n",  # a tag the value does not fit
]


def _outcome(fn: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", fn(text)
    except (yaml.YAMLError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (repr tells True from 1 and '1' from 1,
    shows nan as nan and a recursive list as [...])."""
    return type(a) is type(b) and repr(a) == repr(b)


def _old(text: str) -> Any:
    return yaml.load(text, Loader=MailfleetLoader)


@pytest.mark.parametrize("text", PLAIN + UNUSUAL)
def test_same_values_and_errors_as_pyyaml(text: str) -> None:
    ours, theirs = _outcome(parse_yaml, text), _outcome(_old, text)
    assert ours[0] == theirs[0]
    assert _same(ours[1], theirs[1]) if ours[0] == "value" else ours[1] == theirs[1]


def test_nan_is_built_as_pyyaml_builds_it() -> None:
    assert math.isnan(parse_yaml("x: .nan\n")["x"])


@pytest.mark.parametrize("text", [t for t in PLAIN if not t.startswith("? [a")])
def test_plain_documents_skip_pyyamls_constructor(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _old(text)

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the full constructor was used for a plain document")

    monkeypatch.setattr(loader.yaml, "load", refuse)
    assert parse_yaml(text) == expected


@pytest.mark.parametrize("text", UNUSUAL[:-2])
def test_unusual_documents_go_to_pyyamls_constructor(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = yaml.load

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(loader.yaml, "load", counting)
    _outcome(parse_yaml, text)
    assert calls == [text]


def test_aliases_keep_pyyamls_shared_objects() -> None:
    data = parse_yaml("a: &x [1, 2]\nb: *x\n")
    assert data["a"] is data["b"]


def test_generated_tenants_parse_the_same(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    for i in range(300):
        _slug, text = tenant_yaml(i, rng)
        assert _same(parse_yaml(text.encode()), _old(text))
