"""A create whose answer is lost is retried, and the retry LOOKS BEFORE IT CREATES.

The fake carries the POST out, then drops the connection without an answer
(``FakeMailgun.lose_response``): the client sees what it sees after a timeout. Before its retry
it asks Mailgun whether the thing exists and returns it: one POST, one thing. The same raw POST
without the look makes a duplicate route, so the fault is real. Webhook 400s carry Mailgun's
``Reason`` field, and the client still reads them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists
from tests.fakes.mailgun_server import FakeMailgun

D = "retry.example.eu"
EXPR = f'match_recipient(".*@{D}")'
ACTIONS = [f'forward("https://crm.example.com/inbound/{D}")']

Client = Callable[..., MailgunClient]


def posts(fake: FakeMailgun, path: str) -> list[int]:
    with fake.lock:
        return [c.status for c in fake.calls if c.method == "POST" and c.path == path]


def test_the_fault_is_real_a_blind_retry_duplicates_a_route(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.lose_response(method="POST", path="^/v3/routes$")
    form = [("priority", "1"), ("description", ""), ("expression", EXPR), *(("action", a) for a in ACTIONS)]
    eu.request("POST", "/v3/routes", data=form)  # the plain request: retried without looking
    assert posts(fake, "/v3/routes") == [0, 200]
    assert len(fake.routes["eu"]) == 2


def test_a_route_whose_answer_is_lost_is_created_once(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.seed_route("eu", EXPR, ACTIONS, priority=7, description="other priority: not ours")
    fake.lose_response(method="POST", path="^/v3/routes$")
    route = eu.create_route(EXPR, ACTIONS, 1, "catch-all")
    assert posts(fake, "/v3/routes") == [0]  # one POST, its answer lost; never sent again
    ours = [r for r in fake.routes["eu"].values() if r["priority"] == 1]
    assert [r["id"] for r in ours] == [route["id"]]
    assert len(fake.routes["eu"]) == 2
    assert eu.retries == 1


def test_a_route_after_a_502_from_a_proxy_that_did_the_work(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.inject(502, method="POST", path="^/v3/routes$", apply=True)
    eu.create_route(EXPR, ACTIONS, 1, "")
    assert posts(fake, "/v3/routes") == [502]
    assert len(fake.routes["eu"]) == 1


def test_domain_webhook_and_login_whose_answers_are_lost(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.lose_response(method="POST", path="^/v4/domains$")
    body = eu.create_domain(D)
    assert body["domain"]["name"] == D
    assert posts(fake, "/v4/domains") == [0]

    fake.lose_response(method="POST", path="/webhooks$")
    eu.create_webhook(D, "delivered", ["https://crm.example.com/hooks/d"])
    assert posts(fake, f"/v3/domains/{D}/webhooks") == [0]
    assert eu.get_webhook(D, "delivered") == ["https://crm.example.com/hooks/d"]

    fake.lose_response(method="POST", path="/credentials$")
    eu.create_credential(D, "crm", "a-password-123")
    assert posts(fake, f"/v3/domains/{D}/credentials") == [0]
    assert eu.list_credential_logins(D) == [f"crm@{D}"]


def test_no_look_when_the_first_attempt_is_answered(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    eu.create_domain(D)
    eu.create_route(EXPR, ACTIONS, 1, "")
    eu.create_webhook(D, "opened", ["https://crm.example.com/hooks/o"])
    with fake.lock:
        assert [c.method for c in fake.calls] == ["POST", "POST", "POST"]


def test_webhook_400s_carry_reason_and_are_still_read(fake: FakeMailgun, client_for: Client) -> None:
    import requests

    eu = client_for("eu")
    eu.create_domain(D)
    eu.create_webhook(D, "clicked", ["https://crm.example.com/hooks/c"])
    raw = requests.post(
        f"{fake.base_url('eu')}/v3/domains/{D}/webhooks",
        data={"id": "clicked", "url": "https://x.example.com"},
        auth=("api", fake.api_key),
        timeout=5,
    )
    assert (raw.status_code, raw.json()) == (400, {"Reason": "Webhook clicked already exists"})
    # Someone else's URLs under the kind: the look does not claim it, the POST says why.
    fake.lose_response(method="POST", path="/webhooks$")
    with pytest.raises(AlreadyExists, match="Webhook clicked already exists"):
        eu.create_webhook(D, "clicked", ["https://crm.example.com/hooks/other"])
    with pytest.raises(AlreadyExists, match="HTTP 400: Webhook opened"):
        eu.create_webhook(D, "opened", ["https://a"])
        eu.create_webhook(D, "opened", ["https://b"])
