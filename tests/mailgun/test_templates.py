"""Mailgun's Templates API in the fake and the client: templates, versions by tag, pivot paging,
the active version, and a version create whose answer is lost (created once)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists, NotFound
from tests.fakes.mailgun_server import FakeMailgun

D = "tpl.example.eu"
Client = Callable[..., MailgunClient]


def test_templates_and_versions_round_trip(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    eu.create_domain(D)
    created = eu.create_template(D, "Welcome", "first mail")
    assert created["template"]["name"] == "welcome"  # Mailgun lower-cases names
    eu.create_template_version(D, "welcome", "v1", "Hello {{name}}", comment="first")
    eu.create_template_version(D, "welcome", "v2", "Hi {{name}}!", engine="handlebars")
    eu.create_template_version(D, "welcome", "v3", "Hey {{name}}")
    # The first version is active; `active=yes` moves it.
    assert [v["active"] for v in eu.list_template_versions(D, "welcome")] == [True, False, False]
    eu.create_template_version(D, "welcome", "v4", "Yo {{name}}", active=True)
    versions = eu.list_template_versions(D, "welcome", page_size=3)  # two pages
    assert [(v["tag"], v["active"]) for v in versions] == [
        ("v1", False),
        ("v2", False),
        ("v3", False),
        ("v4", True),
    ]
    assert "template" not in versions[0]  # lists carry no content
    got = eu.get_template_version(D, "welcome", "v1")
    assert (got["template"], got["comment"], got["engine"]) == ("Hello {{name}}", "first", "handlebars")
    with pytest.raises(AlreadyExists, match="409"):
        eu.create_template_version(D, "welcome", "v2", "again")
    with pytest.raises(NotFound):
        eu.get_template_version(D, "welcome", "v9")
    with pytest.raises(AlreadyExists):
        eu.create_template(D, "welcome")


def test_template_list_pages_with_a_pivot(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.seed_domain(D, "eu")
    names = [f"t{i:02d}" for i in range(23)]
    for name in names:
        fake.seed_template("eu", D, name, [{"tag": "a", "template": name}])
    assert [t["name"] for t in eu.iter_templates(D, page_size=10)] == names
    assert fake.count("GET", f"/v3/{D}/templates", "eu") == 4  # 10 + 10 + 3, then an empty page
    with pytest.raises(NotFound):
        client_for("us").get_template(D, "t00")  # region-bound


def test_a_version_whose_answer_is_lost_is_created_once(fake: FakeMailgun, client_for: Client) -> None:
    eu = client_for("eu")
    fake.seed_domain(D, "eu")
    fake.lose_response(method="POST", path="/templates$")
    eu.create_template(D, "receipt", "a receipt")
    fake.lose_response(method="POST", path="/versions$")
    eu.create_template_version(D, "receipt", "v1", "Paid {{amount}}")
    with fake.lock:
        posts = [(c.path, c.status) for c in fake.calls if c.method == "POST"]
        versions = fake.templates[("eu", D)]["receipt"]["versions"]
    assert posts == [(f"/v3/{D}/templates", 0), (f"/v3/{D}/templates/receipt/versions", 0)]
    assert list(versions) == ["v1"]


def test_templates_go_with_their_domain(client_for: Client) -> None:
    with FakeMailgun(delete_delay=0) as fake:
        eu = MailgunClient("eu", fake.api_key, base_url=fake.base_url("eu"))
        eu.create_domain(D)
        eu.create_template(D, "x")
        eu.delete_domain(D)
        with fake.lock:
            fake._purge_deleted()
            assert ("eu", D) not in fake.templates
