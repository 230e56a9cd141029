"""Validators for the names tenant input may carry into DNS and Mailgun.

Each function returns the value unchanged or raises ``ValueError`` with a message meant for
``file: field: message`` output. Route expressions are built from mailbox names and domains,
and Mailgun documents no escaping for the strings inside a route filter, so these are
deliberately strict: lowercase ASCII, no quotes, commas, parentheses, spaces or regex
metacharacters.

Internationalised domains are written in their ASCII form; every ``xn--`` label must be a
valid IDNA 2008 A-label (RFC 5891 §5.3: it decodes, the decoded U-label is valid, and encoding
it again gives the same label), checked with the ``idna`` package. The standard library's
``idna`` codec implements the obsolete IDNA 2003, which rejects valid labels such as
``xn--fa-hia`` (``faß``) and accepts ones registries refuse (emoji).
"""

from __future__ import annotations

import re
from functools import lru_cache

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Service labels such as ``_spf`` or ``_dmarc`` are allowed in SPF include targets.
_SERVICE_LABEL = re.compile(r"^_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9_-]|\.(?!\.)){0,62}(?<!\.)$")
_CLOUDFLARE_ZONE = re.compile(r"^[0-9a-f]{32}$")
_ROUTE53_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")
_ADDRESS = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9.-]+$")
# RFC 7489 §6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]
_REPORT_SIZE = re.compile(r"^[0-9]{1,19}[kmgt]?$")

MAX_DOMAIN_OCTETS = 253  # RFC 1035 §2.3.4: 255 on the wire, less the root and first length octet
MAX_LABEL_OCTETS = 63
MAX_SLUG_OCTETS = 40


def slug(value: str) -> str:
    if value != value.lower():
        raise ValueError(f"slug {value!r} must be lowercase")
    if not _SLUG.fullmatch(value):
        raise ValueError(
            f"slug {value!r} must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'"
        )
    return value


# Pulumi's stack-name characters (a stack file is Pulumi.<name>.yaml).
_STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def stack_name(value: str) -> str:
    if not _STACK.fullmatch(value):
        raise ValueError(
            f"stack name {value!r} must be 1-100 characters of A-Z, a-z, 0-9, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    return value


# The label rule above over a whole name: one regex call for the common valid name.
_LABEL_RE = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL_RE}\.)+{_LABEL_RE}")


def domain(value: str, *, service_labels: bool = False) -> str:
    """A lowercase ASCII hostname of at least two labels, no trailing dot."""
    # Fast path for plain host names, accepting exactly what the checks below accept (a label
    # of the regex is at most 63 octets); anything else goes through them for its message.
    if (
        not service_labels
        and len(value) <= MAX_DOMAIN_OCTETS
        and _DOMAIN.fullmatch(value)
        and not value.rpartition(".")[2].isdigit()
        and _ACE_PREFIX not in value
    ):
        return value
    return _domain_checked(value, service_labels)


def _domain_checked(value: str, service_labels: bool) -> str:
    """``domain`` label by label, raising with the first problem found."""
    if not value:
        raise ValueError("domain must not be empty")
    if not value.isascii():
        raise ValueError(
            f"domain {value!r} is an internationalised (IDN) form; write its ASCII A-label form (xn--...)"
        )
    if value != value.lower():
        raise ValueError(f"domain {value!r} must be lowercase")
    if value.endswith("."):
        raise ValueError(f"domain {value!r} must not end with a dot")
    if len(value) > MAX_DOMAIN_OCTETS:
        raise ValueError(f"domain is {len(value)} octets long, over the {MAX_DOMAIN_OCTETS} limit")
    labels = value.split(".")
    if len(labels) < 2:
        raise ValueError(f"domain {value!r} needs at least two labels")
    pattern = _SERVICE_LABEL if service_labels else _LABEL
    for label in labels:
        if len(label) > MAX_LABEL_OCTETS:
            raise ValueError(
                f"domain label {label[:20]!r}... is {len(label)} octets, over the {MAX_LABEL_OCTETS} limit"
            )
        if not pattern.fullmatch(label):
            raise ValueError(
                f"domain {value!r} has an invalid label {label!r} "
                "(a-z, 0-9 and '-', not starting or ending with '-')"
            )
        if label.startswith(_ACE_PREFIX):
            _a_label(value, label)
    if labels[-1].isdigit():
        raise ValueError(f"domain {value!r} has an all-numeric top-level label")
    return value


_ACE_PREFIX = "xn--"


def _a_label(value: str, label: str) -> None:
    """Raise unless ``label`` (``xn--...``) is a valid IDNA 2008 A-label."""
    import idna  # only domains with an xn-- label pay for the import

    try:
        idna.ulabel(label)
    except (idna.IDNAError, UnicodeError) as exc:
        reason = "".join(c if c.isprintable() else "?" for c in str(exc)) or "invalid"
        raise ValueError(
            f"domain {value!r} has a label {label!r} that is not a valid IDNA A-label "
            f"(punycode; RFC 5891): {reason}"
        ) from None


def local_part(value: str) -> str:
    """A mailbox name: lowercase letters, digits, '-', '_' and single inner dots."""
    if value != value.lower():
        raise ValueError(f"mailbox {value!r} must be lowercase")
    if not _LOCAL_PART.fullmatch(value):
        raise ValueError(
            f"mailbox {value!r} may only contain a-z, 0-9, '-', '_' and single inner dots "
            "(no quotes, commas, parentheses, spaces or regex metacharacters)"
        )
    return value


def dkim_selector(value: str) -> str:
    """A selector is one DNS label (RFC 6376 §3.1; Mailgun wants an RFC 2822 atom)."""
    if "." in value:
        raise ValueError(f"DKIM selector {value!r} must be a single label, without dots")
    if not _LABEL.fullmatch(value):
        raise ValueError(f"DKIM selector {value!r} must be lowercase a-z, 0-9 and '-', 1-63 characters")
    return value


def cloudflare_zone_id(value: str) -> str:
    if not _CLOUDFLARE_ZONE.fullmatch(value):
        raise ValueError(f"Cloudflare zone id {value!r} must be 32 lowercase hex characters")
    return value


def route53_zone_id(value: str) -> str:
    if not _ROUTE53_ZONE.fullmatch(value):
        raise ValueError(f"Route53 hosted zone id {value!r} must look like Z0123456789ABC")
    return value


def mailto_uri(value: str) -> str:
    """A DMARC report URI (RFC 7489 §6.2): ``mailto:address`` with an optional ``!size``."""
    if not value.startswith("mailto:"):
        raise ValueError(f"report address {value!r} must be a mailto: URI")
    address, bang, size = value[len("mailto:") :].partition("!")
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"report address {value!r} is not a valid mailto: URI")
    if bang and not _REPORT_SIZE.fullmatch(size):
        raise ValueError(
            f"report address {value!r} has an invalid size limit {size!r} "
            "(digits with an optional k, m, g or t: RFC 7489 §6.4)"
        )
    domain(address.rsplit("@", 1)[1])
    return value


def mailto_domain(uri: str) -> str:
    """The domain a ``mailto:`` report URI delivers to."""
    return uri[len("mailto:") :].split("!", 1)[0].rsplit("@", 1)[1]


@lru_cache(maxsize=4096)
def organisational_domain(name: str) -> str:
    """The organisational domain of ``name`` (RFC 7489 §3.2), from the Public Suffix List.

    Uses the ``publicsuffixlist`` package, which ships the list offline; imported lazily
    because only DMARC report checks need it. Cached: stacks ask about the same report
    destinations for every tenant.
    """
    from publicsuffixlist import PublicSuffixList

    global _PSL
    if _PSL is None:
        _PSL = PublicSuffixList()
    return _PSL.privatesuffix(name) or name


_PSL = None
