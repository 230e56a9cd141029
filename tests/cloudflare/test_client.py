"""CloudflareClient against the local fake: paging, filters, typed errors, retries, budget."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from mailfleet.cloudflare.client import API_BASE, CloudflareClient
from mailfleet.cloudflare.errors import (
    CloudflareError,
    ListingChanged,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from mailfleet.cloudflare.ratelimit import WindowLimiter
from mailfleet.cloudflare.txt import txt_strings, txt_value
from tests.cloudflare.conftest import Sleeps
from tests.fakes.cloudflare_server import FakeCloudflare, FakeZone

Make = Callable[..., CloudflareClient]


def records_path(zone: FakeZone) -> str:
    return f"/zones/{zone.id}/dns_records"


def seed_many(fake: FakeCloudflare, count: int, name: str = "bulk.example.net") -> FakeZone:
    zone = fake.seed_zone(name)
    for i in range(count):
        fake.seed_txt(zone, f"r{i:03d}", f"verification={i}")
    return zone


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- reads -------------------------------------------------------------------------------------


def test_default_base_url_is_cloudflares_api_v4() -> None:
    assert API_BASE == "https://api.cloudflare.com/client/v4"
    assert CloudflareClient("t" * 40).base_url == API_BASE


def test_get_zone(fake: FakeCloudflare, zone: FakeZone, client_for: Make) -> None:
    got = client_for().get_zone(zone.id)
    assert (got["id"], got["name"], got["status"]) == (zone.id, "example.com", "active")
    assert got["name_servers"] == ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]
    assert fake.count("GET", f"/zones/{zone.id}") == 1


def test_get_dns_record_gives_the_import_id(fake: FakeCloudflare, zone: FakeZone, client_for: Make) -> None:
    seeded = next(r for r in zone.records.values() if r["name"] == "_dmarc.example.com")
    got = client_for().get_dns_record(zone.id, seeded["id"])
    assert got == seeded
    assert f"{zone.id}/{got['id']}" == f"{zone.id}/{seeded['id']}"  # ZONE_ID/RECORD_ID for pulumi import
    assert fake.count("GET", f"{records_path(zone)}/{seeded['id']}") == 1


def test_listing_follows_every_page(fake: FakeCloudflare, client_for: Make) -> None:
    zone = seed_many(fake, 230)
    got = client_for().list_dns_records(zone.id, per_page=100)
    assert [r["id"] for r in got] == list(zone.records)  # all 230, once each, in order
    assert fake.pages(records_path(zone)) == [1, 2, 3]
    assert {c.param("per_page") for c in fake.calls} == {"100"}


def test_listing_stops_at_total_pages(fake: FakeCloudflare, client_for: Make) -> None:
    zone = seed_many(fake, 200)  # exactly two full pages: no third, empty request
    assert len(client_for().list_dns_records(zone.id, per_page=100)) == 200
    assert fake.pages(records_path(zone)) == [1, 2]


def test_listing_an_empty_zone_is_one_call(fake: FakeCloudflare, client_for: Make) -> None:
    zone = fake.seed_zone("empty.example.org")
    assert client_for().list_dns_records(zone.id) == []
    assert fake.pages(records_path(zone)) == [1]


def test_default_page_size_reads_a_zone_in_one_call(fake: FakeCloudflare, client_for: Make) -> None:
    zone = seed_many(fake, 230)
    assert len(client_for().list_dns_records(zone.id)) == 230
    assert fake.pages(records_path(zone)) == [1]
    assert fake.calls[0].param("per_page") == "5000"


@pytest.mark.parametrize("per_page", [0, -1, 5_000_001, 2.5, True])
def test_page_size_outside_cloudflares_bounds_is_refused_before_any_call(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, per_page: Any
) -> None:
    with pytest.raises(ValueError, match="per_page"):
        client_for().list_dns_records(zone.id, per_page=per_page)
    assert fake.calls == []


def test_filters_by_name_and_type(fake: FakeCloudflare, zone: FakeZone, client_for: Make) -> None:
    client = client_for()
    dmarc = client.list_dns_records(zone.id, name="_dmarc.example.com.")  # trailing dot dropped
    assert [(r["type"], r["name"]) for r in dmarc] == [("TXT", "_dmarc.example.com")]
    assert fake.calls[-1].param("name") == "_dmarc.example.com"
    mx = client.list_dns_records(zone.id, type="mx")
    assert [(r["content"], r["priority"]) for r in mx] == [
        ("aspmx.l.google.com", 1),
        ("alt1.aspmx.l.google.com", 5),
    ]
    assert fake.calls[-1].param("type") == "MX"
    apex_txt = client.list_dns_records(zone.id, name="example.com", type="TXT")
    assert [txt_value(r["content"]) for r in apex_txt] == [
        "v=spf1 include:_spf.google.com include:mailgun.org ~all",
        "google-site-verification=Aa4kOdcBuOpShjcQSddCu7n4j2uLfoduTLX0a0gao7E",
        "MS=ms18260796",
    ]
    assert len(client.list_dns_records(zone.id)) == len(zone.records) == 9


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"name": "ex\u00e4mple.com"}, "Punycode"),
        ({"name": " . "}, "non-empty"),
        ({"type": "T X"}, "record type"),
    ],
)
def test_bad_filters_are_refused_before_any_call(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, kw: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client_for().list_dns_records(zone.id, **kw)
    assert fake.calls == []


@pytest.mark.parametrize("call", ["zone", "record"])
def test_an_empty_id_is_refused_before_any_call(fake: FakeCloudflare, client_for: Make, call: str) -> None:
    with pytest.raises(ValueError, match="id is required"):
        if call == "zone":
            client_for().get_zone(" ")
        else:
            client_for().get_dns_record("a" * 32, "")
    assert fake.calls == []


def test_txt_content_comes_back_as_cloudflare_stores_it(zone: FakeZone, client_for: Make) -> None:
    by_name = {}
    for record in client_for().list_dns_records(zone.id, type="TXT"):
        by_name.setdefault(record["name"], []).append(record["content"])
    (spf, site, ms) = by_name["example.com"]
    assert spf == '"v=spf1 include:_spf.google.com include:mailgun.org ~all"'  # quoted
    assert ms == "MS=ms18260796"  # an unquoted (raw) write comes back unquoted
    assert txt_value(site).startswith("google-site-verification=")
    (dkim,) = by_name["k1._domainkey.example.com"]
    strings = txt_strings(dkim)  # longer than 255 bytes: split into character-strings
    assert [len(s) for s in strings] == [255, 9 + 44 * 8 - 255]
    assert dkim.count('" "') == 1
    assert txt_value(dkim) == "k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 8


def test_a_record_seen_on_two_pages_is_not_returned_twice(fake: FakeCloudflare, client_for: Make) -> None:
    # Between two pages a record is added in front and another deleted behind: total_count
    # stays 4, and page 2 repeats a record of page 1. Counted twice, the pages would "add up"
    # to 4 and a listing with a duplicate (and without r002) would be returned; counted once
    # they do not, and the listing is refused.
    zone = seed_many(fake, 4)
    session = requests.Session()

    def shift(response: requests.Response, *args: Any, **kw: Any) -> None:
        if "page=1" in response.url and len(fake.pages(records_path(zone))) == 1:
            with fake.lock:
                new = fake.seed_txt(zone, "r999", "added in front")
                zone.records = {new["id"]: zone.records.pop(new["id"]), **zone.records}
                zone.records.popitem()  # r003 deleted

    session.hooks["response"].append(shift)
    with pytest.raises(ListingChanged, match=r"total_count \[4\], 3 records read"):
        client_for(session=session).list_dns_records(zone.id, per_page=2)
    assert fake.pages(records_path(zone)) == [1, 2]


@pytest.mark.parametrize("change", ["added", "removed"])
def test_a_zone_that_changes_while_listed_raises_listing_changed(
    fake: FakeCloudflare, client_for: Make, change: str
) -> None:
    zone = seed_many(fake, 230)
    session = requests.Session()

    def mutate(response: requests.Response, *args: Any, **kw: Any) -> None:
        if "page=1" in response.url and len(fake.pages(records_path(zone))) == 1:
            if change == "added":
                fake.seed_txt(zone, "late", "added between two pages")
            else:
                fake.remove_record(zone, next(iter(zone.records)))

    session.hooks["response"].append(mutate)
    with pytest.raises(ListingChanged) as info:
        client_for(session=session).list_dns_records(zone.id, per_page=100)
    assert "changed while they were being listed" in str(info.value)
    assert isinstance(info.value, CloudflareError)


# -- typed errors ------------------------------------------------------------------------------


def test_a_missing_record_is_not_found(zone: FakeZone, client_for: Make, sleeps: Sleeps) -> None:
    with pytest.raises(NotFound) as info:
        client_for().get_dns_record(zone.id, "0" * 32)
    assert info.value.status == 404
    assert info.value.codes == (81044,)
    assert f"/zones/{zone.id}/dns_records/{'0' * 32}" in str(info.value)
    assert "Record does not exist." in str(info.value)
    assert sleeps == []  # a 4xx is not retried


def test_a_malformed_id_is_not_found(fake: FakeCloudflare, client_for: Make) -> None:
    # Cloudflare: 400 with 7003 "Could not route to ..., perhaps your object identifier is invalid?"
    with pytest.raises(NotFound) as info:
        client_for().get_zone("example.com")
    assert info.value.status == 400
    assert info.value.codes == (7003, 7000)
    assert fake.count() == 1


def test_an_unknown_zone_is_unauthorized_and_says_why(fake: FakeCloudflare, client_for: Make) -> None:
    # With a token, Cloudflare answers a zone it cannot see (or that does not exist) 403 / 10000.
    with pytest.raises(Unauthorized) as info:
        client_for().list_dns_records("f" * 32)
    assert (info.value.status, info.value.codes) == (403, (10000,))
    assert "zone id does not exist" in str(info.value)
    assert fake.count() == 1


def test_a_wrong_token_is_unauthorized(fake: FakeCloudflare, zone: FakeZone, client_for: Make) -> None:
    with pytest.raises(Unauthorized) as info:
        client_for(token="wrong-token-0123456789abcdefghijklmnopq").get_zone(zone.id)
    assert (info.value.status, info.value.codes) == (403, (10000,))
    assert "Authentication error (code 10000)" in str(info.value)
    assert fake.calls[0].status == 403


@pytest.mark.parametrize(
    ("status", "errors"),
    [
        (401, [{"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}]),
        (
            400,
            [
                {
                    "code": 6003,
                    "message": "Invalid request headers",
                    "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
                }
            ],
        ),
    ],
)
def test_auth_refusals_by_code_are_unauthorized(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, status: int, errors: list[dict[str, Any]]
) -> None:
    fake.inject(status, body={"success": False, "errors": errors, "messages": [], "result": None})
    with pytest.raises(Unauthorized) as info:
        client_for().get_zone(zone.id)
    assert info.value.status == status
    assert info.value.codes[-1] in (9106, 6111)  # error_chain codes count too
    assert errors[0]["message"] in str(info.value)


def test_the_fake_refuses_like_cloudflare(fake: FakeCloudflare, zone: FakeZone) -> None:
    url = f"{fake.base_url}/zones/{zone.id}"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401 and missing.json()["errors"][0]["code"] == 9106
    malformed = requests.get(url, headers={"Authorization": f"Token {fake.token}"}, timeout=5)
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["error_chain"][0]["code"] == 6111
    wrong = requests.get(url, headers={"Authorization": "Bearer another-token"}, timeout=5)
    assert (wrong.status_code, wrong.json()["errors"][0]["code"]) == (403, 10000)
    assert wrong.json()["success"] is False and wrong.json()["result"] is None
    right = requests.get(url, headers={"Authorization": f"Bearer {fake.token}"}, timeout=5)
    assert right.status_code == 200 and right.json()["success"] is True
    assert [c.status for c in fake.calls] == [401, 400, 403, 200]


def test_an_envelope_saying_failure_is_an_error_whatever_the_status(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make
) -> None:
    fake.inject(
        200,
        body={
            "success": False,
            "errors": [{"code": 81044, "message": "Record does not exist."}],
            "result": None,
        },
    )
    with pytest.raises(NotFound) as info:
        client_for().get_zone(zone.id)
    assert info.value.status == 200


@pytest.mark.parametrize("body", [None, [], {"success": True, "result": "a string"}])
def test_an_answer_without_the_expected_result_is_an_error(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, body: Any
) -> None:
    if body is None:
        fake.inject(200, text="not json")
    else:
        fake.inject(200, body=body)
    with pytest.raises(CloudflareError):
        client_for().get_zone(zone.id)


def test_a_redirect_is_not_followed(fake: FakeCloudflare, zone: FakeZone, client_for: Make) -> None:
    fake.inject(302, headers={"Location": f"{fake.base_url}/zones/{zone.id}"})
    with pytest.raises(CloudflareError, match=r"unexpected redirect \(HTTP 302\), not followed") as info:
        client_for().get_zone(zone.id)
    assert info.value.status == 302
    assert fake.count() == 1


# -- retries -----------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.rate_limit(2, retry_after=7, path=f"^/zones/{zone.id}$")
    assert client_for().get_zone(zone.id)["name"] == "example.com"
    assert sleeps == [7.0, 7.0]
    assert fake.count("GET", f"/zones/{zone.id}") == 3


def test_429_ratelimit_header_reset_is_honoured(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.rate_limit(1, reset=42)  # Ratelimit: "default";r=0;t=42, no Retry-After
    client_for().get_zone(zone.id)
    assert sleeps == [42.0]


def test_429_retry_after_as_http_date(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(429, headers={"Retry-After": email.utils.formatdate(time.time() + 12, usegmt=True)})
    client_for().get_zone(zone.id)
    assert len(sleeps) == 1 and 9 <= sleeps[0] <= 13


def test_429_without_headers_backs_off(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(429)
    client_for(backoff_base=2.0).get_zone(zone.id)
    assert sleeps == [1.5]  # ceiling 2, jitter fixed at 0.5: 2 * 0.75


def test_429_wait_is_capped(fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps) -> None:
    fake.rate_limit(1, retry_after=86_400)
    client_for().get_zone(zone.id)
    assert sleeps == [300.0]  # Cloudflare blocks for five minutes; never wait longer by default


def test_429_exhausted_raises_rate_limited(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.rate_limit(10, retry_after=3)
    with pytest.raises(RateLimited) as info:
        client_for(max_retries=2).list_dns_records(zone.id)
    assert (info.value.status, info.value.codes, info.value.retry_after) == (429, (971,), 3.0)
    assert "Please wait and consider throttling your request speed" in str(info.value)
    assert sleeps == [3.0, 3.0]
    assert fake.count() == 3


def test_5xx_is_retried_with_exponential_backoff_then_succeeds(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(503, count=3)
    client = client_for(backoff_base=1.0)
    assert len(client.list_dns_records(zone.id)) == 9
    assert sleeps == [0.75, 1.5, 3.0]  # ceilings 1, 2, 4 with jitter 0.5
    assert client.retries == 3 and client.requests_sent == 4


def test_backoff_is_capped(fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps) -> None:
    fake.inject(500, count=3)
    client_for(backoff_base=10.0, backoff_max=15.0).get_zone(zone.id)
    assert sleeps == [7.5, 11.25, 11.25]


def test_5xx_exhausted_raises_server_error(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(500, count=10)
    with pytest.raises(ServerError) as info:
        client_for(max_retries=2).get_zone(zone.id)
    assert info.value.status == 500
    assert len(sleeps) == 2
    assert fake.count("GET", f"/zones/{zone.id}") == 3


def test_a_5xx_html_page_is_quoted_on_one_line(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(502, count=10, text="<html>\n<h1>502 Bad Gateway</h1>\n</html>")
    with pytest.raises(ServerError) as info:
        client_for(max_retries=1).get_zone(zone.id)
    assert "HTTP 502: <html> <h1>502 Bad Gateway</h1> </html>" in str(info.value)


def test_zero_retries_means_one_attempt(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    fake.inject(503, count=1)
    with pytest.raises(ServerError):
        client_for(max_retries=0).get_zone(zone.id)
    assert sleeps == [] and fake.count() == 1
    with pytest.raises(ValueError, match="max_retries"):
        client_for(max_retries=-1)


def test_connection_refused_is_retried_then_reported(sleeps: Sleeps) -> None:
    client = CloudflareClient(
        "t" * 40,
        base_url=f"http://127.0.0.1:{closed_port()}/client/v4",
        sleep=sleeps,
        max_retries=2,
        timeout=2,
    )
    with pytest.raises(CloudflareError) as info:
        client.get_zone("a" * 32)
    assert info.value.status is None
    assert "connection failed after 3 attempts" in str(info.value)
    assert len(sleeps) == 2


# -- the client-side budget ----------------------------------------------------------------------


def test_window_limiter_paces_requests() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = WindowLimiter(3, 300.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert waits == []
    now[0] = 100.0
    limiter.acquire()  # the 4th inside the 5-minute window waits until the first leaves it
    assert waits == [200.0]
    assert limiter.waited == 200.0
    with pytest.raises(ValueError):
        WindowLimiter(0)
    with pytest.raises(ValueError):
        WindowLimiter(1, 0)


def test_the_client_spends_a_1200_per_5_minutes_budget(
    fake: FakeCloudflare, zone: FakeZone, client_for: Make, sleeps: Sleeps
) -> None:
    client = client_for()
    assert (client.limiter.limit, client.limiter.window) == (1200, 300.0)
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    small = client_for(requests_per_window=2, window_seconds=300.0, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        small.get_zone(zone.id)
    assert sleeps == [300.0]
    assert fake.count() == 3
