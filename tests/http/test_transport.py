"""``mailfleet.http.transport``: a request's failure as a word, a body that is not JSON as a marker."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from mailfleet.http.transport import NOT_JSON, decode_json, send

SECRET_URL = "https://api:key-secret@api.example.test/v3/x"


class Session(requests.Session):
    """A session whose ``request`` raises ``error`` (its text quotes the URL) or answers."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.error = error
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append((method, url, kwargs))
        if self.error is not None:
            raise self.error
        response = requests.Response()
        response.status_code = 204
        return response


def test_an_answer_is_returned_with_every_argument_passed_on() -> None:
    session = Session()
    response = send(session, "POST", SECRET_URL, data={"a": "1"}, timeout=3.0)
    assert isinstance(response, requests.Response) and response.status_code == 204
    assert session.calls == [("POST", SECRET_URL, {"data": {"a": "1"}, "timeout": 3.0})]


@pytest.mark.parametrize(
    ("error", "word"),
    [
        (requests.Timeout(f"read timed out: {SECRET_URL}"), "timeout"),
        (requests.ConnectTimeout(f"connect timed out: {SECRET_URL}"), "timeout"),  # a ConnectionError too
        (requests.ConnectionError(f"refused: {SECRET_URL}"), "connection failed"),
        (requests.TooManyRedirects(f"redirects: {SECRET_URL}"), "TooManyRedirects"),
        (requests.exceptions.InvalidURL(SECRET_URL), "InvalidURL"),
    ],
)
def test_a_failure_is_a_word_never_the_exception(error: Exception, word: str) -> None:
    failure = send(Session(error), "GET", SECRET_URL)
    assert failure == word
    assert "key-secret" not in failure


def test_other_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        send(Session(KeyError("x")), "GET", SECRET_URL)


def _response(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    return response


def test_decode_json() -> None:
    assert decode_json(_response(b'{"a": [1, "b"]}')) == {"a": [1, "b"]}
    assert decode_json(_response(b"null")) is None
    assert decode_json(_response(b"<html>key-secret</html>")) is NOT_JSON
    assert decode_json(_response(b"")) is NOT_JSON
