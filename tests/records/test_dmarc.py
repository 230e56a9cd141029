"""mailfleet.records.dmarc: the _dmarc TXT and external report destinations (RFC 7489)."""

from __future__ import annotations

from mailfleet.records import dmarc


def test_record_name() -> None:
    assert dmarc.record_name("acme.no") == "_dmarc.acme.no"


def test_value_starts_with_version_then_policy() -> None:
    value = dmarc.value("reject", ["mailto:a@acme.no"])
    tags = [t.strip() for t in value.split(";")]
    assert tags[0] == "v=DMARC1"
    assert tags[1] == "p=reject"
    assert value == "v=DMARC1; p=reject; rua=mailto:a@acme.no"


def test_value_without_reports() -> None:
    assert dmarc.value("none", []) == "v=DMARC1; p=none"


def test_value_lists_uris_comma_separated() -> None:
    value = dmarc.value("quarantine", ["mailto:a@acme.no", "mailto:b@x.example!10m"], ["mailto:f@acme.no"])
    assert (
        value == "v=DMARC1; p=quarantine; rua=mailto:a@acme.no,mailto:b@x.example!10m; ruf=mailto:f@acme.no"
    )


def test_historic_tags_are_never_emitted() -> None:
    # DMARCbis makes pct, rf and ri historic.
    value = dmarc.value("reject", ["mailto:a@acme.no"], ["mailto:f@acme.no"])
    keys = {t.split("=", 1)[0].strip() for t in value.split(";")}
    assert keys == {"v", "p", "rua", "ruf"}


def test_authorisation_record() -> None:
    assert dmarc.authorisation_name("acme.no", "mail.example.eu") == "acme.no._report._dmarc.mail.example.eu"
    assert dmarc.AUTHORISATION_VALUE == "v=DMARC1"


def test_same_organisation_is_not_external() -> None:
    assert dmarc.external_destinations("acme.no", ["mailto:d@acme.no", "mailto:d@reports.acme.no"]) == []
    assert dmarc.external_destinations("mail.acme.no", ["mailto:d@acme.no"]) == []


def test_other_organisation_is_external_once() -> None:
    uris = ["mailto:a@mail.example.eu", "mailto:b@mail.example.eu!5m", "mailto:c@acme.no"]
    assert dmarc.external_destinations("acme.no", uris) == ["mail.example.eu"]


def test_public_suffix_boundaries_decide() -> None:
    # Two registrations under the same public suffix are different organisations.
    assert dmarc.external_destinations("acme.co.uk", ["mailto:d@other.co.uk"]) == ["other.co.uk"]
    # A platform sub-domain reports to its own organisation: nothing to authorise.
    assert dmarc.external_destinations("acme.mail.example.eu", ["mailto:d@mail.example.eu"]) == []
    # The destination's tree but a different registrable domain (example.eu vs ex-ample.eu).
    assert dmarc.external_destinations("example.eu", ["mailto:d@mail.ex-ample.eu"]) == ["mail.ex-ample.eu"]


def _external_by_the_list(domain: str, uris: list[str]) -> list[str]:
    """The same question answered the long way: the list asked for every destination (the
    function as it was before its shortcut)."""
    from mailfleet.model import names

    out: list[str] = []
    for uri in uris:
        dest = names.mailto_domain(uri)
        if dest in out:
            continue
        dest_org = names.organisational_domain(dest)
        inside = domain == dest_org or domain.endswith("." + dest_org)
        if not inside or names.organisational_domain(domain) != dest_org:
            out.append(dest)
    return out


def test_external_destinations_shortcut_agrees_with_the_list() -> None:
    """Destinations sharing fewer than two trailing labels with the domain skip the list
    lookup; every pair here must still give what the list says (public suffixes of one, two
    and three labels, wildcards and exceptions, upper case, the domain itself)."""
    names_ = [
        "acme.no", "mail.acme.no", "ACME.NO", "other.no", "acme.co.uk", "other.co.uk", "co.uk", "uk",
        "example.eu", "mail.example.eu", "t1.mail.example.eu", "tenant1.example.com", "example.com",
        "a.b.kawasaki.jp", "b.kawasaki.jp", "city.kawasaki.jp", "x.city.kawasaki.jp", "kawasaki.jp",
        "foo.github.io", "bar.github.io", "github.io", "a.foo.github.io", "blogspot.com", "x.blogspot.com",
        "s3.amazonaws.com", "b.s3.amazonaws.com", "reports.example.org", "example.org", "ck", "www.ck", "a.www.ck",
    ]  # fmt: skip
    import itertools

    for domain, dest in itertools.product(names_, repeat=2):
        uris = [f"mailto:d@{dest}"]
        assert dmarc.external_destinations(domain, uris) == _external_by_the_list(domain, uris), (
            domain,
            dest,
        )
