"""A loopback DNS forwarder that delays every answer (a test and benchmark aid).

It listens on UDP and TCP, forwards each query to an upstream server (our Knot), and sends
the answer back ``delay`` seconds after it arrived, emulating a resolver far away. Queries
for names under one of ``drop_suffixes`` are read and never answered: a name whose answers
never come, for timeout tests. With ``--log FILE`` every forwarded query is appended to FILE as
one ``name<TAB>type`` line (written as it is forwarded): the benchmarks count the queries each
tool asked, and replay them.

    python bench/dns_delay_forwarder.py --listen 127.0.0.1:5301 --upstream 127.0.0.1:5300 \
        --delay 0.02 [--drop slow.example] [--log queries.tsv]

From Python: ``ForwarderThread(listen, upstream, delay, drop_suffixes).start()`` runs it in
a background thread with its own event loop; ``.stop()`` ends it; ``.address`` is the
``(host, port)`` it listens on (port 0 picks a free one).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import struct
import threading
from collections.abc import Iterable
from typing import IO


def question_of(data: bytes) -> tuple[str, int]:
    """The question name (as ``qname_of``) and type of a DNS message; ('', 0) if unreadable."""
    off = 12
    try:
        while True:
            length = data[off]
            if length == 0:
                off += 1
                break
            if length & 0xC0:
                off += 2
                break
            off += 1 + length
        qtype = int.from_bytes(data[off : off + 2], "big")
    except IndexError:
        return "", 0
    return qname_of(data), qtype


def qname_of(data: bytes) -> str:
    """The question name of a DNS message (lowercase, no trailing dot); '' if unreadable."""
    labels = []
    off = 12
    try:
        while True:
            length = data[off]
            if length == 0 or length & 0xC0:
                break
            labels.append(data[off + 1 : off + 1 + length].decode("ascii", "replace"))
            off += 1 + length
    except IndexError:
        return ""
    return ".".join(labels).lower()


class Forwarder:
    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        delay: float = 0.02,
        drop_suffixes: Iterable[str] = (),
        log: IO[str] | None = None,
    ) -> None:
        self.log = log
        self.listen = listen
        self.upstream = upstream
        self.delay = delay
        self.drop_suffixes = tuple(s.lower().strip(".") for s in drop_suffixes)
        self.address: tuple[str, int] = listen
        self.forwarded = 0
        self.dropped = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[tuple[str, int], bytes]] = {}
        self._client: asyncio.DatagramTransport | None = None
        self._upstream: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None

    def dropped_name(self, name: str) -> bool:
        return any(name == s or name.endswith("." + s) for s in self.drop_suffixes)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        fwd = self

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                fwd._from_client(data, addr)

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                fwd._from_upstream(data)

        self._client, _ = await loop.create_datagram_endpoint(Client, local_addr=self.listen)
        self.address = self._client.get_extra_info("sockname")[:2]
        self._upstream, _ = await loop.create_datagram_endpoint(Upstream, remote_addr=self.upstream)
        self._tcp = await asyncio.start_server(self._tcp_client, self.address[0], self.address[1])

    def close(self) -> None:
        for t in (self._client, self._upstream):
            if t is not None:
                t.close()
        if self._tcp is not None:
            self._tcp.close()

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        if self.dropped_name(qname_of(data)):
            self.dropped += 1
            return
        new_id = next(self._ids) & 0xFFFF
        self._pending[new_id] = (addr, data[:2])
        self.forwarded += 1
        self._log(data)
        assert self._upstream is not None
        self._upstream.sendto(struct.pack("!H", new_id) + data[2:])

    def _log(self, query: bytes) -> None:
        if self.log is not None:
            name, qtype = question_of(query)
            self.log.write(f"{name}\t{qtype}\n")

    def _from_upstream(self, data: bytes) -> None:
        entry = self._pending.pop(int.from_bytes(data[:2], "big"), None)
        if entry is None:
            return
        addr, old_id = entry
        reply = old_id + data[2:]
        assert self._client is not None
        client = self._client
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, client.sendto, reply, addr)
        else:
            client.sendto(reply, addr)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                query = await reader.readexactly(int.from_bytes(head, "big"))
                if self.dropped_name(qname_of(query)):
                    self.dropped += 1
                    continue
                self._log(query)
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
                up_writer.write(head + query)
                await up_writer.drain()
                length = int.from_bytes(await up_reader.readexactly(2), "big")
                answer = await up_reader.readexactly(length)
                up_writer.close()
                self.forwarded += 1
                if self.delay > 0:
                    await asyncio.sleep(self.delay)
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class ForwarderThread:
    """Run a ``Forwarder`` in a daemon thread (tests)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.forwarder = Forwarder(*args, **kwargs)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dns-forwarder", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.forwarder.address

    def start(self) -> ForwarderThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.forwarder.start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self.forwarder.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _main(args: argparse.Namespace) -> None:
    log = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115 - open for the whole run
    fwd = Forwarder(_hostport(args.listen), _hostport(args.upstream), args.delay, args.drop, log)
    await fwd.start()
    print(f"listening {fwd.address[0]}:{fwd.address[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    fwd.close()
    if log is not None:
        log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on (UDP and TCP)")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added to every answer")
    parser.add_argument("--drop", action="append", default=[], help="never answer names under this suffix")
    parser.add_argument("--log", help="append 'name<TAB>type' per forwarded query to this file")
    asyncio.run(_main(parser.parse_args()))
