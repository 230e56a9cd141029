"""Cloudflare zones: record ids from the API, matched to what DNS serves by value; a value one
side has and the other does not is a problem, never a guess."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailfleet.adopt.ids import CloudflareFailed, with_ids
from mailfleet.adopt.live import AdoptRefused, LiveRRset
from mailfleet.cloudflare.client import CloudflareClient
from mailfleet.errors import UsageError
from mailfleet.manager import Manager
from tests.adopt.conftest import CF_ZONE_ID, GOOGLE_SPF, GOOGLE_VERIFY, World, seed_flare
from tests.conftest import tree_bytes
from tests.fakes.cloudflare_server import FakeCloudflare

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
APEX = LiveRRset("flare.no", "TXT", ("spf",), "ok", (GOOGLE_SPF, GOOGLE_VERIFY))


@pytest.fixture
def fake():
    with FakeCloudflare() as server:
        yield server


def _client(fake: FakeCloudflare) -> CloudflareClient:
    return CloudflareClient(fake.token, base_url=fake.base_url, max_retries=0)


def test_ids_follow_values_whatever_the_content_shape(fake: FakeCloudflare) -> None:
    ids = seed_flare(fake)  # the SPF quoted, the verification unquoted
    (got,) = with_ids([APEX], _client(fake), CF_ZONE_ID)
    assert got.ids == (ids["spf"], ids["verify"])
    assert got.ttl == 1  # Cloudflare's "automatic"


def test_a_record_dns_does_not_serve_is_a_problem(fake: FakeCloudflare) -> None:
    seed_flare(fake)
    extra = fake.seed_txt(CF_ZONE_ID, "@", "apple-domain-verification=new")["id"]
    with pytest.raises(AdoptRefused) as caught:
        with_ids([APEX], _client(fake), CF_ZONE_ID)
    (line,) = caught.value.lines()
    assert f"lists 'apple-domain-verification=new' (record {extra}) but DNS does not serve it" in line


def test_a_value_cloudflare_does_not_list_is_a_problem(fake: FakeCloudflare) -> None:
    ids = seed_flare(fake)
    fake.remove_record(CF_ZONE_ID, ids["verify"])
    with pytest.raises(AdoptRefused) as caught:
        with_ids([APEX], _client(fake), CF_ZONE_ID)
    (line,) = caught.value.lines()
    assert line.startswith("flare.no TXT: DNS serves 'google-site-verification=")
    assert "lists no such record" in line


def test_two_records_with_one_value_are_a_problem(fake: FakeCloudflare) -> None:
    seed_flare(fake)
    fake.seed_txt(CF_ZONE_ID, "@", GOOGLE_SPF, stored="raw")
    with pytest.raises(AdoptRefused) as caught:
        with_ids([APEX], _client(fake), CF_ZONE_ID)
    assert "Cloudflare holds 2 records with the value" in caught.value.lines()[0]


def test_a_failed_api_call_says_so_without_the_token(fake: FakeCloudflare) -> None:
    seed_flare(fake)
    fake.inject(403, count=1, headers={"X-Echo": "{authorization}"})
    fake.echo_requests(True)
    with pytest.raises(CloudflareFailed) as caught:
        with_ids([APEX], _client(fake), CF_ZONE_ID)
    (line,) = caught.value.lines()
    assert line.startswith(f"cloudflare zone {CF_ZONE_ID}: ") and "nothing written" in line
    assert fake.token not in line


@pytest.mark.knot
def test_without_a_token_the_manager_refuses_before_reading(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    before = tree_bytes(world.tenants)
    with pytest.raises(UsageError) as caught:
        Manager(world.tenants, world.project).adopt_dns("flare", world.ns, clock=lambda: NOW)
    assert str(caught.value).startswith("CLOUDFLARE_API_TOKEN: is not set")
    assert tree_bytes(world.tenants) == before


@pytest.mark.knot
def test_dns_and_cloudflare_disagreeing_writes_nothing(world: World, cloudflare) -> None:
    fake, _ids = cloudflare
    fake.seed_txt(CF_ZONE_ID, "_dmarc", "v=DMARC1; p=reject")  # DNS serves only the p=none one
    before = tree_bytes(world.tenants)
    with pytest.raises(AdoptRefused):
        Manager(world.tenants, world.project).adopt_dns("flare", world.ns, clock=lambda: NOW)
    assert tree_bytes(world.tenants) == before
