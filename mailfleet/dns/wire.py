"""A minimal DNS wire codec for the query types ``check`` asks (TXT, MX, CNAME, A, AAAA).

Why not ``dns.message``: dnspython's general parser costs about 120 µs per answer and its
query builder about 50 µs; with thousands of tenants that is most of a run (measured in
docs/check.md). This codec builds one question with an EDNS0 OPT record and decodes only
the header and the answer section (name compression followed, pointer loops refused);
the authority section is only counted for NS records, to tell a referral from an empty
answer. Anything it cannot decode raises ``WireError`` and the resolver reports ``error``.
TCP (for truncated answers) goes through dnspython, see ``resolver``.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
EDNS_PAYLOAD = 1232
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_OPT = b"\x00" + struct.pack("!HHIH", 41, EDNS_PAYLOAD, 0, 0)

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200


class WireError(ValueError):
    """A message that is not a well-formed DNS answer."""


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            raise WireError(f"empty label in {name!r}")
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise WireError(f"label longer than 63 octets in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise WireError(f"name longer than 255 octets: {name[:40]!r}...")
    return bytes(out)


def build_query(qid: int, name: str, rdtype: int) -> bytes:
    """A recursion-desired query for (name, type, IN) with an EDNS0 OPT record."""
    return _HEADER.pack(qid, 0x0100, 1, 0, 0, 1) + encode_name(name) + struct.pack("!HH", rdtype, 1) + _OPT


def _read_name(data: bytes, off: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    hops = 0
    while True:
        if off >= len(data):
            raise WireError("name runs past the end of the message")
        length = data[off]
        if length & 0xC0 == 0xC0:
            if off + 1 >= len(data):
                raise WireError("truncated compression pointer")
            if end < 0:
                end = off + 2
            off = ((length & 0x3F) << 8) | data[off + 1]
            hops += 1
            if hops > 64:
                raise WireError("compression pointer loop")
            continue
        if length & 0xC0:
            raise WireError("unsupported label type")
        if length == 0:
            return ".".join(labels).lower(), (end if end >= 0 else off + 1)
        labels.append(data[off + 1 : off + 1 + length].decode("ascii", "replace"))
        off += 1 + length


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    rdtype: int
    ttl: int
    value: object  # TXT: tuple[bytes, ...]; MX: (pref, host); CNAME/NS: host; A/AAAA: address text


@dataclass(frozen=True, slots=True)
class Answer:
    qid: int
    rcode: int
    flags: int
    qname: str
    qtype: int
    records: tuple[Record, ...]
    authority_ns: int

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)

    @property
    def authoritative(self) -> bool:
        return bool(self.flags & FLAG_AA)


def _rdata(data: bytes, rdtype: int, off: int, rdlen: int) -> object:
    end = off + rdlen
    if end > len(data):
        raise WireError("rdata runs past the end of the message")
    if rdtype == 16:
        strings: list[bytes] = []
        i = off
        while i < end:
            n = data[i]
            if i + 1 + n > end:
                raise WireError("TXT string runs past its rdata")
            strings.append(data[i + 1 : i + 1 + n])
            i += 1 + n
        return tuple(strings)
    if rdtype == 15:
        if rdlen < 3:
            raise WireError("short MX rdata")
        return (struct.unpack_from("!H", data, off)[0], _read_name(data, off + 2)[0])
    if rdtype in (2, 5):
        return _read_name(data, off)[0]
    if rdtype == 1 and rdlen == 4:
        return ".".join(str(b) for b in data[off:end])
    if rdtype == 28 and rdlen == 16:
        return str(ipaddress.IPv6Address(data[off:end]))
    return data[off:end]


def parse_answer(data: bytes) -> Answer:
    """Decode the header, the question and the answer section of a reply."""
    if len(data) < 12:
        raise WireError("message shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, _ = _HEADER.unpack_from(data)
    if not flags & FLAG_QR:
        raise WireError("not a response")
    off = 12
    qname, qtype = "", 0
    for i in range(qdcount):
        name, off = _read_name(data, off)
        if off + 4 > len(data):
            raise WireError("truncated question")
        if i == 0:
            qname = name
            qtype = struct.unpack_from("!H", data, off)[0]
        off += 4
    records: list[Record] = []
    authority_ns = 0
    for index in range(ancount + nscount):
        name, off = _read_name(data, off)
        if off + 10 > len(data):
            raise WireError("truncated resource record")
        rdtype, _rdclass, ttl, rdlen = _RR.unpack_from(data, off)
        off += 10
        if index < ancount:
            records.append(Record(name, rdtype, ttl, _rdata(data, rdtype, off, rdlen)))
        elif rdtype == 2:
            authority_ns += 1
        off += rdlen
    return Answer(qid, flags & 0xF, flags, qname, qtype, tuple(records), authority_ns)
