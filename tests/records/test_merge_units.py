"""Merging mailfleet's part into a customer's existing SPF and DMARC records (``tenant adopt``),
and the limits checked on a customer's whole SPF record, with literal expectations (RFC 7208,
RFC 7489 §6.4)."""

from __future__ import annotations

import re

import pytest

from mailfleet.records import dmarc, spf

OURS = "mailto:dmarc-reports@mail.example.eu"


@pytest.mark.parametrize(
    ("existing", "ours", "merged"),
    [
        # ours go after the customer's mechanisms, before the final all
        (
            "v=spf1 include:_spf.google.com ~all",
            ["mailgun.org"],
            "v=spf1 include:_spf.google.com include:mailgun.org ~all",
        ),
        # ... before redirect= and exp= (modifiers stay last)
        (
            "v=spf1 mx redirect=_spf.example.no",
            ["mailgun.org"],
            "v=spf1 mx include:mailgun.org redirect=_spf.example.no",
        ),
        (
            "v=spf1 a exp=explain.example.no -all",
            ["mailgun.org"],
            "v=spf1 a include:mailgun.org exp=explain.example.no -all",
        ),
        # an include already there, with any qualifier or case, is not added twice
        ("v=spf1 ?include:MAILGUN.org -all", ["mailgun.org"], "v=spf1 ?include:MAILGUN.org -all"),
        # no all term: ours go last; duplicates among ours once
        (
            "v=spf1 ip4:192.0.2.1",
            ["mailgun.org", "mailgun.org", "x.test"],
            "v=spf1 ip4:192.0.2.1 include:mailgun.org include:x.test",
        ),
        # qualifiers on all are kept
        ("v=spf1 +all", ["mailgun.org"], "v=spf1 include:mailgun.org +all"),
    ],
)
def test_spf_merge_into(existing: str, ours: list[str], merged: str) -> None:
    assert spf.merge_into(existing, ours) == merged


def test_spf_check_record_limits() -> None:
    # 10 lookups: mailgun.org 5, _spf.google.com 4, a 1
    spf.check_record("v=spf1 include:mailgun.org include:_spf.google.com a ~all")
    with pytest.raises(spf.SpfTooManyLookups) as exc:
        spf.check_record("v=spf1 include:mailgun.org include:_spf.google.com a mx ~all")
    assert str(exc.value) == (
        "SPF needs 11 DNS lookups, over the limit of 10 (RFC 7208 §4.6.4), counting the customer's own terms"
    )
    assert spf.record_lookups("v=spf1 ptr exists:x.test ip4:192.0.2.1 -mx redirect=sendgrid.net") == 4
    at_limit = "v=spf1 include:" + "a" * 425 + ".test -all"
    assert len(at_limit) == 450
    spf.check_record(at_limit)
    with pytest.raises(ValueError, match=r"^SPF record is 451 octets, over 450 \(RFC 7208 §3.4\)$"):
        spf.check_record(at_limit.replace("a", "aa", 1))
    # with the domain, the whole DNS answer must fit
    value = "v=spf1 " + "ip4:192.0.2.1 " * 28 + "-all"
    spf.check_record(value)
    with pytest.raises(
        ValueError, match=re.escape("the DNS answer for a-much-longer-customer-domain.example.co.uk's SPF")
    ):
        spf.check_record(value, domain="a-much-longer-customer-domain.example.co.uk")


@pytest.mark.parametrize(
    ("existing", "policy", "rua", "ruf", "merged"),
    [
        # the customer's policy kept when we name none; our rua after theirs
        (
            "v=DMARC1; p=reject; rua=mailto:a@c.no",
            None,
            [OURS],
            [],
            f"v=DMARC1; p=reject; rua=mailto:a@c.no,{OURS}",
        ),
        # our policy wins when named; other tags kept in place; p moved right after v
        (
            "v=DMARC1; sp=none; p=none; adkim=s; ruf=mailto:f@c.no; fo=1",
            "quarantine",
            [OURS],
            ["mailto:g@c.no"],
            f"v=DMARC1; p=quarantine; sp=none; adkim=s; ruf=mailto:f@c.no,mailto:g@c.no; fo=1; rua={OURS}",
        ),
        # no policy at all: none; duplicates once
        ("v=DMARC1", None, [OURS, OURS], [], f"v=DMARC1; p=none; rua={OURS}"),
        # an address they already list is not added twice
        (f"v=DMARC1; p=none; rua={OURS}", None, [OURS], [], f"v=DMARC1; p=none; rua={OURS}"),
        # nothing of ours to add
        ("v=DMARC1; p=none", None, [], [], "v=DMARC1; p=none"),
    ],
)
def test_dmarc_merge_into(
    existing: str, policy: str | None, rua: list[str], ruf: list[str], merged: str
) -> None:
    assert dmarc.merge_into(existing, policy, rua, ruf) == merged
    assert dmarc.tags(merged)[0] == ("v", "DMARC1") and dmarc.tags(merged)[1][0] == "p"


def test_dmarc_merge_adds_ruf_and_reads_spaced_lists() -> None:
    assert dmarc.merge_into("v=DMARC1; p=none", None, [], ["mailto:f@c.no", "mailto:f@c.no"]) == (
        "v=DMARC1; p=none; ruf=mailto:f@c.no"
    )
    assert dmarc.merge_into("v=DMARC1; p=none; rua=mailto:a@c.no, mailto:b@c.no", None, [OURS]) == (
        f"v=DMARC1; p=none; rua=mailto:a@c.no,mailto:b@c.no,{OURS}"
    )
    # a value may hold '=': the tag is what comes before the first one
    assert dmarc.tags("v=DMARC1; p=none; rua=mailto:a=b@c.no") == [
        ("v", "DMARC1"),
        ("p", "none"),
        ("rua", "mailto:a=b@c.no"),
    ]


def test_spf_redirect_costs_its_target_and_the_whole_answer_limit_is_inclusive() -> None:
    assert spf.record_lookups("v=spf1 redirect=_spf.google.com") == 4
    assert spf.record_lookups("v=spf1 ~mx -a:x.test ?exists:y.test +ptr") == 4
    at_limit = "v=spf1 include:" + "a" * 386 + ".test -all"
    assert spf.answer_octets("acme.no", at_limit) == 450
    spf.check_record(at_limit, domain="acme.no")
    with pytest.raises(ValueError, match=re.escape("the DNS answer for acme.no's SPF record is 451 octets")):
        spf.check_record(at_limit.replace("a", "aa", 1), domain="acme.no")


def test_txt_join_replaces_what_is_not_ascii() -> None:
    from mailfleet.records import txt

    assert (
        txt.join([b"v=spf1 ", "include:mailgun.org", b" caf\xc3\xa9"])
        == "v=spf1 include:mailgun.org caf\ufffd\ufffd"
    )


def test_dkim_tags_after_junk_are_kept() -> None:
    from mailfleet.records import dkim

    assert dkim.parse_tags("v=DKIM1; junk; k=rsa; p=AAAA") == {"v": "DKIM1", "k": "rsa", "p": "AAAA"}
