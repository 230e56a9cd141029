"""The API token is never echoed: not the token, ``Bearer <token>``, nor their percent-encoded or
base64 forms show up in exception text, ``repr``s, DEBUG logs (urllib3's included) or the bodies
the client returns, even when the API (the fake in echo mode) repeats the request's
``Authorization`` header back at us.

Every test here fails when the redaction in ``mailfleet.cloudflare`` is taken out: each makes
the fake (or a canned answer) put the canary in what the client reads, and checks it came out
as ``***``.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from mailfleet.cloudflare.client import CloudflareClient
from mailfleet.cloudflare.errors import (
    CloudflareError,
    InvalidBaseURL,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from mailfleet.errors import UsageError
from tests.cloudflare.conftest import Sleeps
from tests.fakes.cloudflare_server import FakeCloudflare, FakeZone

# Made up for these tests: a Cloudflare-shaped (40 characters) token that must never be printed.
CANARY = "cfCanary_5e0c7a91d2f84b36a1c9e07d4b28f6a3"
BEARER = f"Bearer {CANARY}"
B64 = base64.b64encode(CANARY.encode()).decode()
B64_BEARER = base64.b64encode(BEARER.encode()).decode()
SECRET_FORMS = (CANARY, BEARER, B64.rstrip("="), B64_BEARER.rstrip("="), quote(BEARER, safe=""))


def assert_clean(*texts: str) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in text, f"secret form {form[:8]}... leaked"
            assert form.lower() not in text.lower(), f"secret form {form[:8]}... leaked (case changed)"


def exc_texts(exc: BaseException) -> list[str]:
    """Every way an exception gets written: str, repr, and what its chain would show."""
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += [str(linked), repr(linked)]
    return texts


@pytest.fixture
def echo_fake() -> Iterator[FakeCloudflare]:
    """The fake, knowing the canary as the right token, echoing every request back."""
    with FakeCloudflare(token=CANARY, echo=True) as server:
        yield server


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: urllib3's and requests' records too
    return caplog


def client(fake: FakeCloudflare, sleeps: Sleeps, **kw: Any) -> CloudflareClient:
    kw.setdefault("sleep", sleeps)
    kw.setdefault("jitter", lambda: 0.5)
    return CloudflareClient(kw.pop("token", CANARY), base_url=fake.base_url, **kw)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the fake really echoes (otherwise every test below proves nothing) ------------------------


def test_echo_mode_repeats_the_token(echo_fake: FakeCloudflare) -> None:
    zone = echo_fake.seed_mail_zone("echo.example")
    echo_fake.echo_requests(into=("result.name",))
    url = f"{echo_fake.base_url}/zones/{zone.id}"
    ok = requests.get(url, headers={"Authorization": BEARER}, timeout=5)
    assert ok.status_code == 200
    assert ok.headers["X-Echo-Authorization"] == BEARER
    assert ok.headers["X-Echo-Url"] == url
    assert ok.json()["echo"]["headers"]["Authorization"] == BEARER
    assert ok.json()["echo"]["token"] == CANARY
    assert BEARER in ok.json()["result"]["name"]
    bad = requests.get(url, headers={"Authorization": "Bearer other-token"}, timeout=5)
    assert bad.status_code == 403
    assert "Bearer other-token" in bad.json()["errors"][0]["message"][:200]
    assert echo_fake.zones[zone.id].name == "echo.example"  # the fake's state is untouched


# -- errors: 4xx, 5xx and 429 exhausted, refused connection -------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong token", Unauthorized), ("missing record", NotFound), ("malformed id", NotFound)],
)
def test_4xx_echoing_the_header_is_scrubbed(
    case: str, expected: type[CloudflareError], sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    # "wrong token": the fake knows another token, so the canary is the wrong one it echoes back
    token = "other-fake-token-0123456789abcdefghijklm" if case == "wrong token" else CANARY
    with FakeCloudflare(token=token, echo=True) as fake:
        zone = fake.seed_mail_zone()
        c = client(fake, sleeps)
        with pytest.raises(expected) as info:
            if case == "missing record":
                c.get_dns_record(zone.id, "0" * 32)
            elif case == "malformed id":
                c.get_zone("not-a-zone-id")
            else:
                c.get_zone(zone.id)
    assert info.value.status in (400, 403, 404)
    assert "***" in str(info.value)  # the echo reached the message, and was cut out
    assert sleeps == []  # a 4xx is not retried
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_5xx_after_retries_exhausted(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone = echo_fake.seed_mail_zone()
    echo_fake.inject(
        503,
        count=10,
        body={
            "success": False,
            "errors": [
                {
                    "code": 0,
                    "message": "upstream said: {authorization}",
                    "error_chain": [{"code": 1, "message": "token {token}"}],
                }
            ],
            "result": None,
        },
    )
    c = client(echo_fake, sleeps, max_retries=2)
    with pytest.raises(ServerError) as info:
        c.list_dns_records(zone.id)
    assert info.value.status == 503
    assert len(sleeps) == 2
    assert "upstream said: Bearer ***" in str(info.value)
    assert "cloudflare retry" in debug_logs.text  # the DEBUG/INFO records were captured
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_a_5xx_page_that_echoes_is_scrubbed(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone = echo_fake.seed_mail_zone()
    echo_fake.inject(502, count=10, text="<html>bad gateway; you sent Authorization: {authorization}</html>")
    with pytest.raises(ServerError) as info:
        client(echo_fake, sleeps, max_retries=1).get_zone(zone.id)
    assert "you sent Authorization: Bearer ***" in str(info.value)
    assert_clean(*exc_texts(info.value), debug_logs.text)


def test_429_headers_that_echo_are_ignored_and_429_exhausted(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone = echo_fake.seed_mail_zone()
    # The headers the client parses carry the Authorization value: they must be ignored
    # (parsing one as an HTTP date raises an error that quotes it), not quoted.
    echo_fake.inject(429, headers={"Retry-After": "{authorization}", "Ratelimit": '"default";r=0;t={token}'})
    c = client(echo_fake, sleeps, max_retries=1, backoff_base=2.0)
    assert c.get_zone(zone.id)["name"] == "example.com"
    assert sleeps == [1.5]  # backoff, as with no usable header
    echo_fake.rate_limit(10, retry_after=3)
    with pytest.raises(RateLimited) as info:
        c.get_zone(zone.id)
    assert info.value.status == 429
    assert "***" in str(info.value)
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_a_redirect_to_an_echoing_location_is_neither_followed_nor_quoted(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone = echo_fake.seed_mail_zone()
    echo_fake.inject(307, headers={"Location": "http://127.0.0.1:9/steal?t={token}"})
    with pytest.raises(CloudflareError, match="not followed") as info:
        client(echo_fake, sleeps).get_zone(zone.id)
    assert echo_fake.count() == 1
    assert_clean(*exc_texts(info.value), debug_logs.text)


def test_connection_refused_on_a_loopback_port(sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture) -> None:
    c = CloudflareClient(
        CANARY, base_url=f"http://127.0.0.1:{closed_port()}/client/v4", sleep=sleeps, max_retries=2, timeout=2
    )
    with pytest.raises(CloudflareError) as info:
        c.get_zone("a" * 32)
    assert info.value.status is None
    assert "connection failed after 3 attempts" in str(info.value)
    # requests' exception (its text holds the URL) is neither quoted nor chained
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "Starting new HTTP connection" in debug_logs.text  # urllib3's DEBUG records were on
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (requests.ConnectionError, "connection failed after 2 attempts"),
        (requests.ConnectTimeout, "timeout after 2 attempts"),
        (requests.exceptions.InvalidHeader, "InvalidHeader"),
    ],
)
def test_a_requests_error_that_quotes_the_request_is_not_quoted(
    error: type[requests.RequestException], said: str, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    # requests' exception texts hold the URL (and a proxy's may hold more): never quoted
    class QuotingSession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
            raise error(f"failed {url} with Authorization: {BEARER} ({B64_BEARER})")

    c = CloudflareClient(
        CANARY, base_url="http://127.0.0.1:9/client/v4", session=QuotingSession(), sleep=sleeps, max_retries=1
    )
    with pytest.raises(CloudflareError) as info:
        c.get_zone("a" * 32)
    assert said in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert_clean(*exc_texts(info.value), debug_logs.text)


# -- base URLs and tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://user:{token}@127.0.0.1:{port}/client/v4",
        "http://{token}@127.0.0.1:{port}/client/v4",  # user only
        "https://api:{token}@api.cloudflare.com/client/v4",
        "http://user:{token}@[::1]:{port}/client/v4",
        "https://user:{token}",  # no host: the token would be read as the port
        "http://127.0.0.1:{port}/client/v4?token={token}",  # a query
        "https://api.cloudflare.com/client/v4#{token}",  # a fragment
        "http://{token}.example.net/client/v4",  # plain http to a host that is not loopback
        "ftp://127.0.0.1:{port}/{token}",
    ],
)
def test_a_base_url_with_secrets_is_refused_without_repeating_it(
    template: str, echo_fake: FakeCloudflare, debug_logs: pytest.LogCaptureFixture
) -> None:
    port = echo_fake.base_url.split(":")[2].split("/")[0]
    url = template.format(token=CANARY, port=port)
    with pytest.raises(InvalidBaseURL) as info:
        CloudflareClient(CANARY, base_url=url)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
    assert "base_url" in str(info.value) and "not shown" in str(info.value)
    # a password that is not the token is kept out too (nothing would scrub it)
    other = url.replace(CANARY, "proxy-pass-91c2d7")
    with pytest.raises(InvalidBaseURL) as info2:
        CloudflareClient(CANARY, base_url=other)
    assert "proxy-pass-91c2d7" not in str(info2.value) + repr(info2.value)
    assert echo_fake.calls == []  # refused before any request
    assert_clean(*exc_texts(info.value), *exc_texts(info2.value), debug_logs.text)


def test_userinfo_and_plain_http_messages_say_why() -> None:
    with pytest.raises(InvalidBaseURL, match=r"must not carry credentials \(user:password@host\)"):
        CloudflareClient(CANARY, base_url=f"https://u:{CANARY}@api.cloudflare.com/client/v4")
    with pytest.raises(InvalidBaseURL, match="would send the API token in clear"):
        CloudflareClient(CANARY, base_url="http://api.cloudflare.com/client/v4")


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "[::1]:8080", "localhost:8080", "127.1.2.3"])
def test_plain_http_to_loopback_is_allowed_for_a_fake(host: str) -> None:
    assert (
        CloudflareClient(CANARY, base_url=f"http://{host}/client/v4/").base_url == f"http://{host}/client/v4"
    )


@pytest.mark.parametrize("token", [CANARY + "\n", CANARY + "\u00e9", f" {CANARY}", CANARY[:12], ""])
def test_a_token_that_cannot_be_sent_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ValueError) as info:
        CloudflareClient(token)
    assert "CLOUDFLARE_API_TOKEN" in str(info.value)
    assert_clean(*exc_texts(info.value))
    if token:
        assert token.strip()[:12] not in str(info.value)


# -- what the client returns and shows --------------------------------------------------------


def test_success_bodies_that_echo_are_scrubbed(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone = echo_fake.seed_mail_zone()
    echo_fake.echo_requests(into=("result.name", "result.*.content", "result.content"))
    c = client(echo_fake, sleeps)
    got_zone = c.get_zone(zone.id)
    records = c.list_dns_records(zone.id, per_page=4)
    some = c.get_dns_record(zone.id, next(iter(zone.records)))
    assert got_zone["name"].startswith("example.com (echo: Authorization: Bearer *** = ***;")
    assert all("(echo: Authorization: Bearer ***" in r["content"] for r in records)
    assert "Bearer ***" in some["content"]
    assert len(records) == 9  # echoes change no id: paging still adds up
    assert "cloudflare ok" in debug_logs.text
    assert_clean(json.dumps(got_zone), json.dumps(records), json.dumps(some), repr(c), debug_logs.text)


def test_repr_attributes_and_session_hide_the_token(echo_fake: FakeCloudflare, sleeps: Sleeps) -> None:
    zone = echo_fake.seed_mail_zone()
    c = client(echo_fake, sleeps)
    c.get_zone(zone.id)  # after a request too: the auth hook is made per request, never kept
    assert repr(c) == f"CloudflareClient(base_url={echo_fake.base_url!r})"
    session = c._session
    assert_clean(
        repr(c),
        str(c),
        repr(vars(c)),
        repr(c._token),
        str(c._token),
        repr(session.headers),
        repr(session.auth),
        repr(vars(session)),
    )


def test_a_url_holding_the_token_is_never_sent(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    # urllib3 logs each request line at DEBUG: a path or query with the token is refused.
    c = client(echo_fake, sleeps)
    with pytest.raises(CloudflareError) as info:
        c.get_zone(CANARY)
    assert info.value.path == "/zones/***"
    assert "not sent" in str(info.value)
    with pytest.raises(CloudflareError) as info2:
        c.list_dns_records("a" * 32, name=f"{CANARY}.example.com")
    assert echo_fake.calls == []
    assert_clean(*exc_texts(info.value), *exc_texts(info2.value), debug_logs.text)


class OneAnswer(requests.Session):
    """A session that answers every request with one canned response."""

    def __init__(self, status: int, text: str, reason: str = "Error") -> None:
        super().__init__()
        self.status, self.text, self.reason = status, text, reason

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kw: Any) -> requests.Response:  # type: ignore[override]
        response = requests.Response()
        response.status_code = self.status
        response._content = self.text.encode()
        response.reason = self.reason
        response.url = str(url)
        return response


@pytest.mark.parametrize(
    "text",
    [
        f"<html>proxy error: your request had Authorization: {BEARER}</html>",
        # the token straddles the 200 characters quoted: scrubbed before the cut
        "x" * 190 + f" {CANARY} and more",
        "x" * 185 + f" {BEARER}",
        f"base64 of the header value: {B64_BEARER}",
        f"base64 of the token: {B64}, unpadded: {B64.rstrip('=')}",
        f"url-encoded: {quote(BEARER, safe='')}",
        f"line one\nAuthorization: {BEARER}\nline three",
        json.dumps({"success": False, "errors": [{"code": 10000, "message": f"bad token {CANARY.upper()}"}]}),
    ],
)
def test_error_bodies_are_scrubbed_before_being_cut(text: str, sleeps: Sleeps) -> None:
    c = CloudflareClient(
        CANARY, base_url="http://127.0.0.1:9/client/v4", session=OneAnswer(400, text), sleep=sleeps
    )
    with pytest.raises(CloudflareError) as info:
        c.get_zone("a" * 32)
    message = str(info.value)
    assert "\n" not in message  # one line: a body cannot forge log lines
    assert "***" in message
    assert_clean(*exc_texts(info.value))
    for n in range(12, len(CANARY)):  # not even a cut-off piece of the token
        assert CANARY[:n] not in message


def test_a_reason_phrase_that_echoes_is_scrubbed(sleeps: Sleeps) -> None:
    session = OneAnswer(418, "", reason=f"I'm a teapot, {BEARER}")
    c = CloudflareClient(CANARY, base_url="http://127.0.0.1:9/client/v4", session=session, sleep=sleeps)
    with pytest.raises(CloudflareError) as info:
        c.get_zone("a" * 32)
    assert "teapot, Bearer ***" in str(info.value)
    assert_clean(*exc_texts(info.value))


def test_the_fakes_env_names_the_token_variable(echo_fake: FakeCloudflare) -> None:
    env = echo_fake.env()
    assert env == {"CLOUDFLARE_API_TOKEN": CANARY, "CLOUDFLARE_BASE_URL": echo_fake.base_url}


def test_listing_through_echoing_pages_stays_clean(
    echo_fake: FakeCloudflare, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    zone: FakeZone = echo_fake.seed_zone("many.example")
    for i in range(25):
        echo_fake.seed_txt(zone, f"r{i}", f"value {i}")
    echo_fake.rate_limit(1, retry_after=1)
    echo_fake.inject(500, count=1, path="dns_records$")
    got = client(echo_fake, sleeps).list_dns_records(zone.id, per_page=10)
    assert len(got) == 25
    assert echo_fake.pages(f"/zones/{zone.id}/dns_records") == [1, 1, 1, 2, 3]
    assert_clean(json.dumps(got), debug_logs.text)
