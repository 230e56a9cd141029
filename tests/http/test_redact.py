"""``mailfleet.http.redact``: a secret that does not print itself, scrubbing, base-URL refusal."""

from __future__ import annotations

import base64
import json

import pytest

from mailfleet.http.redact import (
    ERROR_TEXT_MAX,
    MASK,
    Secret,
    base64_forms,
    check_base_url,
    is_loopback,
    sendable,
    server_text,
    with_escapes,
)

VALUE = "s3cr3t-Value/with+slash"


class Token(Secret):
    __slots__ = ()


def test_a_secret_never_shows_itself_but_reveals_on_request() -> None:
    token = Token(VALUE, {VALUE})
    assert repr(token) == "Token('***')"
    assert repr(Secret(VALUE, {VALUE})) == "Secret('***')"
    assert str(token) == MASK == "***"
    assert f"{token}" == "***"
    assert token.reveal() == VALUE
    assert not hasattr(token, "__dict__")  # slots only: vars() cannot show it


def test_scrub_cuts_every_form_ignoring_case_longest_first() -> None:
    token = Token(VALUE, {VALUE, "Bearer " + VALUE, "abc"})
    assert token.scrub(f"a {VALUE} b {VALUE.upper()} c ABC") == "a *** b *** c ***"
    assert token.scrub(f"bearer {VALUE}!") == "***!"
    # Where a form is the start of a longer one, the longer wins: no tail is left behind.
    padded = Token(VALUE, {VALUE, VALUE + "=="})
    assert padded.scrub(f"<{VALUE}==>") == "<***>"
    assert token.scrub("nothing here") == "nothing here"


def test_scrub_json_reaches_every_string_and_key() -> None:
    token = Token(VALUE, {VALUE})
    body = {VALUE: [f"x{VALUE}", {"n": 1, "t": True, "z": None, "s": VALUE}], 3: 2.5}
    assert token.scrub_json(body) == {"***": ["x***", {"n": 1, "t": True, "z": None, "s": "***"}], 3: 2.5}
    assert VALUE not in json.dumps(token.scrub_json(body))
    assert token.scrub_json(7) == 7


@pytest.mark.parametrize(
    ("value", "ok"), [("key-abc_123", True), ("a b", False), ("a\nb", False), ("é", False)]
)
def test_sendable(value: str, ok: bool) -> None:
    assert sendable(value) is ok


def test_base64_forms() -> None:
    raw = b"\xfb\xff" + b"api:k"
    assert base64_forms(raw) == {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    assert len(base64_forms(raw)) == 2  # "+/" against "-_"


def test_with_escapes_adds_json_and_percent_forms() -> None:
    assert with_escapes({"a/b=c"}) == {"a/b=c", "a\\/b=c", "a%2Fb%3Dc"}
    assert with_escapes({"plain"}) == {"plain"}


def test_server_text_is_scrubbed_before_it_is_cut_and_kept_on_one_line() -> None:
    token = Token(VALUE, {VALUE})
    long = "x" * (ERROR_TEXT_MAX - 3) + VALUE  # cut first, part of the secret would remain
    assert server_text(long, None, token.scrub) == "x" * (ERROR_TEXT_MAX - 3) + "***"
    longer = "y" * ERROR_TEXT_MAX + " tail"
    assert server_text(longer, None, token.scrub) == "y" * ERROR_TEXT_MAX + "..."
    assert server_text(f"bad\n  key {VALUE}\t!", None, token.scrub) == "bad key *** !"


def test_server_text_falls_back_to_the_reason_then_error() -> None:
    token = Token(VALUE, {VALUE})
    assert server_text(" \n ", f"Bad  {VALUE}", token.scrub) == "Bad ***"
    assert server_text("", None, token.scrub) == "error"
    assert server_text("", "", token.scrub) == "error"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("localhost.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


class Refused(ValueError):
    pass


def check(url: str, **kw: bool) -> str:
    return check_base_url(url, where="the X base URL", secret="API key", env="X_KEY", error=Refused, **kw)


def test_a_good_base_url_loses_its_trailing_slash() -> None:
    assert check("https://api.example.com/v3/") == "https://api.example.com/v3"
    assert check("http://example.com:8080") == "http://example.com:8080"
    assert check("http://127.0.0.1:9/", https_unless_loopback=True) == "http://127.0.0.1:9"
    assert check("HTTPS://example.com", https_unless_loopback=True) == "HTTPS://example.com"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "https://api:key-SECRET@example.com",
            "must not carry credentials (user:password@host): the API key is passed on its own (X_KEY)",
        ),
        ("https://example.com:SECRET", "is not a valid URL"),
        ("ftp://example.com/SECRET", "must start with https:// (or http:// for a local fake)"),
        ("https:///SECRET", "has no host"),
        ("https://example.com/?k=SECRET", "must not have a query or fragment"),
        ("https://example.com/#SECRET", "must not have a query or fragment"),
    ],
)
def test_a_bad_base_url_is_refused_without_being_repeated(url: str, says: str) -> None:
    with pytest.raises(Refused) as info:
        check(url)
    message = str(info.value)
    assert message == f"the X base URL {says} (the URL is not shown: it may hold a secret)"
    assert "SECRET" not in message
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_plain_http_only_to_loopback_when_asked() -> None:
    assert check("http://example.com") == "http://example.com"
    with pytest.raises(Refused) as info:
        check("http://example.com", https_unless_loopback=True)
    assert str(info.value) == (
        "the X base URL must use https:// unless its host is loopback (a local fake): plain http "
        "would send the API key in clear (the URL is not shown: it may hold a secret)"
    )
