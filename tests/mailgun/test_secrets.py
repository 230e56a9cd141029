"""Secrets are never echoed: the API key, ``base64("api:<key>")`` and ``Basic <that>`` never show
up in exception text, ``repr``s, DEBUG logs (urllib3's included) or CLI output, even when the
API (the fake in echo mode) repeats the request's ``Authorization`` header back at us.

Every test here fails when the redaction in ``mailfleet.mailgun`` is taken out: each makes
the fake put the canary in what the client reads, and checks it came out as ``***``.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mailfleet.errors import UsageError
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists, InvalidBaseURL, MailgunError, NotFound, Unauthorized
from tests.fakes.mailgun_server import FakeMailgun

# Made up for these tests: a Mailgun-shaped key that must never be printed.
CANARY = "key-5e0c7a91d2f84b36a1c9e07d4b28f6a3"
B64 = base64.b64encode(f"api:{CANARY}".encode()).decode()
BASIC = f"Basic {B64}"
SECRET_FORMS = (CANARY, B64, BASIC, f"api:{CANARY}")


def assert_clean(*texts: str) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in text, f"secret form {form[:8]}... leaked"
            assert form.lower() not in text.lower(), f"secret form {form[:8]}... leaked (case changed)"


def exc_texts(exc: BaseException) -> list[str]:
    """Every way an exception gets written: str, repr, and what its chain would show."""
    texts = [str(exc), repr(exc), repr(exc.args)]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += [str(linked), repr(linked)]
    return texts


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def echo_fake() -> Iterator[FakeMailgun]:
    """The fake, knowing the canary as the right key, echoing every request back."""
    with FakeMailgun(api_key=CANARY, echo=True) as server:
        yield server


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: urllib3's and requests' records too
    return caplog


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(fake: FakeMailgun, sleeps: Sleeps, region: str = "eu", **kw: Any) -> MailgunClient:
    kw.setdefault("sleep", sleeps)
    kw.setdefault("jitter", lambda: 0.5)
    return MailgunClient(region, kw.pop("api_key", CANARY), base_url=fake.base_url(region), **kw)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the fake really echoes (otherwise every test below proves nothing) ------------------------


def test_echo_mode_repeats_the_authorization_header(echo_fake: FakeMailgun) -> None:
    echo_fake.seed_domain("e.example.no", "eu")
    echo_fake.echo_requests(into=("domain.state",))
    url = echo_fake.base_url("eu") + "/v4/domains/e.example.no"
    ok = requests.get(url, auth=("api", CANARY), timeout=5)
    assert ok.status_code == 200
    assert ok.headers["X-Echo-Authorization"] == BASIC
    assert ok.headers["X-Echo-Url"] == url
    assert ok.json()["echo"]["headers"]["Authorization"] == BASIC
    assert ok.json()["echo"]["authorization_decoded"] == f"api:{CANARY}"
    assert BASIC in ok.json()["domain"]["state"]
    bad = requests.get(url, auth=("api", "key-other"), timeout=5)
    assert bad.status_code == 401
    assert "api:key-other" in bad.json()["message"][:200]
    # the fake's own state is untouched by echoes
    assert echo_fake.domains["e.example.no"].state == "unverified"


# -- errors: 4xx, 5xx and 429 exhausted, refused connection -------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong key", Unauthorized), ("missing domain", NotFound), ("taken", AlreadyExists)],
)
def test_4xx_echoing_the_header_is_scrubbed(
    case: str, expected: type[MailgunError], sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    # "wrong key": the fake knows another key, so the canary is the wrong one it echoes back
    with FakeMailgun(api_key="key-fake-other" if case == "wrong key" else CANARY, echo=True) as fake:
        fake.seed_domain("taken.example.no", "us")
        c = client(fake, sleeps)
        with pytest.raises(expected) as info:
            if case == "taken":
                c.create_domain("taken.example.no")
            else:
                c.get_domain("x.example.no")
    assert info.value.status in (400, 401, 404)
    assert "***" in str(info.value)  # the echo reached the message, and was cut out
    assert sleeps == []  # a 4xx is not retried
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_5xx_after_retries_exhausted(
    echo_fake: FakeMailgun, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    echo_fake.seed_domain("five.example.no", "eu")
    echo_fake.inject(
        503, count=10, body={"message": "upstream said: {authorization} / {authorization_decoded}"}
    )
    c = client(echo_fake, sleeps, max_retries=2)
    with pytest.raises(MailgunError) as info:
        c.get_domain("five.example.no")
    assert info.value.status == 503
    assert len(sleeps) == 2
    assert "***" in str(info.value)
    assert "mailgun retry" in debug_logs.text  # the DEBUG/INFO records were captured
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_429_exhausted_and_a_retry_after_header_that_echoes(
    echo_fake: FakeMailgun, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    echo_fake.seed_domain("busy.example.no", "eu")
    # The header the client parses carries the Authorization value: it must be ignored
    # (parsing it as an HTTP date raises an error that quotes it), not quoted.
    echo_fake.inject(429, count=1, headers={"Retry-After": "{authorization}"})
    c = client(echo_fake, sleeps, max_retries=1, backoff_base=2.0)
    assert c.get_domain("busy.example.no")["domain"]["name"] == "busy.example.no"
    assert sleeps == [1.5]  # backoff, as with no usable header
    echo_fake.rate_limit(10, retry_after=3)
    with pytest.raises(MailgunError) as info:
        c.get_domain("busy.example.no")
    assert info.value.status == 429
    assert "***" in str(info.value)
    assert_clean(*exc_texts(info.value), repr(c), debug_logs.text)


def test_connection_refused_on_a_loopback_port(sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture) -> None:
    c = MailgunClient(
        "eu", CANARY, base_url=f"http://127.0.0.1:{closed_port()}", sleep=sleeps, max_retries=2, timeout=2
    )
    with pytest.raises(MailgunError) as info:
        c.get_domain("x.example.no")
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
            raise error(f"failed {url} with Authorization: {BASIC} (api:{CANARY})")

    c = MailgunClient(
        "eu", CANARY, base_url="http://127.0.0.1:9", session=QuotingSession(), sleep=sleeps, max_retries=1
    )
    with pytest.raises(MailgunError) as info:
        c.get_domain("x.example.no")
    assert said in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert_clean(*exc_texts(info.value), debug_logs.text)


# -- base URLs with credentials ---------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://api:{key}@127.0.0.1:{port}",
        "http://api:{key}@127.0.0.1:{port}/",
        "https://api:{key}@api.eu.mailgun.net",
        "http://{key}@127.0.0.1:{port}",  # user only
        "http://api:{key}@[::1]:{port}/v3",
        "https://api:{key}",  # no host: the key would be read as the port
        "http://127.0.0.1:{port}/?api_key={key}",  # a query
    ],
)
def test_base_url_with_credentials_is_refused_without_repeating_it(
    template: str, echo_fake: FakeMailgun, debug_logs: pytest.LogCaptureFixture
) -> None:
    port = echo_fake.base_url("eu").rsplit(":", 1)[1]
    url = template.format(key=CANARY, port=port)
    with pytest.raises(InvalidBaseURL) as info:
        MailgunClient("eu", CANARY, base_url=url)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
    assert "MAILGUN_API_BASE_EU" in str(info.value)
    assert "not shown" in str(info.value)
    # a proxy password that is not the API key is kept out too (nothing would scrub it)
    other = url.replace(CANARY, "proxy-pass-91c2d7")
    with pytest.raises(InvalidBaseURL) as info2:
        MailgunClient("eu", CANARY, base_url=other)
    assert "proxy-pass-91c2d7" not in str(info2.value) + repr(info2.value)
    assert echo_fake.calls == []  # refused before any request
    assert_clean(*exc_texts(info.value), *exc_texts(info2.value), debug_logs.text)


def test_userinfo_message_says_why() -> None:
    with pytest.raises(InvalidBaseURL, match=r"must not carry credentials \(user:password@host\)"):
        MailgunClient("us", CANARY, base_url=f"https://api:{CANARY}@api.mailgun.net")


def test_a_key_that_cannot_be_sent_is_refused_without_showing_it() -> None:
    for key in (CANARY + "\n", CANARY + "é", f" {CANARY}"):
        with pytest.raises(ValueError) as info:
            MailgunClient("eu", key)
        assert_clean(*exc_texts(info.value))


# -- what the client returns and shows --------------------------------------------------------


def test_success_bodies_that_echo_are_scrubbed(
    echo_fake: FakeMailgun, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    echo_fake.echo_requests(into=("domain.state", "items.*.id", "items.*.expression"))
    c = client(echo_fake, sleeps)
    created = c.create_domain("ok.example.no")
    got = c.get_domain("ok.example.no")
    c.create_route('match_recipient("^a@ok\\.example\\.no$")', ["stop()"])
    routes = c.list_routes()
    texts = [json.dumps(created), json.dumps(got), json.dumps(routes)]
    assert got["domain"]["state"].startswith("unverified (echo: Authorization: Basic ***")
    assert "***" in routes[0]["id"]
    assert got["echo"]["headers"]["Authorization"] == "Basic ***"
    assert "***" in created["message"]
    assert_clean(*texts, repr(c), debug_logs.text)


def test_repr_and_attributes_of_the_client_hide_the_key(echo_fake: FakeMailgun, sleeps: Sleeps) -> None:
    c = client(echo_fake, sleeps)
    assert repr(c) == f"MailgunClient(region='eu', base_url={echo_fake.base_url('eu')!r})"
    assert_clean(repr(c), str(c), repr(vars(c)), repr(c._key), str(c._key))


def test_a_url_holding_the_key_is_never_sent(
    echo_fake: FakeMailgun, sleeps: Sleeps, debug_logs: pytest.LogCaptureFixture
) -> None:
    # urllib3 logs each request line at DEBUG: a path or query with the key is refused.
    c = client(echo_fake, sleeps)
    with pytest.raises(MailgunError) as info:
        c.request("GET", f"/v3/routes/{CANARY}")
    assert info.value.path == "/v3/routes/***"
    assert "not sent" in str(info.value)
    with pytest.raises(MailgunError) as info2:
        c.request("GET", "/v3/routes", params={"skip": 0, "note": BASIC})
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
        f"<html>proxy error: your request had Authorization: {BASIC}</html>",
        # the key straddles the 200 characters quoted: scrubbed before the cut
        "x" * 190 + f" {CANARY} and more",
        "x" * 185 + f" {BASIC}",
        f"escaped: {B64.replace('/', chr(92) + '/')} url-encoded: api%3A{CANARY}",
        f"line one\nAuthorization: {BASIC}\nline three",
    ],
)
def test_non_json_error_bodies_are_scrubbed_before_being_cut(text: str, sleeps: Sleeps) -> None:
    c = MailgunClient("eu", CANARY, base_url="http://127.0.0.1:9", session=OneAnswer(400, text), sleep=sleeps)
    with pytest.raises(MailgunError) as info:
        c.get_domain("x.example.no")
    message = str(info.value)
    assert "\n" not in message  # one line: a body cannot forge log lines
    assert "***" in message
    assert_clean(*exc_texts(info.value))
    for n in range(12, len(CANARY)):  # not even a cut-off piece of the key
        assert CANARY[:n] not in message


def test_a_reason_phrase_that_echoes_is_scrubbed(sleeps: Sleeps) -> None:
    session = OneAnswer(418, "", reason=f"I'm a teapot, {BASIC}")
    c = MailgunClient("eu", CANARY, base_url="http://127.0.0.1:9", session=session, sleep=sleeps)
    with pytest.raises(MailgunError) as info:
        c.get_domain("x.example.no")
    assert "teapot, Basic ***" in str(info.value)
    assert_clean(*exc_texts(info.value))


# -- the CLI, run as a process against the echoing fake -----------------------------------------


def cli_env(fake: FakeMailgun, **extra: str) -> dict[str, str]:
    return {**fake.env(), **extra}


def test_check_json_against_an_echoing_api(cli: Any, project_dir: Path) -> None:
    with FakeMailgun(api_key=CANARY, echo=True, echo_into=("domain.state",)) as fake:
        fake.seed_domain("acme.mail.example.eu", "eu", state="active")  # its state comes back echoed
        fake.inject(500, count=100, path="fjordbank.no")  # an error message that echoes
        proc = cli(
            "-vv",  # DEBUG logs (urllib3's too) on stderr
            "check",
            "acme",
            "fjordbank",
            "--format",
            "json",
            "--nameserver",
            f"127.0.0.1:{closed_port()}",  # no DNS answers: only the Mailgun rows matter here
            "--timeout",
            "0.05",
            "--retries",
            "0",
            "--api-retries",
            "1",
            cwd=project_dir,
            env=cli_env(fake),
        )
        assert fake.count("GET", "/v4/domains/acme.mail.example.eu", "eu") == 1
        assert fake.count("GET", "/v4/domains/fjordbank.no", "eu") == 2  # the call and one retry
    assert proc.returncode in (1, 3), proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    rows = {m["name"]: m for t in data["tenants"] for m in t["mailgun"]}
    acme = rows["acme.mail.example.eu"]
    assert acme["status"] == "wrong"  # "active (echo: ...)" is not "active"
    assert "Basic ***" in acme["found"][0] and "Basic ***" in acme["message"]
    assert rows["fjordbank.no"]["status"] == "error"
    assert "HTTP 500" in rows["fjordbank.no"]["message"] and "***" in rows["fjordbank.no"]["message"]
    assert "DEBUG urllib3" in proc.stderr
    assert_clean(proc.stdout, proc.stderr)


def test_residency_live_json_against_an_echoing_api(cli: Any, project_dir: Path) -> None:
    with FakeMailgun(api_key=CANARY, echo=True, echo_into=("items.*.id",)) as fake:
        # leftovers in the other region: a domain and a route of acme (home: EU) in the US
        fake.seed_domain("acme.mail.example.eu", "us")
        us = MailgunClient("us", CANARY, base_url=fake.base_url("us"))
        us.create_route('match_recipient("^support@acme\\.mail\\.example\\.eu$")', ["stop()"])
        fake.inject(403, count=1, region="us", path="fjordbank")  # an error that echoes
        proc = cli("-vv", "residency", "--live", "--format", "json", cwd=project_dir, env=cli_env(fake))
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    left = {t["slug"]: t["leftovers"] for t in data["tenants"]}
    route = next(x for x in left["acme"] if x["kind"] == "route")
    assert "Basic ***" in route["detail"]  # the route id came back with the echo in it
    error = next(x for x in left["fjordbank"] if x["kind"] == "error")
    assert "HTTP 403" in error["detail"] and "***" in error["detail"]
    assert "DEBUG urllib3" in proc.stderr
    assert_clean(proc.stdout, proc.stderr)


@pytest.mark.parametrize("command", [("residency", "--live"), ("check", "acme", "--timeout", "0.05")])
def test_cli_refuses_an_api_base_with_credentials(
    command: tuple[str, ...], cli: Any, project_dir: Path, echo_fake: FakeMailgun
) -> None:
    host = echo_fake.base_url("eu").removeprefix("http://")
    env = cli_env(echo_fake, MAILGUN_API_BASE_EU=f"http://api:{CANARY}@{host}")
    proc = cli("-vv", *command, "--format", "json", cwd=project_dir, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "MAILGUN_API_BASE_EU" in proc.stderr and "must not carry credentials" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert echo_fake.calls == []
    assert_clean(proc.stdout, proc.stderr)
