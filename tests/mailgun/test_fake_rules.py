"""The fake Mailgun refuses what Mailgun refuses and routes mail as Mailgun documents.

Rules (docs/mailgun-fake.md): route filters are Python-style regular expressions matched from
the start of the recipient; ``catch_all()`` only when no earlier route matched; ``stop()`` ends
the run; filters Mailgun cannot evaluate are refused with 400; webhooks hold 1-3 URLs on create
and update alike; a domain update takes the documented values only.
"""

from __future__ import annotations

import pytest
import requests
import yaml

from mailfleet.mailgun.client import MailgunError
from tests.conftest import REPO

FORWARD = 'forward("https://crm.example.eu/mailgun/inbound/acme")'


def test_a_tenant_route_takes_its_mailbox_and_nothing_near_it(fake, client_for) -> None:
    eu = client_for("eu")
    route = eu.create_route(
        'match_recipient("^support@acme\\.mail\\.example\\.eu$")', [FORWARD, "stop()"], 10
    )
    assert [r["id"] for r in fake.deliver("eu", "support@acme.mail.example.eu")] == [route["id"]]
    for stranger in (
        "support@acme.mail.example.eu.evil.test",  # the $ anchor
        "xsupport@acme.mail.example.eu",  # matched from the start
        "support@acmexmail.example.eu",  # the dots are escaped
        "sales@acme.mail.example.eu",
        "SUPPORT@acme.mail.example.eu",  # Python regexes are case-sensitive
    ):
        assert fake.deliver("eu", stranger) == [], stranger
    assert fake.deliver("us", "support@acme.mail.example.eu") == []  # routes are per region


def test_an_unescaped_or_unanchored_route_takes_strangers(fake, client_for) -> None:
    eu = client_for("eu")
    eu.create_route('match_recipient("support@acme.mail.example.eu")', [FORWARD], 10)
    assert len(fake.deliver("eu", "support@acmexmail.example.eu")) == 1
    assert len(fake.deliver("eu", "support@acme.mail.example.eu.evil.test")) == 1


def test_priority_stop_and_catch_all(fake, client_for) -> None:
    eu = client_for("eu")
    catch = eu.create_route("catch_all()", ["store()"], 100)
    low = eu.create_route('match_recipient(".*@acme.test")', ['forward("https://b.test/")'], 20)
    high = eu.create_route('match_recipient("^a@acme\\.test$")', ['forward("https://a.test/")', "stop()"], 5)
    header = eu.create_route(
        'match_recipient(\'^(.*)@acme.test$\') and match_header("Subject", ".*urgent")',
        ['forward("https://u.test/")'],
        10,
    )
    ids = lambda found: [r["id"] for r in found]  # noqa: E731
    assert ids(fake.deliver("eu", "a@acme.test")) == [high["id"]]  # stop() ends the run
    assert ids(fake.deliver("eu", "b@acme.test")) == [low["id"]]
    assert ids(fake.deliver("eu", "b@acme.test", {"subject": "Very urgent"})) == [header["id"], low["id"]]
    assert ids(fake.deliver("eu", "b@acme.test", {"Subject": "not now"})) == [low["id"]]
    assert ids(fake.deliver("eu", "nobody@other.test")) == [catch["id"]]


@pytest.mark.parametrize(
    "expression",
    [
        "",
        'match_recipient("[unclosed")',
        'match_recipient("a@b.test") or catch_all()',
        'forward("https://x.test")',
        'catch_all() and match_recipient("a@b.test")',
        'match_recipient("' + "a" * 4078 + '")',  # 4097 characters: over Mailgun's 4k
    ],
)
def test_a_filter_mailgun_cannot_evaluate_is_refused(fake, client_for, expression: str) -> None:
    with pytest.raises(MailgunError) as exc:
        client_for("eu", max_retries=0).create_route(expression or " ", [FORWARD], 10)
    assert exc.value.status == 400
    assert fake.routes["eu"] == {}


def test_a_filter_of_exactly_4096_characters_is_accepted(fake, client_for) -> None:
    expression = 'match_recipient("' + "a" * 4077 + '")'
    assert len(expression) == 4096
    client_for("eu").create_route(expression, [FORWARD], 10)
    assert len(fake.deliver("eu", "a" * 4077)) == 1


def _webhook(fake, method: str, urls: list[str], kind: str = "delivered") -> requests.Response:
    base = fake.base_url("eu")
    path = "/v3/domains/acme.example.no/webhooks" + ("" if method == "POST" else f"/{kind}")
    data = [("url", u) for u in urls] + ([("id", kind)] if method == "POST" else [])
    return requests.request(method, base + path, data=data, auth=("api", fake.api_key), timeout=10)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_webhooks_hold_one_to_three_urls(fake, method: str) -> None:
    fake.seed_domain("acme.example.no", "eu")
    if method == "PUT":
        fake.seed_webhooks("eu", "acme.example.no", {"delivered": ["https://old.test/"]})
    urls = [f"https://crm.example.eu/{i}" for i in range(4)]
    for bad in ([], urls):  # none, and one past the limit
        answer = _webhook(fake, method, bad)
        assert answer.status_code == 400, bad
        assert "between 1 and 3 url values" in answer.json()["Reason"]
    assert _webhook(fake, method, urls[:1]).status_code == 200
    with fake.lock:
        assert fake.webhooks[("eu", "acme.example.no")]["delivered"] == urls[:1]
    if method == "POST":
        _webhook(fake, "DELETE", [])
    assert _webhook(fake, method, urls[:3]).status_code == 200  # exactly at the limit
    with fake.lock:
        assert fake.webhooks[("eu", "acme.example.no")]["delivered"] == urls[:3]


def _update(fake, fields: dict[str, str]) -> requests.Response:
    url = fake.base_url("eu") + "/v4/domains/acme.example.no"
    return requests.put(url, data=fields, auth=("api", fake.api_key), timeout=10)


def test_domain_updates_take_the_documented_values(fake) -> None:
    fake.seed_domain("acme.example.no", "eu")
    ok = _update(fake, {"spam_action": "tag", "web_scheme": "https", "wildcard": "true"})
    assert ok.status_code == 200
    assert ok.json()["domain"]["spam_action"] == "tag"
    assert ok.json()["domain"]["wildcard"] is True
    for bad in (
        {},
        {"spam_action": "delete"},
        {"web_scheme": "ftp"},
        {"wildcard": "yes"},
        {"mailfrom_host": "Bounce.Acme.example.no"},
        {"message_ttl": "three days"},
        {"spam_action": "block", "web_scheme": "gopher"},  # nothing applies when one field is bad
    ):
        answer = _update(fake, bad)
        assert answer.status_code == 400, bad
    with fake.lock:
        dom = fake.domains["acme.example.no"]
        assert (dom.spam_action, dom.web_scheme, dom.wildcard) == ("tag", "https", True)
        assert [u[2] for u in fake.domain_updates] == [
            {"spam_action": "tag", "web_scheme": "https", "wildcard": "true"}
        ]
    assert (
        requests.put(
            fake.base_url("us") + "/v4/domains/acme.example.no",
            data={"spam_action": "tag"},
            auth=("api", fake.api_key),
            timeout=10,
        ).status_code
        == 404
    )  # the domain lives in the EU region


def _mailboxes() -> list[tuple[str, str]]:
    """(slug, address) of every example tenant's platform mailbox, read from the tenant files."""
    platform = {"eu": "mail.example.eu", "us": "mail.example.com"}
    out = []
    for path in sorted((REPO / "tenants").glob("*.yaml")):
        tenant = yaml.safe_load(path.read_text())
        for box in tenant["mailboxes"]:
            out.append((tenant["slug"], f"{box}@{tenant['slug']}.{platform[tenant['region']]}"))
    return out


def test_the_models_routes_take_exactly_the_tenants_mailboxes(fake, client_for) -> None:
    """Every example tenant's routes, created as the model declares them, route each mailbox to
    that tenant's inbound URL and nothing else; near misses match no route."""
    from mailfleet.project import Project

    project = Project.load(REPO / "tenants", REPO)
    for state in project.states.values():
        client = client_for(state.region)
        for tenant in state.tenants:
            for route in tenant.routes:
                client.create_route(route.expression, list(route.actions), route.priority, route.description)
    addresses = _mailboxes()
    assert len(addresses) >= 9
    for slug, address in addresses:
        region = "eu" if address.endswith(".eu") else "us"
        ran = fake.deliver(region, address)
        assert len(ran) == 1, (address, ran)
        assert ran[0]["actions"][0].endswith(f'/{slug}")'), ran[0]
        other = "us" if region == "eu" else "eu"
        assert fake.deliver(other, address) == []
        local, domain = address.split("@")
        for miss in (
            f"{local}x@{domain}",
            f"{local}@{domain}.evil.test",
            f"{local}@{domain.replace('.', 'x', 1)}",
        ):
            assert fake.deliver(region, miss) == [], miss
