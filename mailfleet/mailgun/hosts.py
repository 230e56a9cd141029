"""Mailgun's API base URLs, one per region (Mailgun's documentation: "Base URL").

The ground floor for everything that names a Mailgun API host: ``mailfleet.mailgun.client``
uses it, and so should the region model (``mailfleet.model.region``), never the other way round.
"""

from __future__ import annotations

API_BASES: dict[str, str] = {
    "us": "https://api.mailgun.net",
    "eu": "https://api.eu.mailgun.net",
}
