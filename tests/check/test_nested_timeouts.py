"""A lookup that gets no answer, at any depth, leaves the record undecided (exit 3), never a verdict.

Knot serves the hand-written zones of tests/check/handwritten.py; for each case a forwarder in
front of it stays silent for exactly one name, one to three lookups below the record `check`
starts from. The same tenant through a forwarder that answers everything passes (exit 0), so
exit 3 comes from that one silent name alone.
"""

from __future__ import annotations

import pytest

from tests.check.conftest import record
from tests.check.handwritten import SILENT_NAMES

pytestmark = pytest.mark.knot

CASES = sorted(SILENT_NAMES)


@pytest.mark.parametrize("case", CASES)
def test_every_answer_given_the_tenant_passes(silent_knot, case: str) -> None:
    slug, purpose, zone, _ = SILENT_NAMES[case]
    proc, data = silent_knot.check(slug)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert data["summary"]["exit_code"] == 0
    assert record(data, slug, purpose, zone)["status"] == "ok"
    assert {r["status"] for t in data["tenants"] for r in t["records"]} == {"ok"}


@pytest.mark.parametrize("case", CASES)
def test_one_silent_name_below_the_record_leaves_it_undecided(silent_knot, case: str) -> None:
    slug, purpose, zone, silent = SILENT_NAMES[case]
    proc, data = silent_knot.check(slug, silent=silent)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    summary = data["summary"]
    assert summary["exit_code"] == 3
    assert (summary["missing"], summary["wrong"], summary["timeout"]) == (0, 0, 1)
    rec = record(data, slug, purpose, zone)
    assert rec["status"] == "timeout"
    assert silent in rec["message"]
    assert not [f for f in rec["findings"] if f["severity"] == "error"], rec["findings"]
    timeouts = [f for f in rec["findings"] if f["severity"] == "timeout"]
    assert len(timeouts) == 1 and silent in timeouts[0]["message"]
    # every other record of the tenant still got its verdict
    others = [r for t in data["tenants"] for r in t["records"] if r is not rec and r != rec]
    assert others and {r["status"] for r in others} == {"ok"}


def test_the_silent_include_is_named_with_its_term(silent_knot) -> None:
    _, data = silent_knot.check("slowinc", silent="spf.silent-include.test")
    rec = record(data, "slowinc", "spf", "slowinc.test")
    (finding,) = rec["findings"]
    assert finding["code"] == "spf-lookup-failed"
    assert finding["message"].startswith("cannot count SPF lookups: include:spf.silent-include.test: ")
    # the count is unknown: no lookup total is claimed as a verdict
    assert not any(f["code"] == "spf-too-many-lookups" for f in rec["findings"])


def test_the_silent_redirect_target_is_named(silent_knot) -> None:
    _, data = silent_knot.check("slowredir", silent="spf.silent-redirect.test")
    rec = record(data, "slowredir", "spf", "slowredir.test")
    (finding,) = rec["findings"]
    assert finding["code"] == "spf-lookup-failed"
    assert "redirect=spf.silent-redirect.test" in finding["message"]


def test_a_silent_authorisation_is_not_unauthorised(silent_knot) -> None:
    _, data = silent_knot.check("slowauth", silent=SILENT_NAMES["dmarc-authorisation"][3])
    rec = record(data, "slowauth", "dmarc", "slowauth.test")
    assert [f["code"] for f in rec["findings"]] == ["dmarc-auth-unknown"]
    assert "reports.silent-auth.test" in rec["findings"][0]["message"]


def test_a_silent_mx_host_address_is_named(silent_knot) -> None:
    _, data = silent_knot.check("plainmx", silent="mxb.eu.mailgun.org")
    rec = record(data, "plainmx", "mx", "ours")
    assert [f["code"] for f in rec["findings"]] == ["mx-target-unknown"]
    # the MX set itself was read and is right
    assert rec["found"] == ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"]
