"""mailfleet's own URL convention, read backwards: which tenant a Mailgun route or webhook is for.

What a stack declares (``mailfleet.desired.build``):

- a route per mailbox, ``match_recipient("^<re.escape(box@platform domain)>$")`` with the
  actions ``forward("<inboundUrl>/<slug>")`` and ``stop()``;
- webhooks of every tenant domain pointing at ``<webhookUrl>/<slug>``;
- the platform domain ``<slug>.<platformDomain>``.

So a route forwarding to ``<inboundUrl>/<slug>`` is tenant ``<slug>``'s, and a domain whose
webhooks point at ``<webhookUrl>/<slug>`` is too. Everything here is pure: it reads values,
decides nothing about files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

_MATCH_RECIPIENT = re.compile(r"""^\s*match_recipient\(\s*(["'])(?P<pattern>.*)\1\s*\)\s*$""", re.S)
_FORWARD = re.compile(r"""^\s*forward\(\s*(["'])(?P<target>.*)\1\s*\)\s*$""", re.S)
_REGEX_SPECIAL = set("*+?{}[]()|^$")
_QUANTIFIERS = set("*+?{")


def forward_targets(actions: list[str] | tuple[str, ...]) -> list[str]:
    """The URLs or addresses of a route's ``forward(...)`` actions, in order."""
    out = []
    for action in actions:
        m = _FORWARD.match(str(action))
        if m is not None:
            out.append(m["target"])
    return out


def slug_under(url: str, base: str) -> str | None:
    """``<slug>`` when ``url`` is exactly ``<base>/<slug>`` (one path segment), else None."""
    prefix = base.rstrip("/") + "/"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    if not rest or any(c in rest for c in "/?#"):
        return None
    return rest


def literal_of(pattern: str) -> str | None:
    """The one string a ``match_recipient`` pattern matches, or None when it matches a set.

    ``^`` and ``$`` anchors are optional; ``\\x`` is ``x``; an unescaped ``.`` not followed by
    a quantifier is taken as a literal dot (a common shorthand, ``support@acme.example``);
    any other regex metacharacter (``.*``, ``[...]``, ``|``, ``+``...) makes it a pattern.
    """
    body = pattern
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum():
                return None  # \d, \w, \b...: classes and assertions, not a literal
            out.append(body[i + 1])
            i += 2
            continue
        if c == "." and (i + 1 >= len(body) or body[i + 1] not in _QUANTIFIERS):
            out.append(".")
        elif c in _REGEX_SPECIAL or c == ".":
            return None
        else:
            out.append(c)
        i += 1
    return "".join(out) or None


@dataclass(frozen=True, slots=True)
class RouteRead:
    """One Mailgun route as found, with what the convention says about it."""

    id: str
    priority: int
    description: str
    expression: str
    actions: tuple[str, ...]
    slug: str | None = None  # the tenant its forward URL names
    address: str | None = None  # the one recipient it matches
    reason: str = ""  # why it does not fit the convention (slug or address is None)

    def label(self) -> str:
        return self.address or self.expression


def read_route(route: dict[str, Any], inbound_url: str) -> RouteRead:
    """What ``route`` (an item of ``GET /v3/routes``) is, under the convention."""
    actions = tuple(str(a) for a in route.get("actions") or [])
    try:
        priority = int(route.get("priority") or 0)
    except (TypeError, ValueError):
        priority = 0
    base = RouteRead(
        id=str(route.get("id") or ""),
        priority=priority,
        description=str(route.get("description") or ""),
        expression=str(route.get("expression") or ""),
        actions=actions,
    )
    targets = forward_targets(actions)
    slugs = sorted({s for s in (slug_under(t, inbound_url) for t in targets) if s is not None})
    if not slugs:
        shown = ", ".join(actions) or "no actions"
        return _with(base, reason=f"forwards elsewhere ({shown}), not to {inbound_url}/<slug>")
    if len(slugs) > 1:
        return _with(base, reason=f"forwards to several tenants ({', '.join(slugs)})")
    slug = slugs[0]
    m = _MATCH_RECIPIENT.match(base.expression)
    if m is None:
        return _with(base, slug=slug, reason="does not match one recipient: a catch-all or filter")
    address = literal_of(m["pattern"])
    if address is None or address.count("@") != 1:
        return _with(base, slug=slug, reason="matches more than one address: a catch-all or pattern")
    return _with(base, slug=slug, address=address.lower())


def _with(route: RouteRead, **changes: Any) -> RouteRead:
    return replace(route, **changes)


def webhook_slugs(hooks: dict[str, list[str]], webhook_url: str) -> set[str]:
    """The tenants a domain's webhooks (``{kind: [urls]}``) point at: ``<webhookUrl>/<slug>``."""
    return {s for urls in hooks.values() for u in urls if (s := slug_under(u, webhook_url)) is not None}


def platform_slug(domain: str, platform_domain: str) -> str | None:
    """``<slug>`` when ``domain`` is ``<slug>.<platformDomain>`` (one label), else None."""
    suffix = "." + platform_domain
    if not domain.endswith(suffix):
        return None
    label = domain[: -len(suffix)]
    return label if label and "." not in label else None
