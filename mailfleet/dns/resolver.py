"""The DNS resolver ``check`` uses: asyncio, bounded, cached for the whole run, honest.

Contract:
- ``lookup(name, type)`` returns a ``Lookup`` whose ``status`` is ``ok``, ``nxdomain`` or
  ``nodata`` (the name or the type does not exist: *missing*), or ``timeout`` / ``error``
  (no verdict: no answer after the retries, SERVFAIL, REFUSED, a referral from a server that
  does not recurse, a malformed answer). A timeout is never reported as missing.
- At most ``concurrency`` queries are in flight; each attempt waits ``timeout`` seconds and
  is retried ``retries`` times (SERVFAIL too); the answer to an earlier attempt still counts.
- One cache for the run, keyed by (name, type), which also coalesces concurrent identical
  queries: Mailgun's SPF include tree is fetched once however many tenants include it.
- UDP goes through one shared socket with the lean codec in ``wire``; a truncated answer is
  asked again over TCP with dnspython (``dns.asyncquery.tcp``).
- CNAMEs are followed (up to 8) for non-CNAME queries, inside the answer or by asking again.
- A query that cannot even be sent (the UDP socket cannot be opened or connected, ``sendto``
  fails with ENETUNREACH/EHOSTUNREACH/EADDRNOTAVAIL or any other OSError, the same for TCP) is
  an ``error`` at once, never retried and never a timeout; its detail names the nameserver and
  the reason, e.g. ``no route to nameserver 127.0.0.1:53: Network is unreachable``.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from mailfleet.dns import wire

log = logging.getLogger(__name__)

MAX_CNAME_HOPS = 8
DEFAULT_PORT = 53

# errno values that mean the packet cannot leave this host for the nameserver.
NO_ROUTE_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN, errno.EHOSTDOWN}
)
# errno values ``error_received`` sees that still leave a later answer possible (an ICMP port
# unreachable for an earlier datagram, a full buffer): the attempts time out as usual.
TRANSIENT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENOBUFS, errno.EAGAIN, errno.EINTR})

OK = "ok"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
TIMEOUT = "timeout"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Nameserver:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Nameserver:
        """``IP``, ``IP:PORT``, ``IPv6`` or ``[IPv6]:PORT``; ValueError with a one-line reason."""
        value = text.strip()
        if not value:
            raise ValueError(f"{text!r} is empty: give the nameserver as IP, IP:PORT or [IPv6]:PORT")
        host, port = value, DEFAULT_PORT
        if value.startswith("["):
            close = value.find("]")
            if close < 0:
                raise ValueError(f"{text!r} is not IP[:PORT] (missing ']')")
            host, rest = value[1:close], value[close + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{text!r} is not IP[:PORT] (only ':PORT' may follow ']')")
                port = _port(rest[1:], text)
        elif value.count(":") == 1:
            host, _, raw = value.partition(":")
            port = _port(raw, text)
        if not host:
            raise ValueError(f"{text!r} is not IP[:PORT] (the IP address is missing)")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"{text!r} is not IP[:PORT] ({host!r} is not an IP address; host names are not accepted)"
            ) from None
        return cls(host, port)

    @classmethod
    def system(cls) -> Nameserver:
        """The first nameserver of the system configuration (/etc/resolv.conf)."""
        # dnspython costs about 90 ms to import; a run with --nameserver never needs it.
        import dns.resolver

        try:
            servers = dns.resolver.Resolver().nameservers
        except Exception:  # no usable resolv.conf
            servers = []
        for server in servers:
            try:
                ipaddress.ip_address(str(server))
                return cls(str(server))
            except ValueError:
                continue
        return cls("127.0.0.1")


def _port(raw: str, text: str) -> int:
    if not raw:
        raise ValueError(f"{text!r} is not IP[:PORT] (the port after ':' is missing)")
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{text!r} is not IP[:PORT] (port {raw!r} is not a number)")
    if not 1 <= int(raw) <= 65535:
        raise ValueError(f"{text!r} is not IP[:PORT] (port {int(raw)} is out of range 1-65535)")
    return int(raw)


def unreachable_reason(nameserver: Nameserver, exc: OSError) -> str:
    """One line: why nothing can be sent to ``nameserver`` (``exc`` from connect/sendto)."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in NO_ROUTE_ERRNOS:
        return f"no route to nameserver {nameserver}: {what}"
    return f"cannot send to nameserver {nameserver}: {what}"


class SendFailed(Exception):
    """A query could not be sent; ``reason`` is the one-line detail of its ``error`` lookup."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Lookup:
    """The outcome of one (name, type) question."""

    name: str
    rdtype: str
    status: str
    values: tuple[Any, ...] = ()  # TXT: joined str; MX: (pref, host); CNAME: host; A: address
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def missing(self) -> bool:
        return self.status in (NXDOMAIN, NODATA)

    @property
    def failed(self) -> bool:
        """No verdict possible: timeout or error."""
        return self.status in (TIMEOUT, ERROR)

    def describe(self) -> str:
        if self.status == NXDOMAIN:
            return f"{self.name} does not exist (NXDOMAIN)"
        if self.status == NODATA:
            return f"{self.name} has no {self.rdtype} record"
        if self.status == TIMEOUT:
            return f"no answer for {self.name} {self.rdtype} ({self.detail})"
        if self.status == ERROR:
            return f"{self.name} {self.rdtype}: {self.detail}"
        return f"{self.name} {self.rdtype}: {len(self.values)} record(s)"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, nameserver: Nameserver) -> None:
        self.nameserver = nameserver
        self.pending: dict[int, tuple[asyncio.Future[wire.Answer], str, int]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 2:
            return
        qid = int.from_bytes(data[:2], "big")
        entry = self.pending.get(qid)
        if entry is None:
            return
        future, qname, qtype = entry
        if future.done():
            return
        try:
            answer = wire.parse_answer(data)
        except wire.WireError as exc:
            future.set_exception(exc)
            return
        if answer.qname != qname or answer.qtype != qtype:
            return  # not the answer to our question: ignore it
        future.set_result(answer)

    def error_received(self, exc: Exception) -> None:
        """A send failed (asyncio reports ``sendto`` errors here, not to the caller).

        No route, host unreachable, no such local address, a firewall's EPERM: nothing can
        reach the nameserver, so every pending query fails now with that reason. An ICMP port
        unreachable (ECONNREFUSED) or a full buffer: let the pending attempts time out.
        """
        log.debug("udp error=%s", exc)
        if not isinstance(exc, OSError) or exc.errno in TRANSIENT_ERRNOS:
            return
        reason = unreachable_reason(self.nameserver, exc)
        for future, _qname, _qtype in list(self.pending.values()):
            if not future.done():
                future.set_exception(SendFailed(reason))


@dataclass
class ResolverStats:
    queries: int = 0
    attempts: int = 0
    retries: int = 0
    tcp: int = 0
    cache_hits: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Resolver:
    """One nameserver, one UDP socket, one cache. Use ``async with Resolver(...)``."""

    def __init__(
        self,
        nameserver: Nameserver | None = None,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        concurrency: int = 100,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.nameserver = nameserver or Nameserver.system()
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.stats = ResolverStats()
        self._cache: dict[tuple[str, str], asyncio.Future[Lookup]] = {}
        self._tasks: set[asyncio.Task[Lookup]] = set()
        self._sem: asyncio.Semaphore | None = None
        self._protocol: _Protocol | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self.start_error: str = ""  # why the UDP socket could not be opened ("" when it was)

    async def __aenter__(self) -> Resolver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def start(self) -> None:
        """Open the shared UDP socket. Never raises for an unreachable nameserver: then every
        lookup is an ``error`` with ``start_error`` as its reason."""
        loop = asyncio.get_running_loop()
        self._sem = asyncio.Semaphore(self.concurrency)
        nameserver = self.nameserver
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Protocol(nameserver), remote_addr=(nameserver.host, nameserver.port)
            )
        except OSError as exc:
            self.start_error = unreachable_reason(nameserver, exc)
            log.debug("udp endpoint failed nameserver=%s error=%s", nameserver, exc)
            return
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- public ----------------------------------------------------------------------------

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        """The (cached) answer for ``name``/``rdtype``; never raises for DNS outcomes.

        Concurrent callers of one key share one query. Callers are not cancelled in this
        package; a cancelled caller would cancel the shared wait of the others.
        """
        key = (name.rstrip(".").lower(), rdtype.upper())
        cached = self._cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            if cached.done():
                return cached.result()
            return await cached
        future: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
        self._cache[key] = future
        return await self._fill(key, future)

    def ensure(self, name: str, rdtype: str) -> asyncio.Future[Lookup]:
        """Start the lookup in the background if needed; the shared future of its answer."""
        key = (name.rstrip(".").lower(), rdtype.upper())
        cached = self._cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Lookup] = loop.create_future()
        self._cache[key] = future
        task = loop.create_task(self._fill(key, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def _fill(self, key: tuple[str, str], future: asyncio.Future[Lookup]) -> Lookup:
        try:
            result = await self._resolve(key[0], key[1], 0)
        except Exception as exc:  # a bug must not hang the other waiters
            result = Lookup(key[0], key[1], ERROR, detail=f"internal error: {exc}")
        self.stats.by_status[result.status] = self.stats.by_status.get(result.status, 0) + 1
        if not future.done():
            future.set_result(result)
        return result

    def peek(self, name: str, rdtype: str) -> Lookup | None:
        """The cached answer if it is already known, without asking."""
        cached = self._cache.get((name.rstrip(".").lower(), rdtype.upper()))
        if cached is not None and cached.done():
            return cached.result()
        return None

    async def txt(self, name: str) -> Lookup:
        return await self.lookup(name, "TXT")

    async def mx(self, name: str) -> Lookup:
        return await self.lookup(name, "MX")

    async def cname(self, name: str) -> Lookup:
        return await self.lookup(name, "CNAME")

    async def a(self, name: str) -> Lookup:
        return await self.lookup(name, "A")

    # -- internals ---------------------------------------------------------------------------

    async def _resolve(self, name: str, rdtype: str, hops: int) -> Lookup:
        qtype = wire.TYPES[rdtype]
        answer = await self._ask(name, qtype)
        if isinstance(answer, Lookup):
            return answer
        if answer.truncated:
            self.stats.tcp += 1
            tcp = await self._ask_tcp(name, rdtype)
            if isinstance(tcp, Lookup):
                return tcp
            answer = tcp
        rcode = answer.rcode
        if rcode == 3:
            return Lookup(name, rdtype, NXDOMAIN)
        if rcode != 0:
            return Lookup(
                name, rdtype, ERROR, detail=f"the nameserver answered {wire.RCODE_NAMES.get(rcode, rcode)}"
            )
        names = {name}
        target = name
        if qtype != 5:
            changed = True
            while changed:
                changed = False
                for rr in answer.records:
                    if rr.rdtype == 5 and rr.name in names and rr.value not in names:
                        names.add(str(rr.value))
                        target = str(rr.value)
                        changed = True
        values = tuple(_value(rr) for rr in answer.records if rr.rdtype == qtype and rr.name in names)
        if values:
            return Lookup(name, rdtype, OK, values)
        if target != name:
            if hops >= MAX_CNAME_HOPS:
                return Lookup(name, rdtype, ERROR, detail="too many CNAME hops")
            chased = (
                await self.lookup(target, rdtype)
                if hops == 0
                else await self._resolve(target, rdtype, hops + 1)
            )
            return Lookup(name, rdtype, chased.status, chased.values, chased.detail)
        if not answer.records and not answer.authoritative and answer.authority_ns:
            return Lookup(
                name,
                rdtype,
                ERROR,
                detail="the nameserver answered with a referral (it does not recurse for this name)",
            )
        return Lookup(name, rdtype, NODATA)

    async def _ask(self, name: str, qtype: int) -> wire.Answer | Lookup:
        rdtype = wire.TYPE_NAMES[qtype]
        if self.start_error:
            return Lookup(name, rdtype, ERROR, detail=self.start_error)
        assert self._protocol is not None and self._transport is not None and self._sem is not None
        protocol = self._protocol
        loop = asyncio.get_running_loop()
        async with self._sem:
            qid = random.getrandbits(16)
            while qid in protocol.pending:
                qid = random.getrandbits(16)
            try:
                query = wire.build_query(qid, name, qtype)
            except (wire.WireError, UnicodeEncodeError) as exc:
                return Lookup(name, rdtype, ERROR, detail=f"not a valid DNS name: {exc}")
            self.stats.queries += 1
            future: asyncio.Future[wire.Answer] = loop.create_future()
            protocol.pending[qid] = (future, name, qtype)
            servfail: wire.Answer | None = None
            try:
                for attempt in range(self.retries + 1):
                    self.stats.attempts += 1
                    if attempt:
                        self.stats.retries += 1
                    try:
                        self._transport.sendto(query)
                    except OSError as exc:  # asyncio reports it to error_received; others raise
                        return Lookup(name, rdtype, ERROR, detail=unreachable_reason(self.nameserver, exc))
                    timer = loop.call_later(self.timeout, _expire, future)
                    try:
                        answer = await future
                    except TimeoutError:
                        future = loop.create_future()
                        protocol.pending[qid] = (future, name, qtype)
                        continue
                    except SendFailed as exc:
                        return Lookup(name, rdtype, ERROR, detail=exc.reason)
                    except wire.WireError as exc:
                        return Lookup(name, rdtype, ERROR, detail=f"malformed answer: {exc}")
                    finally:
                        timer.cancel()
                    if answer.rcode == 2 and attempt < self.retries:  # SERVFAIL: ask again
                        servfail = answer
                        future = loop.create_future()
                        protocol.pending[qid] = (future, name, qtype)
                        continue
                    return answer
            finally:
                protocol.pending.pop(qid, None)
        if servfail is not None:
            return servfail
        tries = self.retries + 1
        return Lookup(
            name,
            rdtype,
            TIMEOUT,
            detail=f"{tries} attempt{'s' if tries > 1 else ''} of {self.timeout:g}s to {self.nameserver}",
        )

    async def _ask_tcp(self, name: str, rdtype: str) -> wire.Answer | Lookup:
        # dnspython (about 90 ms) only for a truncated answer: UDP needs nothing but ``wire``.
        import dns.asyncquery
        import dns.exception
        import dns.message
        import dns.rdatatype

        query = dns.message.make_query(name, rdtype, use_edns=0, payload=wire.EDNS_PAYLOAD)
        assert self._sem is not None
        async with self._sem:
            for _attempt in range(self.retries + 1):
                try:
                    response = await dns.asyncquery.tcp(
                        query, self.nameserver.host, timeout=self.timeout, port=self.nameserver.port
                    )
                    break
                except dns.exception.Timeout:
                    continue
                except OSError as exc:
                    no_route = exc.errno in NO_ROUTE_ERRNOS
                    reason = unreachable_reason(self.nameserver, exc) if no_route else str(exc)
                    return Lookup(name, rdtype, ERROR, detail=f"TCP query failed: {reason}")
                except dns.exception.DNSException as exc:
                    return Lookup(name, rdtype, ERROR, detail=f"TCP query failed: {exc}")
            else:
                return Lookup(name, rdtype, TIMEOUT, detail=f"no TCP answer from {self.nameserver}")
        records = []
        for rrset in response.answer:
            owner = rrset.name.to_text(omit_final_dot=True).lower()
            for rd in rrset:
                if rrset.rdtype == dns.rdatatype.TXT:
                    value: object = tuple(rd.strings)
                elif rrset.rdtype == dns.rdatatype.MX:
                    value = (rd.preference, rd.exchange.to_text(omit_final_dot=True).lower())
                elif rrset.rdtype == dns.rdatatype.CNAME:
                    value = rd.target.to_text(omit_final_dot=True).lower()
                else:
                    value = rd.to_text()
                records.append(wire.Record(owner, int(rrset.rdtype), rrset.ttl, value))
        ns = sum(len(r) for r in response.authority if r.rdtype == dns.rdatatype.NS)
        return wire.Answer(
            response.id,
            response.rcode(),
            int(response.flags),
            name,
            wire.TYPES[rdtype],
            tuple(records),
            ns,
        )


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _value(rr: wire.Record) -> Any:
    if rr.rdtype == 16:
        return b"".join(rr.value).decode("utf-8", "replace")  # type: ignore[arg-type]
    if rr.rdtype == 15:
        pref, host = rr.value  # type: ignore[misc]
        return (pref, host)
    return rr.value
