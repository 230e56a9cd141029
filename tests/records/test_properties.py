"""Property tests (Hypothesis) of the record builders and parsers, each against an oracle that is
not the code under test: dnspython's zone-file and wire parsers for TXT strings and names,
Python's ``re`` and Mailgun's documented route matching (tests/fakes/mailgun_routes.py) for route
expressions, and plain arithmetic over the documented include costs for SPF.

Runs are bounded (``max_examples``, no deadline) to keep the suite inside its budget.
"""

from __future__ import annotations

import re

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mailfleet.check import dmarc as check_dmarc
from mailfleet.check import spf as check_spf
from mailfleet.desired.build import route_expression
from mailfleet.model import names
from mailfleet.records import dmarc, spf, txt
from tests.fakes import mailgun_routes

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- TXT chunking ---------------------------------------------------------------------------------

printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=1200)


@BOUNDED
@given(printable)
@example("x" * 255)
@example("x" * 256)
@example('"\\' * 300)
def test_txt_chunks_round_trip_through_a_zone_file_parser(value: str) -> None:
    chunks = txt.split(value)
    assert "".join(chunks) == value
    assert all(len(c.encode()) <= 255 for c in chunks)
    assert all(len(c) == 255 for c in chunks[:-1])  # only the last one is short
    assert len(chunks) == max(1, -(-len(value) // 255))
    # dnspython reads the presentation form back into the very same strings
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt.quoted(value))
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    assert [s.decode() for s in rdata.strings] == chunks
    # and to the wire and back
    wire = rdata.to_wire()
    again = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, wire, 0, len(wire))
    assert txt.join(list(again.strings)) == value


@pytest.mark.parametrize(("length", "strings"), [(255, 1), (256, 2), (510, 2), (511, 3)])
def test_txt_string_limit_edges(length: int, strings: int) -> None:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt.quoted("v" * length))
    assert [len(s) for s in rdata.strings] == [255] * (strings - 1) + [length - 255 * (strings - 1)]


# -- names: 63-octet labels, 253-octet names -------------------------------------------------------

label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,66}[a-z0-9])?", fullmatch=True)


def _oracle_valid(name: str) -> bool:
    """RFC 1035 limits as dnspython enforces them, plus the LDH rule, two labels, a TLD that is
    not all digits."""
    labels = name.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or "xn--" in name:
        return False
    if not all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", lb) for lb in labels):
        return False
    try:
        wire = dns.name.from_text(name).to_wire()
    except (dns.name.LabelTooLong, dns.name.NameTooLong):
        return False
    # a 253-octet name is 255 octets on the wire (a length octet per label and the root)
    return len(wire) <= 255


@BOUNDED
@given(st.lists(label, min_size=1, max_size=6))
@example(["a" * 63, "no"])
@example(["a" * 64, "no"])
@example(["a" * 63, "a" * 63, "a" * 63, "b" * 61])  # 253 octets
@example(["a" * 63, "a" * 63, "a" * 63, "b" * 62])  # 254 octets
def test_domain_names_follow_the_dns_limits(labels: list[str]) -> None:
    name = ".".join(labels)
    assume("xn--" not in name)
    try:
        names.domain(name)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == _oracle_valid(name), name


# -- SPF merge and count ----------------------------------------------------------------------------

known = st.sampled_from(sorted(spf.KNOWN_INCLUDE_COSTS))
unknown = st.from_regex(r"[a-z]{1,10}\.(?:example|test)\.(?:net|org)", fullmatch=True)


@BOUNDED
@given(st.lists(st.one_of(known, unknown), max_size=12), st.sampled_from(["~all", "-all", "?all"]))
def test_spf_merge_keeps_every_sender_once_and_counts_as_the_table_says(others: list[str], all_: str) -> None:
    wanted = list(dict.fromkeys(["mailgun.org", *others]))
    cost = sum(spf.KNOWN_INCLUDE_COSTS.get(i, 1) for i in wanted)  # the documented table, summed
    length = len("v=spf1 " + "".join(f"include:{i} " for i in wanted) + all_)
    if cost > 10:
        with pytest.raises(spf.SpfTooManyLookups, match=f"SPF needs {cost} DNS lookups"):
            spf.merge("mailgun.org", others, all_)
        return
    if length > 450:
        with pytest.raises(ValueError, match="over 450"):
            spf.merge("mailgun.org", others, all_)
        return
    record = spf.merge("mailgun.org", others, all_)
    assert record.value == "v=spf1 " + " ".join(f"include:{i}" for i in wanted) + " " + all_
    assert record.lookups == cost == spf.record_lookups(record.value)
    # the live checker's parser reads the same includes back, in order
    parsed = check_spf.parse_terms("example.no", record.value)
    assert [t.target for t in parsed if t.kind == "include"] == wanted
    assert [t.text for t in parsed if t.kind == "all"] == [all_]


def test_spf_lookup_limit_edges() -> None:
    # mailgun.org 5 + _spf.google.com 4 + sendgrid.net 1 = exactly 10: allowed
    assert spf.merge("mailgun.org", ["_spf.google.com", "sendgrid.net"]).lookups == 10
    # one more (amazonses.com 1) is 11: refused
    with pytest.raises(spf.SpfTooManyLookups, match="SPF needs 11 DNS lookups"):
        spf.merge("mailgun.org", ["_spf.google.com", "sendgrid.net", "amazonses.com"])


# -- DMARC tags ---------------------------------------------------------------------------------------

mailto = st.from_regex(r"mailto:[a-z]{1,8}@[a-z]{1,8}\.(?:no|eu|com)", fullmatch=True)


@BOUNDED
@given(
    st.sampled_from(["none", "quarantine", "reject"]),
    st.lists(mailto, max_size=3),
    st.lists(mailto, max_size=2),
    st.sampled_from(["", " ", "  "]),
)
def test_dmarc_tags_round_trip_and_both_parsers_agree(
    policy: str, rua: list[str], ruf: list[str], pad: str
) -> None:
    value = dmarc.value(policy, rua, ruf)
    expected = [("v", "DMARC1"), ("p", policy)]
    if rua:
        expected.append(("rua", ",".join(rua)))
    if ruf:
        expected.append(("ruf", ",".join(ruf)))
    assert dmarc.tags(value) == expected
    # whitespace around tags and separators and a trailing ';' change nothing (RFC 7489 §6.4)
    spaced = ";".join(f"{pad}{k}{pad}={pad}{v}{pad}" for k, v in expected) + ";"
    assert dmarc.tags(spaced) == expected
    assert check_dmarc.parse(spaced) == expected
    assert check_dmarc.is_dmarc(value)
    assert dmarc.policy_of(spaced) == policy


@BOUNDED
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z]{1,6}", fullmatch=True),
            st.from_regex(r"[a-z0-9:@.,]{0,12}", fullmatch=True),
        ),
        max_size=6,
    )
)
def test_dmarc_parsers_lowercase_tag_names_and_keep_values(pairs: list[tuple[str, str]]) -> None:
    value = "; ".join(f"{k}={v}" for k, v in pairs)
    assert dmarc.tags(value) == [(k.lower(), v) for k, v in pairs]
    assert check_dmarc.parse(value) == [(k.lower(), v) for k, v in pairs]


# -- route expressions --------------------------------------------------------------------------------

local = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]|\.(?!\.)){0,20}", fullmatch=True).filter(
    lambda s: not s.endswith(".")
)
platform = st.from_regex(r"[a-z0-9]{1,10}(?:-[a-z0-9]{1,5})?\.mail\.example\.(?:eu|com)", fullmatch=True)


@BOUNDED
@given(local, platform, st.text(alphabet="ab.-_@x+", max_size=8))
def test_a_route_matches_its_address_and_nothing_else(box: str, domain: str, noise: str) -> None:
    address = f"{box}@{domain}"
    names.local_part(box)
    expression = route_expression(address)
    conditions = mailgun_routes.parse(expression)  # Mailgun accepts it
    route = {"expression": expression, "priority": 10, "actions": ["stop()"]}
    assert mailgun_routes.deliver([route], address) == [route]
    for other in (address + noise, noise + address, address.replace(".", noise or "x", 1), address.upper()):
        if other == address:
            continue
        # Mailgun's matching (re.match of the pattern) and a plain full match agree: no near miss
        assert mailgun_routes.deliver([route], other) == [], other
        assert re.fullmatch(re.escape(address), other) is None
    # the pattern inside the quotes is exactly the escaped address, anchored at both ends
    (cond,) = conditions
    assert cond.pattern is not None and cond.pattern.pattern == f"^{re.escape(address)}$"
