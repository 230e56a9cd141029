"""The pieces of the import: the convention read backwards, DKIM keys, the in-place edit, paging."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailfleet.fleet_import.convention import literal_of, platform_slug, read_route, slug_under, webhook_slugs
from mailfleet.fleet_import.dkim import DkimUnreadable, dkim_of, key_bits
from mailfleet.fleet_import.edit import EditRefused, with_mailgun_block
from mailfleet.loader import parse_yaml
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError
from mailfleet.model.adoption import MailgunAdoption
from tests.fakes.mailgun_server import FakeMailgun

INBOUND = "https://crm.example.eu/mailgun/inbound"
HOOKS = "https://crm.example.eu/mailgun/events"
MG = MailgunAdoption(
    taken_at="2026-01-02T03:04:05+00:00",
    region="eu",
    domains=["acme.mail.example.eu"],
    routes={"support@acme.mail.example.eu": "5f0c"},
    credentials=["crm"],
)


# -- the convention -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"^support@acme\.mail\.example\.eu$", "support@acme.mail.example.eu"),
        (r"^kunde\-service@acme\.no$", "kunde-service@acme.no"),
        ("support@acme.no", "support@acme.no"),  # unescaped dots, no anchors: one address
        (".*@acme.no", None),
        (r"^(support|sales)@acme\.no$", None),
        (r"^support\d@acme\.no$", None),
        (r"^[a-z]+@acme\.no$", None),
        ("support@acme.no.+", None),
    ],
)
def test_literal_of_a_recipient_pattern(pattern: str, literal: str | None) -> None:
    assert literal_of(pattern) == literal


def test_a_route_by_the_convention_names_its_tenant_and_address() -> None:
    route = read_route(
        {
            "id": "r1",
            "priority": 10,
            "expression": r'match_recipient("^support@acme\.mail\.example\.eu$")',
            "actions": [f'forward("{INBOUND}/acme")', "stop()"],
        },
        INBOUND,
    )
    assert (route.slug, route.address, route.reason) == ("acme", "support@acme.mail.example.eu", "")
    single = read_route(
        {"id": "r2", "expression": "match_recipient('x@acme.no')", "actions": [f"forward('{INBOUND}/acme')"]},
        INBOUND,
    )
    assert (single.slug, single.address) == ("acme", "x@acme.no")


@pytest.mark.parametrize(
    ("expression", "actions", "reason"),
    [
        ("catch_all()", [f'forward("{INBOUND}/acme")'], "does not match one recipient"),
        ('match_recipient(".*@acme.no")', [f'forward("{INBOUND}/acme")'], "more than one address"),
        ('match_header("subject", "x")', [f'forward("{INBOUND}/acme")'], "does not match one recipient"),
        ('match_recipient("a@acme.no")', ['forward("https://other.example/in")'], "forwards elsewhere"),
        ('match_recipient("a@acme.no")', ['forward("ops@acme.no")', "stop()"], "forwards elsewhere"),
        ('match_recipient("a@acme.no")', [f'forward("{INBOUND}/acme/x")'], "forwards elsewhere"),
        (
            'match_recipient("a@acme.no")',
            [f'forward("{INBOUND}/a")', f'forward("{INBOUND}/b")'],
            "several tenants",
        ),
    ],
)
def test_routes_off_the_convention_say_why(expression: str, actions: list[str], reason: str) -> None:
    route = read_route({"id": "r", "expression": expression, "actions": actions}, INBOUND)
    assert route.address is None and reason in route.reason


def test_webhook_and_platform_slugs() -> None:
    hooks = {"delivered": [f"{HOOKS}/acme", "https://other.example/x"], "opened": [f"{HOOKS}/acme/extra"]}
    assert webhook_slugs(hooks, HOOKS) == {"acme"}
    assert slug_under(f"{HOOKS}/acme?x=1", HOOKS) is None
    assert platform_slug("acme.mail.example.eu", "mail.example.eu") == "acme"
    assert platform_slug("a.b.mail.example.eu", "mail.example.eu") is None
    assert platform_slug("acme.example.eu", "mail.example.eu") is None


# -- DKIM -----------------------------------------------------------------------------------


def _p(bits: int, fmt: serialization.PublicFormat = serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


@pytest.mark.parametrize("bits", [1024, 2048])
def test_key_size_comes_from_the_public_key(bits: int) -> None:
    assert key_bits(f"k=rsa; p={_p(bits)}") == bits
    assert key_bits(f"v=DKIM1; p={_p(bits, serialization.PublicFormat.PKCS1)}") == bits


def test_unreadable_keys_are_refused_with_a_reason() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_p = base64.b64encode(
        ec_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    for value, why in (
        ("k=rsa; p=", "revoked"),
        ("k=rsa", "no public key"),
        ("k=rsa; p=!!!", "not a base64 DER"),
        (f"k=rsa; p={ec_p}", "not an RSA key"),
        ("k=ed25519; p=AAAA", "only RSA"),
    ):
        with pytest.raises(DkimUnreadable, match=why):
            key_bits(value)


def test_selector_is_the_first_label_of_the_domainkey_record() -> None:
    body = {
        "sending_dns_records": [
            {"record_type": "TXT", "name": "acme.no", "value": "v=spf1 include:mailgun.org ~all"},
            {"record_type": "TXT", "name": "pic._domainkey.acme.no", "value": f"k=rsa; p={_p(1024)}"},
            {"record_type": "CNAME", "name": "email.acme.no", "value": "eu.mailgun.org"},
        ]
    }
    found = dkim_of("acme.no", body)
    assert (found.selector, found.bits) == ("pic", 1024)
    with pytest.raises(DkimUnreadable, match="no DKIM record"):
        dkim_of("other.no", body)


# -- the in-place edit ----------------------------------------------------------------------


def _mg_data(text: str) -> dict[str, object]:
    data = parse_yaml(text.encode())
    assert isinstance(data, dict)
    return data


def test_a_file_without_adopted_gets_the_block_appended() -> None:
    text = "# a comment\nslug: acme\nmailboxes: [support]   # theirs\n"
    out = with_mailgun_block(text, MG)
    assert out.startswith(text)
    assert _mg_data(out)["adopted"] == {"mailgun": MG.model_dump(mode="json", exclude_defaults=True)}


def test_an_adopted_block_with_dns_gets_mailgun_added_at_its_indentation() -> None:
    text = (
        "slug: acme\n"
        "adopted:\n"
        "    dns:\n"
        "        taken_at: '2026-01-01T00:00:00Z'\n"
        "        source: system resolver\n"
        "    # a note about dns\n"
        "\n"
        "# about tracking\n"
        "tracking: true\n"
    )
    out = with_mailgun_block(text, MG)
    data = _mg_data(out)
    assert data["tracking"] is True and data["adopted"]["dns"]["source"] == "system resolver"  # type: ignore[index]
    assert "    mailgun:\n        taken_at:" in out
    assert out.endswith("    # a note about dns\n\n# about tracking\ntracking: true\n")


def test_an_existing_mailgun_block_is_replaced_and_nothing_else() -> None:
    old = MG.model_copy(update={"domains": ["old.example"], "routes": {}})
    first = with_mailgun_block(
        "slug: acme\nadopted:\n  mailgun:\n    region: us\n  release: false\nname: A\n", old
    )
    second = with_mailgun_block(first, MG)
    data = _mg_data(second)
    assert data["adopted"] == {  # type: ignore[comparison-overlap]
        "mailgun": MG.model_dump(mode="json", exclude_defaults=True),
        "release": False,
    }
    assert second.startswith("slug: acme\nadopted:\n  mailgun:\n") and second.endswith(
        "  release: false\nname: A\n"
    )


def test_crlf_files_keep_their_line_endings() -> None:
    out = with_mailgun_block("slug: acme\r\nname: A\r\n", MG)
    assert "\n" not in out.replace("\r\n", "")


@pytest.mark.parametrize(
    "text",
    [
        "slug: acme\nadopted: {dns: null}\n",
        "slug: acme\nadopted:\n  mailgun: {region: eu}\n",
    ],
)
def test_inline_blocks_are_refused(text: str) -> None:
    with pytest.raises(EditRefused, match="inline"):
        with_mailgun_block(text, MG)


# -- reading Mailgun in pages ---------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        yield server


def test_domains_are_read_in_pages_of_at_most_1000(fake: FakeMailgun) -> None:
    for i in range(25):
        fake.seed_domain(f"d{i:02d}.example", "eu")
    fake.seed_domain("other-region.example", "us")
    client = MailgunClient("eu", fake.api_key, fake.base_url("eu"))
    names = [d["name"] for d in client.list_domains(page_size=10)]
    assert names == [f"d{i:02d}.example" for i in reversed(range(25))]  # newest first, as Mailgun
    assert fake.count("GET", "/v4/domains", "eu") == 3
    assert client.requests == 3
    with pytest.raises(MailgunError, match="can't be larger than 1000"):
        client.list_domains(page_size=1001)


def test_routes_and_credentials_refuse_pages_over_1000(fake: FakeMailgun) -> None:
    fake.seed_domain("a.example", "eu")
    fake.seed_credential("eu", "a.example", "crm", password="secret-pw-123")
    client = MailgunClient("eu", fake.api_key, fake.base_url("eu"))
    assert client.list_credential_logins("a.example") == ["crm@a.example"]
    with pytest.raises(MailgunError, match="larger than 1000"):
        client.list_routes(1001)
    with pytest.raises(MailgunError, match="larger than 1000"):
        client.list_credentials("a.example", 1001)


def test_sorting_domains_by_name(fake: FakeMailgun) -> None:
    for name in ("b.example", "c.example", "a.example"):
        fake.seed_domain(name, "eu")
    client = MailgunClient("eu", fake.api_key, fake.base_url("eu"))
    body = client.request("GET", "/v4/domains", params={"sort": "name:desc"})
    assert [d["name"] for d in body["items"]] == ["c.example", "b.example", "a.example"]
