"""What mailfleet's HTTP API clients share: retry timing and keeping a secret out of text.

- ``retry`` reads the waits a 429 asks for (``Retry-After`` as seconds or an HTTP date,
  Mailgun's ``X-RateLimit-Reset``, the ``t=`` of Cloudflare's ``Ratelimit``), computes
  exponential backoff with jitter and a cap, and decides when a request that got no answer is
  given up; clock and jitter are passed in, so tests of retries run instantly;
- ``transport`` sends one request and turns an exception of ``requests`` into a word
  (``"timeout"``, ``"connection failed"`` or the exception's class name), never its text;
- ``redact`` holds a secret that does not print itself (``Secret``), scrubs every wire form of
  it from text and decoded JSON, quotes a server's error text scrubbed and cut, and refuses a
  base URL that carries credentials, a query or a fragment (``check_base_url``).

Below the utilities layer (``pyproject.toml``): ``mailfleet.mailgun`` and
``mailfleet.cloudflare`` use it, and it imports only the standard library, third-party
packages and ``mailfleet.errors``. It knows no API: every message names its service and its
secret through arguments. This file imports nothing: ``retry`` and ``redact`` load without
requests.
"""
