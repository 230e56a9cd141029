"""Reading one Mailgun region: every domain, route and webhook, and SMTP logins (never passwords).

The calls, in the order they are made (``docs/import.md`` has the figures):

1. ``GET /v4/domains?limit=1000&skip=N`` and ``GET /v3/routes?limit=1000&skip=N``: every
   domain and route of the region, 1000 a page (Mailgun's maximum);
2. ``GET /v3/domains/{d}/webhooks`` for every domain: webhooks say which tenant a domain
   belongs to;
3. ``GET /v4/domains/{d}`` (settings and ``sending_dns_records``: the DKIM selector and key)
   only for the domains that belong to a tenant;
4. ``GET /v3/domains/{d}/credentials`` (logins only) only for each tenant's sending domain.

Per-domain calls run on a small thread pool so that the request latency hides behind the
client's rate budget (``MailgunClient`` paces every request); progress is reported from the
calling thread. A domain deleted between the listing and a per-domain call answers 404: it is
reported as gone, not as a failure. Any other API error stops the import (``ImportFailed``,
exit 1) before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

from mailfleet.errors import MailfleetError, Problem
from mailfleet.mailgun.errors import MailgunError, NotFound

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

LIST_PAGE = 1000  # Mailgun's documented maximum for domains, routes and credentials
DEFAULT_WORKERS = 8

Progress = Callable[[str, int, int], None]  # (what, done, total)
T = TypeVar("T")


class ImportFailed(MailfleetError):
    """Mailgun could not be read (an API error, a refused key); nothing was written."""


class Gone:
    """A domain that answered 404 after it was listed (deleted meanwhile)."""

    def __init__(self, message: str) -> None:
        self.message = message


class Reader:
    """Reads one region through ``client``; counts nothing itself (the client counts requests)."""

    def __init__(
        self, client: MailgunClient, *, workers: int = DEFAULT_WORKERS, progress: Progress | None = None
    ):
        self.client = client
        self.region = client.region
        self.workers = max(1, workers)
        self.progress = progress

    def _failed(self, exc: MailgunError) -> ImportFailed:
        # The client's messages are scrubbed of the key (mailfleet.mailgun.redact).
        message = str(exc).removeprefix("Mailgun ")
        return ImportFailed(problems=[Problem(f"Mailgun {self.region}", "", f"{message}; nothing written")])

    def domains(self) -> list[str]:
        """Every domain name of the region, each once, in Mailgun's order."""
        try:
            items = self.client.list_domains(LIST_PAGE)
        except MailgunError as exc:
            raise self._failed(exc) from None
        return [str(i["name"]).lower() for i in items if i.get("name")]

    def routes(self) -> list[dict[str, Any]]:
        """Every route of the region, each id once (paging by ``skip`` may repeat one)."""
        try:
            items = self.client.list_routes(LIST_PAGE)
        except MailgunError as exc:
            raise self._failed(exc) from None
        seen: dict[str, dict[str, Any]] = {}
        for r in items:
            seen.setdefault(str(r.get("id")), r)
        return list(seen.values())

    def webhooks(self, names: list[str]) -> dict[str, dict[str, list[str]] | Gone]:
        return self._each("webhooks", names, self.client.list_webhooks)

    def settings(self, names: list[str]) -> dict[str, dict[str, Any] | Gone]:
        return self._each("domain settings", names, self.client.get_domain)

    def logins(self, names: list[str]) -> dict[str, list[str] | Gone]:
        return self._each("SMTP logins", names, lambda d: self.client.list_credential_logins(d, LIST_PAGE))

    def _each(self, what: str, names: list[str], call: Callable[[str], T]) -> dict[str, T | Gone]:
        """``call(name)`` for every name on the pool; results by name, in ``names`` order."""
        out: dict[str, T | Gone] = {}
        if not names:
            return out

        def one(name: str) -> T | Gone:
            try:
                return call(name)
            except NotFound as exc:
                return Gone(str(exc))

        total = len(names)
        step = max(1, total // 10)
        with ThreadPoolExecutor(max_workers=min(self.workers, total)) as pool:
            futures: dict[Future[T | Gone], str] = {pool.submit(one, n): n for n in names}
            pending = set(futures)
            done_count = 0
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION, timeout=5)
                for future in done:
                    exc = future.exception()
                    if exc is not None:
                        for f in pending:
                            f.cancel()
                        if isinstance(exc, MailgunError):
                            raise self._failed(exc) from None
                        raise exc
                    out[futures[future]] = future.result()
                before, done_count = done_count, done_count + len(done)
                if self.progress is not None and (
                    done_count // step != before // step or done_count == total
                ):
                    self.progress(what, done_count, total)
        return {n: out[n] for n in names}
