"""A TXT record's ``content`` as Cloudflare stores it, and the value it serves.

Cloudflare's API describes TXT ``content`` as quoted "character strings" (RFC 1035), each of
at most 255 bytes, and splits longer strings itself; the dashboard adds the quotes when they
are missing, the API (before that requirement) stored what it was sent. So ``content`` comes
back in one of two shapes, and a caller comparing it with a desired value must read both:

- quoted: ``"v=spf1 include:mailgun.org ~all"``, or split ``"<255 bytes>" "<the rest>"``;
- unquoted (legacy, or written through the API without quotes): the value itself, one string.

``txt_strings`` returns the character-strings; ``txt_value`` their concatenation (what SPF,
DMARC and DKIM readers take: RFC 7208 section 3.3, RFC 6376 section 3.6.2.2). Inside quotes,
``\\"`` and ``\\\\`` are a quote and a backslash, and ``\\DDD`` is the byte with that decimal
value (RFC 1035 section 5.1).
"""

from __future__ import annotations


def txt_strings(content: str) -> list[str]:
    """The character-strings of a TXT ``content``. Raises ValueError when a quote is left open."""
    text = content.strip()
    if not text.startswith('"'):
        return [content]
    strings: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] != '"':  # an unquoted word between quoted strings (zone-file syntax)
            start = i
            while i < n and not text[i].isspace() and text[i] != '"':
                i += 1
            strings.append(text[start:i])
            continue
        i += 1
        out = bytearray()
        while True:
            if i >= n:
                raise ValueError("TXT content has a quoted string that is never closed")
            char = text[i]
            if char == '"':
                i += 1
                break
            if char == "\\" and i + 1 < n:
                digits = text[i + 1 : i + 4]
                if len(digits) == 3 and digits.isdigit() and int(digits) < 256:
                    out.append(int(digits))
                    i += 4
                    continue
                out += text[i + 1].encode()
                i += 2
                continue
            out += char.encode()
            i += 1
        strings.append(out.decode("utf-8", "replace"))
    return strings


def txt_value(content: str) -> str:
    """The value a TXT ``content`` serves: its character-strings joined without separator."""
    return "".join(txt_strings(content))
