"""mailfleet.records.dkim: selector record name and the DKIM1 TXT value (RFC 6376)."""

from __future__ import annotations

from mailfleet.records import dkim, txt


def test_record_name() -> None:
    assert dkim.record_name("mailfleet", "acme.no") == "mailfleet._domainkey.acme.no"
    assert dkim.record_name("s1", "acme.mail.example.eu") == "s1._domainkey.acme.mail.example.eu"


def test_value() -> None:
    assert dkim.value("MIGfMA0") == "v=DKIM1; k=rsa; p=MIGfMA0"


def test_key_sizes() -> None:
    assert dkim.MIN_BITS == 1024
    assert dkim.RECOMMENDED_BITS == 2048


def test_parse_tags_round_trip() -> None:
    key = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9
    tags = dkim.parse_tags(dkim.value(key))
    assert tags == {"v": "DKIM1", "k": "rsa", "p": key}


def test_parse_tags_removes_whitespace_inside_values_and_skips_junk() -> None:
    # As published in zone files: the key folded over several strings and lines.
    assert dkim.parse_tags("v=DKIM1;  k = rsa ; p=MIG fMA0\n GCSq; ;junk") == {
        "v": "DKIM1",
        "k": "rsa",
        "p": "MIGfMA0GCSq",
    }


def test_long_value_survives_chunking() -> None:
    value = dkim.value("A" * 392)  # a 2048-bit key's base64 length
    assert len(value) > txt.MAX_STRING_OCTETS
    assert dkim.parse_tags(txt.join(txt.split(value)))["p"] == "A" * 392
