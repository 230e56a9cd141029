"""mailfleet.records.spf: one merged record, lookups counted from the documented table."""

from __future__ import annotations

import pytest

from mailfleet.records import spf

MG = "mailgun.org"


def test_mailgun_first_then_customer_senders_in_their_order() -> None:
    merged = spf.merge(MG, ["sendgrid.net", "amazonses.com"])
    assert merged.includes == ("mailgun.org", "sendgrid.net", "amazonses.com")
    assert merged.value == "v=spf1 include:mailgun.org include:sendgrid.net include:amazonses.com ~all"


def test_duplicates_are_merged_keeping_the_first_position() -> None:
    merged = spf.merge(MG, ["sendgrid.net", "mailgun.org", "sendgrid.net", "amazonses.com"])
    assert merged.includes == ("mailgun.org", "sendgrid.net", "amazonses.com")
    assert merged.value.count("include:mailgun.org") == 1
    assert merged.value.count("include:sendgrid.net") == 1


def test_no_other_senders_is_mailgun_alone() -> None:
    assert spf.merge(MG, []).value == "v=spf1 include:mailgun.org ~all"


@pytest.mark.parametrize("qualifier", ["~all", "-all"])
def test_all_qualifier_is_last(qualifier: str) -> None:
    value = spf.merge(MG, ["sendgrid.net"], qualifier).value
    assert value.split()[-1] == qualifier
    assert value.split()[0] == "v=spf1"
    assert value.count("all") == 1


def test_default_qualifier_is_softfail() -> None:
    assert spf.merge(MG, []).all == "~all"
    assert spf.Spf((MG,)).value.endswith(" ~all")


# The documented table (docs/plan.md): the include itself plus the lookups its record makes.
@pytest.mark.parametrize(
    ("target", "cost"),
    [
        ("mailgun.org", 5),  # -> _spf.mailgun.org (-> _spf1, _spf2) + _spf.eu.mailgun.org
        ("_spf.google.com", 4),  # -> _netblocks, _netblocks2, _netblocks3
        ("spf.protection.outlook.com", 2),  # -> spfd.protection.outlook.com
        ("sendgrid.net", 1),
        ("amazonses.com", 1),
        ("unknown-sender.example", 1),  # not in the table: the minimum, checked live by `check`
    ],
)
def test_include_cost(target: str, cost: int) -> None:
    assert spf.include_cost(target) == cost


def test_unknown_include_costs_the_minimum() -> None:
    assert spf.UNKNOWN_INCLUDE_COST == 1
    assert "never-heard-of.example" not in spf.KNOWN_INCLUDE_COSTS


def test_every_table_entry_counts_at_least_the_include_itself() -> None:
    assert spf.KNOWN_INCLUDE_COSTS
    assert all(cost >= 1 for cost in spf.KNOWN_INCLUDE_COSTS.values())


def test_lookups_are_summed_over_the_merged_includes() -> None:
    merged = spf.merge(MG, ["_spf.google.com", "sendgrid.net"])
    assert merged.lookups == 5 + 4 + 1
    assert spf.lookup_count(["mailgun.org", "spf.protection.outlook.com"]) == 7
    # A duplicate is merged before counting, so it costs nothing extra.
    assert spf.merge(MG, ["mailgun.org", "sendgrid.net"]).lookups == 6


def test_exactly_ten_lookups_is_allowed() -> None:
    merged = spf.merge(MG, ["_spf.google.com", "amazonses.com"])
    assert merged.lookups == spf.MAX_LOOKUPS == 10


def test_over_ten_lookups_is_an_error_with_the_numbers() -> None:
    with pytest.raises(spf.SpfTooManyLookups) as exc:
        spf.merge(MG, ["_spf.google.com", "spf.protection.outlook.com"])
    message = str(exc.value)
    assert "SPF needs 11 DNS lookups, over the limit of 10" in message
    assert "RFC 7208 §4.6.4" in message
    assert "mailgun.org=5" in message
    assert "_spf.google.com=4" in message
    assert "spf.protection.outlook.com=2" in message
    assert isinstance(exc.value, ValueError)  # pydantic turns it into a field error


def test_many_unknown_includes_count_one_each() -> None:
    five = [f"s{i}.example.com" for i in range(5)]
    assert spf.merge(MG, five).lookups == 10
    with pytest.raises(spf.SpfTooManyLookups, match="SPF needs 11 DNS lookups"):
        spf.merge(MG, [*five, "s5.example.com"])


def _long_include(n: int, length: int) -> str:
    """A unique unknown include domain of exactly ``length`` octets."""
    head = f"s{n}."
    return head + "a" * (length - len(head) - len(".com")) + ".com"


def test_record_of_450_octets_is_allowed_and_451_is_not() -> None:
    # "v=spf1 include:mailgun.org ~all" is 31 octets; each extra include adds 9 + len(target).
    base = len(spf.merge(MG, []).value)
    assert base == 31
    fill = 450 - base  # 419 octets to spend on includes
    first = _long_include(1, 200)
    second_len = fill - 2 * 9 - 200
    exact = spf.merge(MG, [first, _long_include(2, second_len)])
    assert len(exact.value) == 450
    with pytest.raises(ValueError, match=r"SPF record is 451 octets, over 450 \(RFC 7208 §3.4\)"):
        spf.merge(MG, [first, _long_include(2, second_len + 1)])


def test_length_error_is_not_a_lookup_error() -> None:
    with pytest.raises(ValueError) as exc:
        spf.merge(MG, [_long_include(1, 250), _long_include(2, 250)])
    assert not isinstance(exc.value, spf.SpfTooManyLookups)


def _wire_size(domain: str, value: str) -> int:
    """The response size as dnspython encodes it (an independent implementation)."""
    import dns.message
    import dns.rrset

    from mailfleet.records import txt

    query = dns.message.make_query(domain, "TXT")
    response = dns.message.make_response(query)
    strings = " ".join(f'"{c}"' for c in txt.split(value))
    response.answer.append(dns.rrset.from_text(domain + ".", 3600, "IN", "TXT", strings))
    return len(response.to_wire())


@pytest.mark.parametrize("domain", ["acme.no", "a-much-longer-customer-domain.example.co.uk"])
@pytest.mark.parametrize("extra", [0, 200, 300])
def test_answer_octets_matches_the_wire(domain: str, extra: int) -> None:
    value = spf.merge(MG, ["sendgrid.net"]).value + " " + "x" * extra
    assert spf.answer_octets(domain, value) == _wire_size(domain, value)


def test_with_a_domain_the_whole_answer_must_fit() -> None:
    includes = [_long_include(1, 200), _long_include(2, 171)]  # a 420-octet record
    record = spf.merge(MG, includes)
    assert len(record.value) == 420
    domain = "acme.no"
    size = _wire_size(domain, record.value)
    assert size > 450
    with pytest.raises(ValueError) as exc:
        spf.merge(MG, includes, domain=domain)
    assert str(exc.value) == (
        f"the DNS answer for acme.no's SPF record is {size} octets (420 for the record), over 450 (RFC 7208 §3.4)"
    )
    # A shorter record whose answer fits is fine with the domain too.
    small = spf.merge(MG, ["sendgrid.net"], domain=domain)
    assert _wire_size(domain, small.value) <= 450
