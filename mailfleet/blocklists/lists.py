"""Blocklists as data: which zone to ask, for what, and what each answer means.

A list file (``default_lists.yaml`` beside this module, or ``--lists FILE``) holds ``lists:``,
each with ``name``, ``zone``, ``kind`` (``ip`` or ``domain``), ``doc``, ``codes`` (answer ->
``{verdict: listed|unknown, meaning}``), and optionally ``code_ranges`` (CIDR -> the same) and
``bitmask`` (bit -> meaning, for lists that add flags in the last octet of ``127.0.0.x``).
``interpret`` reads answers the way the list documents them: a documented listing code is
``listed``; an error code (Spamhaus's ``127.255.255.x``: public resolver, too many queries) is
``unknown`` ("could not tell"); so is any answer the list does not document.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailfleet.loader import parse_yaml

DEFAULT_LISTS = Path(__file__).with_name("default_lists.yaml")
LISTED, CLEAN, UNKNOWN = "listed", "clean", "unknown"
KINDS = ("ip", "domain")


class ListFileError(ValueError):
    """A list file that cannot be used; the message names the list and field."""


@dataclass(frozen=True)
class Code:
    verdict: str  # listed | unknown
    meaning: str


@dataclass(frozen=True)
class BlockList:
    name: str
    zone: str
    kind: str
    doc: str = ""
    codes: dict[str, Code] = field(default_factory=dict)
    ranges: tuple[tuple[ipaddress.IPv4Network, Code], ...] = ()
    bitmask: dict[int, str] = field(default_factory=dict)

    def query_name(self, target: str) -> str:
        """The name to ask: the reversed IPv4 octets or IPv6 nibbles, or the domain, under the zone."""
        if self.kind == "domain":
            return f"{target.rstrip('.').lower()}.{self.zone}"
        address = ipaddress.ip_address(target)
        if address.version == 4:
            return ".".join(reversed(str(address).split("."))) + "." + self.zone
        return ".".join(reversed(address.exploded.replace(":", ""))) + "." + self.zone

    def interpret(self, answer: str) -> Code:
        """What one A answer means, as the list documents it."""
        known = self.codes.get(answer)
        if known is not None:
            return known
        try:
            address = ipaddress.IPv4Address(answer)
        except ValueError:
            return Code(UNKNOWN, f"answer {answer!r} is not an IPv4 address")
        for network, code in self.ranges:
            if address in network:
                return code
        if self.bitmask and address in ipaddress.IPv4Network("127.0.0.0/24"):
            last = int(address) & 0xFF
            flags = [meaning for bit, meaning in sorted(self.bitmask.items()) if last & bit]
            if flags and not last & ~sum(self.bitmask):
                return Code(LISTED, "; ".join(flags))
        return Code(UNKNOWN, f"answer {answer} is not a return code {self.name} documents")


def _code(where: str, value: Any) -> Code:
    if not isinstance(value, dict) or value.get("verdict") not in (LISTED, UNKNOWN):
        raise ListFileError(f"{where}: needs verdict: listed or unknown, and a meaning")
    return Code(str(value["verdict"]), str(value.get("meaning", "")))


def parse_lists(data: Any, source: str) -> list[BlockList]:
    if not isinstance(data, dict) or not isinstance(data.get("lists"), list) or not data["lists"]:
        raise ListFileError(f"{source}: lists: needs a non-empty list of blocklists")
    out = []
    for i, item in enumerate(data["lists"]):
        where = f"{source}: lists.{i}"
        if not isinstance(item, dict):
            raise ListFileError(f"{where}: must be a mapping")
        unknown = sorted(set(item) - {"name", "zone", "kind", "doc", "codes", "code_ranges", "bitmask"})
        if unknown:
            raise ListFileError(f"{where}.{unknown[0]}: unknown field")
        name, zone, kind = item.get("name"), item.get("zone"), item.get("kind")
        if not isinstance(name, str) or not name:
            raise ListFileError(f"{where}.name: required")
        if not isinstance(zone, str) or "." not in zone:
            raise ListFileError(f"{where}.zone: a DNS zone like zen.spamhaus.org")
        if kind not in KINDS:
            raise ListFileError(f"{where}.kind: ip or domain")
        codes = {str(k): _code(f"{where}.codes.{k}", v) for k, v in (item.get("codes") or {}).items()}
        for answer in codes:
            try:
                ipaddress.IPv4Address(answer)
            except ValueError:
                raise ListFileError(f"{where}.codes.{answer}: not an IPv4 address") from None
        ranges = []
        for cidr, value in (item.get("code_ranges") or {}).items():
            try:
                network = ipaddress.IPv4Network(str(cidr))
            except ValueError:
                raise ListFileError(f"{where}.code_ranges.{cidr}: not an IPv4 network") from None
            ranges.append((network, _code(f"{where}.code_ranges.{cidr}", value)))
        bitmask = {}
        for bit, meaning in (item.get("bitmask") or {}).items():
            if not isinstance(bit, int) or bit <= 0 or bit > 255 or bit & (bit - 1):
                raise ListFileError(
                    f"{where}.bitmask.{bit}: a single bit of the last octet (2, 4, 8, ... 128)"
                )
            bitmask[bit] = str(meaning)
        if not codes and not bitmask:
            raise ListFileError(f"{where}: needs codes or bitmask (what an answer means)")
        out.append(
            BlockList(
                name, zone.rstrip(".").lower(), kind, str(item.get("doc", "")), codes, tuple(ranges), bitmask
            )
        )
    return out


def load_lists(path: Path | None = None) -> list[BlockList]:
    source = path or DEFAULT_LISTS
    try:
        data = parse_yaml(source.read_bytes())
    except OSError as exc:
        raise ListFileError(f"{source}: cannot read: {exc.strerror}") from None
    except Exception as exc:  # YAML errors
        raise ListFileError(f"{source}: not YAML: {str(exc).splitlines()[0]}") from None
    return parse_lists(data, str(source))
