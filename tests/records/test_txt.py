"""mailfleet.records.txt: one logical value, 255-octet strings only when rendered."""

from __future__ import annotations

import re

import pytest

from mailfleet.records import txt

# A 2048-bit DKIM record is about 410 octets: two strings once split.
DKIM_2048 = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9


def parse_quoted(text: str) -> list[str]:
    """The character-strings of a zone-file style value: ``"a" "b"`` -> ["a", "b"]."""
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    # Nothing but whitespace may sit between the quoted strings.
    assert re.fullmatch(r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+', text), text
    return [re.sub(r"\\(.)", r"\1", s) for s in strings]


@pytest.mark.parametrize(
    ("length", "sizes"),
    [(1, [1]), (254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (511, [255, 255, 1])],
)
def test_split_sizes(length: int, sizes: list[int]) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    chunks = txt.split(value)
    assert [len(c) for c in chunks] == sizes
    assert txt.join(chunks) == value


def test_split_empty_is_one_empty_string() -> None:
    assert txt.split("") == [""]


def test_split_custom_size() -> None:
    assert txt.split("abcdefg", 3) == ["abc", "def", "g"]


def test_join_adds_nothing_between_strings() -> None:
    # RFC 7208 3.3 / RFC 6376 3.6.2.2: concatenated with no space added.
    assert txt.join(["v=spf1 include:a", ".example ~all"]) == "v=spf1 include:a.example ~all"
    assert txt.join([b"v=DKIM1; ", b"p=abc"]) == "v=DKIM1; p=abc"


def test_quoted_form() -> None:
    assert txt.quoted("v=spf1 -all") == '"v=spf1 -all"'
    long = "x" * 300
    assert txt.quoted(long) == f'"{"x" * 255}" "{"x" * 45}"'


def test_render_route53_single_string_passes_as_is() -> None:
    assert txt.render("v=spf1 include:mailgun.org ~all", "route53") == "v=spf1 include:mailgun.org ~all"


def test_render_route53_long_value_is_inner_joined() -> None:
    rendered = txt.render(DKIM_2048, "route53")
    # pulumi-aws adds the outer quotes itself: on the wire "chunk1" "chunk2".
    assert not rendered.startswith('"')
    assert rendered.count('" "') == 1
    wire = f'"{rendered}"'
    strings = parse_quoted(wire)
    assert [len(s) for s in strings] == [255, len(DKIM_2048) - 255]
    assert txt.join(strings) == DKIM_2048


@pytest.mark.parametrize("provider", ["cloudflare", "bind", "manual"])
def test_render_quoted_providers_always_quote(provider: str) -> None:
    short = "v=DMARC1; p=reject"
    assert txt.render(short, provider) == '"v=DMARC1; p=reject"'
    rendered = txt.render(DKIM_2048, provider)
    strings = parse_quoted(rendered)
    assert all(len(s) <= 255 for s in strings)
    assert len(strings) == 2
    assert txt.join(strings) == DKIM_2048


@pytest.mark.parametrize("provider", ["route53", "cloudflare", "bind"])
@pytest.mark.parametrize(
    "value",
    [
        "v=spf1 include:mailgun.org ~all",
        DKIM_2048,
        "a" * 765,
        'has "quotes" and \\backslash\\ ' * 20,
    ],
)
def test_round_trip_through_join(provider: str, value: str) -> None:
    rendered = txt.render(value, provider)
    wire = f'"{rendered}"' if provider == "route53" else rendered
    strings = parse_quoted(wire)
    assert txt.join(strings) == value
    # Chunks are cut before escaping: every string holds at most 255 octets of content.
    assert all(len(s.encode()) <= txt.MAX_STRING_OCTETS for s in strings)


def test_escaping_quotes_and_backslashes() -> None:
    assert txt.render('a"b\\c', "bind") == '"a\\"b\\\\c"'
    assert txt.render('a"b', "route53") == 'a\\"b'
