"""mailfleet.model.names: the validators every name from tenant input goes through."""

from __future__ import annotations

import pytest

from mailfleet.model import names


@pytest.mark.parametrize("value", ["a", "acme", "acme-2", "a" * 40, "0day"])
def test_slug_accepts(value: str) -> None:
    assert names.slug(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Acme", "must be lowercase"),
        ("", "1-40 characters"),
        ("-acme", "not starting or ending with '-'"),
        ("acme-", "not starting or ending with '-'"),
        ("a" * 41, "1-40 characters"),
        ("ac_me", "1-40 characters"),
        ("ac.me", "1-40 characters"),
        ("acmé", "1-40 characters"),
    ],
)
def test_slug_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        names.slug(value)


@pytest.mark.parametrize(
    "value", ["acme.no", "mail.acme.co.uk", "xn--bcher-kva.de", "a1.b2.example", "a-b.io"]
)
def test_domain_accepts(value: str) -> None:
    assert names.domain(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("bücher.de", "IDN"),
        ("Acme.no", "must be lowercase"),
        ("acme.no.", "must not end with a dot"),
        ("localhost", "at least two labels"),
        ("acme..no", "invalid label ''"),
        ("-acme.no", "invalid label '-acme'"),
        ("acme-.no", "invalid label 'acme-'"),
        ("ac_me.no", "invalid label 'ac_me'"),
        ("_spf.google.com", "invalid label '_spf'"),
        ("acme.123", "all-numeric top-level label"),
        ("192.0.2.1", "all-numeric top-level label"),
        ("a" * 64 + ".no", "is 64 octets, over the 63 limit"),
        (".".join(["a" * 63] * 4) + ".no", "octets long, over the 253 limit"),
        ('ac"me.no', "invalid label"),
        ("ac(me).no", "invalid label"),
        ("ac,me.no", "invalid label"),
    ],
)
def test_domain_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        names.domain(value)


# Valid IDNA 2008 A-labels: bücher, faß (IDNA 2003 would map it to "fass" and refuse the
# label), βόλοσ.
A_LABELS = ["xn--bcher-kva.de", "xn--fa-hia.de", "mail.xn--nxasmq6b.com"]


@pytest.mark.parametrize("value", A_LABELS)
def test_valid_a_labels_are_accepted(value: str) -> None:
    assert names.domain(value) == value
    assert names.domain("_spf." + value, service_labels=True) == "_spf." + value
    assert names.mailto_uri(f"mailto:dmarc@{value}") == f"mailto:dmarc@{value}"


@pytest.mark.parametrize(
    ("value", "label", "reason"),
    [
        ("xn--zz.com", "xn--zz", "Invalid A-label"),  # not decodable punycode
        ("xn--a-ecp.ru", "xn--a-ecp", "U+2488"),  # decodes to "a⒈": disallowed code point
        ("mail.xn--a-ecp.ru", "xn--a-ecp", "U+2488"),
        ("xn--ls8h.la", "xn--ls8h", "U+1F4A9"),  # an emoji: valid IDNA 2003, not IDNA 2008
        ("xn--abc.com", "xn--abc", "U+0082"),  # decodes to control characters
        ("acme.xn--zz", "xn--zz", "Invalid A-label"),  # the top-level label too
    ],
)
def test_invalid_a_labels_are_refused(value: str, label: str, reason: str) -> None:
    message = f"has a label {label!r} that is not a valid IDNA A-label (punycode; RFC 5891): "
    for check in (
        names.domain,
        lambda v: names.domain(v, service_labels=True),
        lambda v: names.domain(f"_spf.{v}", service_labels=True),
        lambda v: names.mailto_uri(f"mailto:dmarc@{v}"),
    ):
        with pytest.raises(ValueError) as exc:
            check(value)
        assert message in str(exc.value)
        assert reason in str(exc.value)
        assert str(exc.value).isprintable()  # decoded control characters are never printed raw


def test_service_labels_only_when_asked() -> None:
    assert names.domain("_spf.google.com", service_labels=True) == "_spf.google.com"
    assert names.domain("_netblocks3.google.com", service_labels=True) == "_netblocks3.google.com"
    with pytest.raises(ValueError, match="invalid label '__spf'"):
        names.domain("__spf.google.com", service_labels=True)


@pytest.mark.parametrize("value", ["support", "first.last", "no-reply", "a_b", "x", "a" * 63])
def test_local_part_accepts(value: str) -> None:
    assert names.local_part(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Support", "must be lowercase"),
        ("", "may only contain"),
        (".support", "may only contain"),
        ("support.", "may only contain"),
        ("first..last", "may only contain"),
        ("sup port", "may only contain"),
        ('sup"port', "may only contain"),
        ("sup,port", "may only contain"),
        ("sup(port)", "may only contain"),
        ("sup+tag", "may only contain"),
        ("sup*", "may only contain"),
        ("a" * 64, "may only contain"),
        ("sup@port", "may only contain"),
    ],
)
def test_local_part_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        names.local_part(value)


def test_dkim_selector() -> None:
    assert names.dkim_selector("mailfleet") == "mailfleet"
    assert names.dkim_selector("s2024-1") == "s2024-1"
    with pytest.raises(ValueError, match="single label, without dots"):
        names.dkim_selector("a.b")
    with pytest.raises(ValueError, match="lowercase a-z"):
        names.dkim_selector("Sel")
    with pytest.raises(ValueError, match="lowercase a-z"):
        names.dkim_selector("sel_1")
    with pytest.raises(ValueError, match="lowercase a-z"):
        names.dkim_selector("a" * 64)


def test_zone_ids() -> None:
    assert names.cloudflare_zone_id("0" * 32) == "0" * 32
    for bad in ("0" * 31, "0" * 33, "A" * 32, "g" * 32):
        with pytest.raises(ValueError, match="32 lowercase hex"):
            names.cloudflare_zone_id(bad)
    assert names.route53_zone_id("Z04EXAMPLEEU0001") == "Z04EXAMPLEEU0001"
    for bad in ("04EXAMPLE", "z04example", "Z", "Z" + "A" * 32, "Z04-EXAMPLE"):
        with pytest.raises(ValueError, match="Route53 hosted zone id"):
            names.route53_zone_id(bad)


@pytest.mark.parametrize(
    "value",
    [
        "mailto:dmarc@acme.no",
        "mailto:d.m+rua@reports.acme.no",
        "mailto:dmarc@acme.no!10m",
        "mailto:a@acme.no!500",
    ],
)
def test_mailto_uri_accepts(value: str) -> None:
    assert names.mailto_uri(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("dmarc@acme.no", "must be a mailto: URI"),
        ("https://acme.no/dmarc", "must be a mailto: URI"),
        ("mailto:", "not a valid mailto: URI"),
        ("mailto:dmarc", "not a valid mailto: URI"),
        ("mailto:DMARC@acme.no", "not a valid mailto: URI"),
        ("mailto:a,b@acme.no", "not a valid mailto: URI"),
        ("mailto:a;p=none@acme.no", "not a valid mailto: URI"),
        ("mailto:dmarc@localhost", "at least two labels"),
        # RFC 7489 6.4: "!" then digits and an optional unit; anything else would inject
        # text into the DMARC record.
        ("mailto:dmarc@acme.no!", "invalid size limit ''"),
        ("mailto:dmarc@acme.no!10x", "invalid size limit '10x'"),
        ("mailto:dmarc@acme.no!10m; p=none", "invalid size limit"),
        ("mailto:dmarc@acme.no!m", "invalid size limit 'm'"),
    ],
)
def test_mailto_uri_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        names.mailto_uri(value)


def test_mailto_domain_ignores_size() -> None:
    assert names.mailto_domain("mailto:dmarc@reports.acme.no!10m") == "reports.acme.no"
    assert names.mailto_domain("mailto:dmarc@acme.no") == "acme.no"


@pytest.mark.parametrize(
    ("name", "org"),
    [
        ("acme.no", "acme.no"),
        ("mail.acme.no", "acme.no"),
        ("a.b.acme.co.uk", "acme.co.uk"),
        ("mail.example.eu", "example.eu"),
        ("co.uk", "co.uk"),  # a public suffix is its own answer
    ],
)
def test_organisational_domain(name: str, org: str) -> None:
    assert names.organisational_domain(name) == org


def test_domain_fast_path_agrees_with_the_label_checks() -> None:
    """``domain`` accepts a name in one regex call when it can; it must accept exactly what
    the label-by-label checks accept, and reject with their message otherwise."""
    import random

    rng = random.Random(7)
    alphabet = "abz09-._A\n"
    samples = [
        "a.b",
        "a" * 63 + ".no",
        "a" * 64 + ".no",
        ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 253 octets
        ".".join(["a" * 63] * 3) + "." + "b" * 62,  # 254 octets
        "1.2",
        "a.1b",
        "a-.b",
        "acme.no\n",
    ]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    # Label-shaped names, mostly valid, some with one edge character put in.
    for _ in range(3000):
        labels = [
            "".join(rng.choice("ab09") for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 4))
        ]
        name = ".".join(labels)
        if rng.random() < 0.3:
            at = rng.randint(0, len(name))
            name = name[:at] + rng.choice("-_.A\n") + name[at:]
        samples.append(name)
    accepted = 0
    for value in samples:
        try:
            slow: str | None = names._domain_checked(value, False)
        except ValueError as exc:
            slow = None
            slow_message = str(exc)
        if slow is None:
            with pytest.raises(ValueError) as fast_exc:
                names.domain(value)
            assert str(fast_exc.value) == slow_message
        else:
            accepted += 1
            assert names.domain(value) == value
    assert 500 < accepted < len(samples) - 500  # the corpus exercises both paths


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (names.slug, "acme\n"),
        (names.domain, "acme.no\n"),
        (lambda v: names.domain(v, service_labels=True), "_spf.acme.no\n"),
        (names.local_part, "support\n"),
        (names.dkim_selector, "s1\n"),
        (names.cloudflare_zone_id, "0" * 32 + "\n"),
        (names.route53_zone_id, "Z04EXAMPLE\n"),
        (names.mailto_uri, "mailto:d@acme.no\n"),
        (names.mailto_uri, "mailto:d@acme.no!5m\n"),
    ],
)
def test_a_trailing_newline_is_rejected(check: object, value: str) -> None:
    # Python's "$" also matches before a final newline; a YAML block scalar ends with one.
    # The value without it is valid: only the newline makes it fail.
    assert callable(check)
    assert check(value[:-1]) == value[:-1]
    with pytest.raises(ValueError):
        check(value)
