"""The DNS resolver ``check`` uses: asyncio, bounded, cached for the whole run, honest.

Contract:
- ``lookup(name, type)`` returns a ``Lookup`` whose ``status`` is ``ok``, ``nxdomain`` or
  ``nodata`` (the name or the type does not exist: *missing*), or ``timeout`` / ``error``
  (no verdict: no answer after the retries, SERVFAIL, REFUSED, a referral from a server that
  does not recurse, a malformed answer). A timeout is never reported as missing.
- At most ``concurrency`` queries are in flight; each attempt waits ``timeout`` seconds and
  is retried ``retries`` times (SERVFAIL too); the answer to an earlier attempt still counts.
  Below that bound the number in flight adapts to the latency it sees (``Window``): enough
  to keep the answers coming when each takes 20 ms or 200 ms, few when the server is next
  door (then more in flight only fill the socket's receive buffer).
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
import socket
import time
from collections import deque
from collections.abc import Callable
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


class Window:
    """How many queries may be in flight, between ``minimum`` and ``bound``.

    Little's law: to keep ``R`` answers a second coming when each takes ``T`` seconds, ``R x T``
    queries must be in flight. The window measures both, per epoch (at least 10 ms and one
    round trip, and 8 answers): ``R`` the answers completed per second, ``T`` the shortest
    round trip of this epoch and the last (the path's own latency, without the time an answer
    waited for this busy event loop). It then sets itself to ``gain x R x T + minimum``:

    - while the window limits (queries wait), ``R`` is about ``window / T``, so the window
      doubles every round trip, up to ``bound``: at 20 ms a round trip it reaches the hundreds
      within a few tenths of a second;
    - once the CPU limits (``R`` stops growing), it settles at twice what keeps it busy;
    - with the server next door (``T`` of 0.1 ms) it stays near ``minimum``.

    A timeout halves it (at most once per epoch): the first sign that the server or the path
    is overloaded. Waiters are served first come, first served.
    """

    EPOCH = 0.01
    GAIN = 2.0

    def __init__(
        self,
        bound: int,
        *,
        minimum: int = 32,
        initial: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bound = bound
        self.minimum = min(minimum, bound)
        self.limit = float(min(bound, max(self.minimum, initial if initial is not None else self.minimum)))
        self.in_flight = 0
        self.peak = 0  # the most in flight at once
        self.widest = self.limit  # the widest the window became
        self.timeouts = 0
        self._clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._epoch_start = clock()
        self._epoch_done = 0
        self._epoch_min = float("inf")
        self._last_min = float("inf")
        self._halved_in_epoch = False

    @property
    def base_rtt(self) -> float:
        """The shortest round trip of this epoch and the last (inf before any answer)."""
        return min(self._epoch_min, self._last_min)

    async def acquire(self) -> None:
        if not self._waiters and self.in_flight < self.limit:
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as we were cancelled: give it back
            else:
                self._waiters.remove(waiter)
            raise

    def release(self, rtt: float | None = None, *, timed_out: bool = False) -> None:
        """Give back a slot; ``rtt`` is the round trip of a first attempt's answer, if any."""
        self.in_flight -= 1
        if timed_out:
            self._timed_out()
        elif rtt is not None:
            self._answered(rtt)
        self._wake()

    def _take(self) -> None:
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._take()
            waiter.set_result(None)

    def _timed_out(self) -> None:
        self.timeouts += 1
        if not self._halved_in_epoch:
            self._halved_in_epoch = True
            self.limit = max(float(self.minimum), self.limit / 2)

    def _answered(self, rtt: float) -> None:
        self._epoch_done += 1
        if rtt < self._epoch_min:
            self._epoch_min = rtt
        now = self._clock()
        elapsed = now - self._epoch_start
        base = self.base_rtt
        if self._epoch_done < 8 or elapsed < max(self.EPOCH, base):
            return
        rate = self._epoch_done / elapsed
        self.limit = min(float(self.bound), max(float(self.minimum), self.GAIN * rate * base + self.minimum))
        self.widest = max(self.widest, self.limit)
        self._last_min = self._epoch_min
        self._epoch_min = float("inf")
        self._epoch_start = now
        self._epoch_done = 0
        self._halved_in_epoch = False


# Asked of the kernel for the UDP socket (it caps the figure at net.core.rmem_max): with a few
# hundred answers in flight, a burst must not overflow the receive buffer while the event loop
# is busy judging records; an answer dropped there costs a whole timeout.
RECEIVE_BUFFER = 4 * 1024 * 1024


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
        concurrency: int = 256,
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
        self.window: Window | None = None
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
        self.window = Window(self.concurrency)
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
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            except OSError as exc:  # a smaller buffer still works
                log.debug("udp receive buffer not enlarged error=%s", exc)

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
        assert self._protocol is not None and self._transport is not None and self.window is not None
        protocol = self._protocol
        loop = asyncio.get_running_loop()
        window = self.window
        await window.acquire()
        rtt: float | None = None
        timed_out = False
        try:
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
                    sent = time.monotonic()
                    try:
                        answer = await future
                    except TimeoutError:
                        timed_out = True
                        future = loop.create_future()
                        protocol.pending[qid] = (future, name, qtype)
                        continue
                    except SendFailed as exc:
                        return Lookup(name, rdtype, ERROR, detail=exc.reason)
                    except wire.WireError as exc:
                        return Lookup(name, rdtype, ERROR, detail=f"malformed answer: {exc}")
                    finally:
                        timer.cancel()
                    if not attempt:
                        rtt = time.monotonic() - sent
                    if answer.rcode == 2 and attempt < self.retries:  # SERVFAIL: ask again
                        servfail = answer
                        future = loop.create_future()
                        protocol.pending[qid] = (future, name, qtype)
                        continue
                    return answer
            finally:
                protocol.pending.pop(qid, None)
        finally:
            window.release(rtt, timed_out=timed_out)
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
        assert self.window is not None
        await self.window.acquire()
        try:
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
        finally:
            self.window.release()
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
