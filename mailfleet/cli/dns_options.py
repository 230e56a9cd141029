"""The DNS options every command that asks DNS servers shares (check, blocklists, tenant adopt).

One definition, so the flag names, limits and help text cannot drift between commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

Nameserver = Annotated[
    str | None,
    typer.Option("--nameserver", metavar="IP[:PORT]", help="Ask this DNS server (default: the system's)."),
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.01, help="Seconds to wait per DNS attempt.")]
Retries = Annotated[int, typer.Option("--retries", min=0, help="Retries per DNS query after a timeout.")]
