"""Cloudflare's API v4, read side: zones and DNS records, with typed errors.

- ``client.CloudflareClient`` reads a zone, lists its DNS records (every page) and reads one
  record by id, so existing records can be adopted into Pulumi state by ``ZONE_ID/RECORD_ID``;
- ``errors`` holds the typed errors (``Unauthorized``, ``NotFound``, ``RateLimited``,
  ``ServerError``, ``ListingChanged``, ``InvalidBaseURL``, all ``CloudflareError``);
- ``txt`` turns a TXT record's ``content`` as Cloudflare stores it (quoted, possibly split into
  several character-strings) into the record's value;
- ``redact`` keeps the API token out of everything a person or a log can read;
- ``ratelimit`` is the client-side budget (Cloudflare: 1200 requests per 5 minutes).

A ground-floor package: it imports only the standard library, third-party packages, its own
modules, ``mailfleet.http`` (retry timing and redaction it shares with ``mailfleet.mailgun``)
and ``mailfleet.errors`` (never ``mailfleet.model`` or anything above it, nor its sibling
``mailfleet.mailgun``: siblings of the utilities layer are independent), so any layer may use
it. Nothing here imports pulumi. Callers read the token (``CLOUDFLARE_API_TOKEN``);
the client never reads the environment.
"""
