"""The one table from field paths and parameter names to the CLI's flags.

Library code reports a problem with a command's input as ``Problem("", path, message)``: an
empty ``where`` and the path of the field or parameter (``sender_domain.name``, ``to``,
``stack``). Only the CLI knows flags: ``to_cli`` rewrites such a problem to name the flag
(``--sender-domain: ...``). Problems about files keep their file.
"""

from __future__ import annotations

from mailfleet.errors import Problem

# Field path (prefix) -> flag; the first match wins, so longer prefixes come first.
FLAG_OF_FIELD: tuple[tuple[str, str], ...] = (
    ("slug", "SLUG"),
    ("slugs", "SLUG"),
    ("name", "--name"),
    ("region", "--region"),
    ("stack", "--stack"),
    ("mailboxes", "--mailbox"),
    ("sender_domain.name", "--sender-domain"),
    ("sender_domain.dns", "--dns"),
    ("sender_domain.spf_includes", "--spf-include"),
    ("sender_domain.spf_all", "--spf-all"),
    ("sender_domain", "--sender-domain"),
    ("dmarc.policy", "--dmarc-policy"),
    ("dmarc.rua", "--dmarc-rua"),
    ("dmarc.ruf", "--dmarc-ruf"),
    ("dkim.selector", "--dkim-selector"),
    ("dkim.bits", "--dkim-bits"),
    ("tracking", "--tracking"),
    ("outbound.smtp.port", "--smtp-port"),
    ("outbound.smtp", "--smtp-host"),
    ("outbound.service", "--outbound-service"),
    ("outbound.marketing", "--outbound-marketing"),
    ("outbound", "--smtp-host"),
    ("from_region", "--from"),
    ("all", "--all"),
)


def flag_of(field_path: str) -> str:
    """The flag for ``field_path``; an unlisted parameter ``a_b`` is the flag ``--a-b``."""
    for prefix, flag in FLAG_OF_FIELD:
        if field_path == prefix or field_path.startswith(prefix + "."):
            return flag
    if not field_path:
        return "SLUG"
    return "--" + field_path.replace("_", "-")


def to_cli(problem: Problem) -> Problem:
    """``problem`` as the CLI prints it: a parameter's problem names its flag."""
    if problem.where:
        return problem
    return Problem(flag_of(problem.field), "", problem.message)
