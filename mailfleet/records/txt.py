"""TXT values: one logical string in the model, split only when rendered for a provider.

DNS TXT character-strings hold at most 255 octets (RFC 1035 §3.3.14); a longer value is a
sequence of strings that receivers concatenate with nothing added (RFC 7208 §3.3,
RFC 6376 §3.6.2.2). Compare values joined, never split.
"""

from __future__ import annotations

MAX_STRING_OCTETS = 255


def split(value: str, size: int = MAX_STRING_OCTETS) -> list[str]:
    """Split ``value`` into chunks of at most ``size`` octets (values are ASCII)."""
    if not value:
        return [""]
    return [value[i : i + size] for i in range(0, len(value), size)]


def _escape(chunk: str) -> str:
    return chunk.replace("\\", "\\\\").replace('"', '\\"')


def quoted(value: str) -> str:
    """``"chunk1" "chunk2"``: the presentation form of a (possibly long) TXT value."""
    return " ".join(f'"{_escape(c)}"' for c in split(value))


def render(value: str, provider: str) -> str:
    """The string a provider's resource takes for one TXT value.

    - ``route53`` (pulumi-aws ``route53.Record.records`` item): the provider adds the outer
      quotes itself and strips them on read, so chunks are joined with ``" "`` inside; a value
      of one chunk is passed as is. On the wire this is ``"chunk1" "chunk2"``.
    - ``cloudflare`` (``DnsRecord.content``): Cloudflare re-splits unquoted values on read and
      drifts forever, so the pre-split quoted form is sent, even for one chunk.
    - ``bind`` / ``manual``: a zone-file value, quoted and split.
    """
    if provider == "route53":
        return '" "'.join(_escape(c) for c in split(value))
    return quoted(value)


def join(strings: list[str] | tuple[str, ...] | list[bytes]) -> str:
    """Join the character-strings of one TXT RR into the logical value."""
    return "".join(s.decode("ascii", "replace") if isinstance(s, bytes) else s for s in strings)
