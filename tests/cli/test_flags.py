"""mailfleet.cli.flags: the one table from field paths and parameters to flags."""

from __future__ import annotations

import pytest

from mailfleet.cli.flags import flag_of, to_cli
from mailfleet.errors import Problem


@pytest.mark.parametrize(
    ("path", "flag"),
    [
        ("slug", "SLUG"),
        ("slugs", "SLUG"),
        ("sender_domain.name", "--sender-domain"),
        ("sender_domain.spf_includes.1", "--spf-include"),
        ("sender_domain", "--sender-domain"),
        ("outbound.smtp.port", "--smtp-port"),
        ("outbound.smtp.host", "--smtp-host"),
        ("dkim.bits", "--dkim-bits"),
        ("from_region", "--from"),
        ("to", "--to"),
        ("stack", "--stack"),
        ("trigger_verify", "--trigger-verify"),
        ("tenants_dir", "--tenants-dir"),
    ],
)
def test_flag_of(path: str, flag: str) -> None:
    assert flag_of(path) == flag


def test_only_parameter_problems_are_rewritten() -> None:
    assert str(to_cli(Problem("", "to", "must differ from --from"))) == "--to: must differ from --from"
    file_problem = Problem("tenants/a.yaml", "sender_domain.name", "bad")
    assert to_cli(file_problem) is file_problem
