"""Reading TXT ``content`` as Cloudflare stores it: quoted, split, escaped, or raw."""

from __future__ import annotations

import pytest

from mailfleet.cloudflare.txt import txt_strings, txt_value
from tests.fakes.cloudflare_server import txt_content


@pytest.mark.parametrize(
    ("content", "strings"),
    [
        ('"v=spf1 include:mailgun.org ~all"', ["v=spf1 include:mailgun.org ~all"]),
        ('"abc" "def"', ["abc", "def"]),
        ('"say \\"hi\\"" "back\\\\slash"', ['say "hi"', "back\\slash"]),
        ('"caf\\195\\169"', ["caf\u00e9"]),  # \DDD are bytes: a UTF-8 sequence decodes as one character
        ('"a"  bare  "b"', ["a", "bare", "b"]),
        ("v=spf1 include:mailgun.org ~all", ["v=spf1 include:mailgun.org ~all"]),  # unquoted (raw)
        ('""', [""]),
    ],
)
def test_txt_strings(content: str, strings: list[str]) -> None:
    assert txt_strings(content) == strings


def test_txt_value_joins_without_separator() -> None:
    assert txt_value('"v=DKIM1; k=rsa; p=MIIB" "IjANBg"') == "v=DKIM1; k=rsa; p=MIIBIjANBg"


def test_an_unclosed_quote_is_refused() -> None:
    with pytest.raises(ValueError, match="never closed"):
        txt_strings('"v=spf1 include:mailgun.org')


@pytest.mark.parametrize(
    "value",
    [
        "google-site-verification=Aa4kOdcBuOpShjcQSddCu7n4j2uLfoduTLX0a0gao7E",
        'quotes " and \\ backslashes',
        "k=rsa; p=" + "A" * 600,  # three character-strings
        "\u00e9" * 200,  # 400 bytes: split at a character boundary, not inside one
    ],
)
def test_round_trip_with_the_fakes_independent_quoting(value: str) -> None:
    stored = txt_content(value)
    assert all(len(s.encode()) <= 255 for s in txt_strings(stored))
    assert txt_value(stored) == value
    assert txt_value(txt_content(value, "raw")) == value
