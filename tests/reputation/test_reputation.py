"""`mailfleet reputation` against the fake Mailgun's Metrics API, run as a real process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError
from tests.fakes.mailgun_server import FakeMailgun
from tests.ptyrun import run_on_pty

METRICS = "/v1/analytics/metrics"


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        yield server


def sent(delivered: int, bounced: int = 0, complained: int = 0, **more: int) -> dict[str, int]:
    """Raw counts as Mailgun records them: bounces are permanent failures."""
    return {
        "accepted_outgoing_count": delivered + bounced,
        "delivered_smtp_count": delivered,
        "permanent_failed_count": bounced + more.get("suppressed_bounces_count", 0),
        "complained_count": complained,
        **more,
    }


def run(cli, project_dir: Path, fake: FakeMailgun, *args: str):
    return cli("--stacks-dir", str(project_dir), "reputation", *args, env=fake.env())


def domain_row(data: dict, name: str) -> dict:
    return next(d for t in data["tenants"] for d in t["domains"] if d["domain"] == name)


# -- the fake, as Mailgun documents the endpoint ----------------------------------------------


def test_fake_metrics_endpoint_fields_paging_and_window(fake):
    now = datetime.now(UTC)
    for i in range(5):
        fake.seed_metrics("eu", f"d{i}.example.eu", sent(100 + i, bounced=i), at=now - timedelta(hours=2))
    fake.seed_metrics("eu", "d0.example.eu", sent(1000), at=now - timedelta(days=30))  # outside 7d
    fake.seed_metrics("us", "d0.example.eu", sent(7))  # another region's data
    client = MailgunClient("eu", fake.api_key, base_url=fake.base_url("eu"), max_retries=0)
    body = {
        "duration": "7d",
        "resolution": "day",
        "dimensions": ["domain"],
        "metrics": ["delivered_count", "bounced_count", "processed_count", "bounce_rate"],
        "pagination": {"sort": "domain:desc", "skip": 0, "limit": 2},
    }
    page = client.request("POST", METRICS, json_body=body)
    assert page["pagination"] == {"sort": "domain:desc", "skip": 0, "limit": 2, "total": 5}
    assert [i["dimensions"][0]["value"] for i in page["items"]] == ["d4.example.eu", "d3.example.eu"]
    d4 = page["items"][0]["metrics"]
    assert d4 == {"delivered_count": 104, "bounced_count": 4, "processed_count": 108, "bounce_rate": "3.70"}
    last = client.request("POST", METRICS, json_body={**body, "pagination": {"skip": 4, "limit": 2}})
    assert [i["dimensions"][0]["value"] for i in last["items"]] == ["d4.example.eu"]  # default order asc
    d0 = client.request(
        "POST",
        METRICS,
        json_body={
            **body,
            "filter": {
                "AND": [
                    {
                        "attribute": "domain",
                        "comparator": "=",
                        "values": [{"label": "d0.example.eu", "value": "d0.example.eu"}],
                    }
                ]
            },
        },
    )
    assert d0["items"][0]["metrics"]["delivered_count"] == 100  # the 30-day-old sample is outside
    by_time = client.request(
        "POST",
        METRICS,
        json_body={
            "duration": "2d",
            "resolution": "hour",
            "dimensions": ["time"],
            "metrics": ["delivered_count"],
        },
    )
    assert len(by_time["items"]) == 1 and by_time["items"][0]["metrics"]["delivered_count"] == 510
    assert page["items"][0]["dimensions"][0]["display_value"] == "d4.example.eu"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"metrics": [f"m{i}" for i in range(11)]}, "at most 10 metrics"),
        ({"dimensions": ["domain", "ip", "tag", "time"]}, "at most 3 dimensions"),
        ({"resolution": "week"}, "'resolution'"),
        ({"duration": "7w"}, "'duration'"),
        ({"end": "yesterday"}, "RFC 2822"),
        ({"pagination": {"limit": 1001}}, "can't be larger than 1000"),
        ({"metrics": ["delivered"]}, "unknown dimension or metric 'delivered'"),
        ({"filter": {"OR": []}}, "'filter'"),
        ({"filter": {"AND": [{"attribute": "domain", "comparator": "~", "values": []}]}}, "comparator"),
        ({"pagination": {"sort": "nope:asc"}}, "'pagination.sort'"),
        ({"limit": 5}, "unknown field"),
    ],
)
def test_fake_metrics_refuses_what_mailgun_refuses(fake, change, words):
    client = MailgunClient("eu", fake.api_key, base_url=fake.base_url("eu"), max_retries=0)
    body = {"dimensions": ["domain"], "metrics": ["delivered_count"], **change}
    with pytest.raises(MailgunError) as info:
        client.request("POST", METRICS, json_body=body)
    assert info.value.status == 400 and words in str(info.value)


# -- the command --------------------------------------------------------------------------------


def test_verdicts_exit_code_and_json(cli, project_dir, fake):
    fake.seed_metrics("eu", "acme.mail.example.eu", sent(10_000, bounced=50, complained=5))  # 0.5%, 0.05%
    fake.seed_metrics("eu", "nordlys-reiser.no", sent(2_000, bounced=10, complained=8))  # complaints 0.4%
    fake.seed_metrics("eu", "nordlys.mail.example.eu", sent(1_000))
    fake.seed_metrics(
        "us", "bluebird.mail.example.com", sent(1_000, bounced=40, suppressed_bounces_count=500)
    )
    fake.seed_metrics("eu", "fjordbank.no", sent(499, bounced=400))  # too little mail to judge
    proc = run(cli, project_dir, fake, "acme", "nordlys", "bluebird", "fjordbank", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "mailfleet-reputation/1"
    acme = domain_row(data, "acme.mail.example.eu")
    assert acme["status"] == "ok" and acme["delivered"] == 10_000 and acme["bounced"] == 50
    assert acme["bounce_rate"] == pytest.approx(50 / 10_050)  # bounced / processed
    assert acme["complaint_rate"] == pytest.approx(5 / 10_000)  # complained / delivered
    nordlys = domain_row(data, "nordlys-reiser.no")
    assert nordlys["status"] == "fail"
    assert nordlys["reasons"] == ["complaint rate 0.40% is at or over the fail threshold 0.3%"]
    # suppressed sends are permanent failures but not bounces (Mailgun's bounced_count)
    blue = domain_row(data, "bluebird.mail.example.com")
    assert blue["permanent_failed"] == 540 and blue["bounced"] == 40
    assert blue["status"] == "warn" and "bounce rate 2.60%" in blue["reasons"][0]
    low = domain_row(data, "fjordbank.no")
    assert low["status"] == "low-volume" and low["reasons"] == ["not enough mail: 499 delivered, under 500"]
    # a domain without any mail is not enough mail either, never ok
    assert domain_row(data, "fjordbank.mail.example.eu")["status"] == "low-volume"
    tenants = {t["slug"]: t["status"] for t in data["tenants"]}
    assert tenants == {"acme": "ok", "nordlys": "fail", "bluebird": "warn", "fjordbank": "low-volume"}
    summary = data["summary"]
    assert summary["fail"] == 1 and summary["warn"] == 1 and summary["exit_code"] == 1
    # one Metrics query per region, not one per domain
    assert fake.count("POST", METRICS, "eu") == 1 and fake.count("POST", METRICS, "us") == 1
    assert summary["api_calls"] == 2
    assert data["thresholds"]["eu"] == {
        "bounce_warn": 2.0,
        "bounce_fail": 5.0,
        "complaint_warn": 0.1,
        "complaint_fail": 0.3,
        "min_delivered": 500,
    }


def test_thresholds_come_from_the_stack_file(cli, project_dir, fake):
    stack = project_dir / "Pulumi.eu.yaml"
    stack.write_text(
        stack.read_text() + "  mailfleet:reputation:\n    complaint_fail: 0.5\n    min_delivered: 100\n"
    )
    fake.seed_metrics("eu", "nordlys-reiser.no", sent(2_000, complained=8))
    fake.seed_metrics("eu", "acme.mail.example.eu", sent(200))
    proc = run(cli, project_dir, fake, "nordlys", "acme", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert domain_row(data, "nordlys-reiser.no")["status"] == "warn"
    assert domain_row(data, "acme.mail.example.eu")["status"] == "ok"


def test_bad_thresholds_are_one_line_naming_the_file(cli, project_dir, fake):
    stack = project_dir / "Pulumi.eu.yaml"
    stack.write_text(stack.read_text() + "  mailfleet:reputation:\n    bounce_warn: 6\n    bouce_fail: 1\n")
    proc = run(cli, project_dir, fake, "--all")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "config.mailfleet:reputation.bouce_fail: unknown field" in proc.stderr


def test_pages_followed_and_table(cli, project_dir, fake):
    for slug in ("acme", "alpine", "nordlys", "fjordbank", "berlinbikes"):
        fake.seed_metrics("eu", f"{slug}.mail.example.eu", sent(600))
    proc = run(cli, project_dir, fake, "--all", "--region", "eu", "--page-size", "2")
    assert proc.returncode == 0, proc.stderr
    # 5 EU tenants with mail on their platform domains: 3 pages of 2 (items only for domains with mail)
    assert fake.count("POST", METRICS, "eu") == 3 and fake.count(region="us") == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["tenant", "domain", "status"]
    assert any(line.split()[:3] == ["acme", "acme.mail.example.eu", "ok"] for line in lines)
    assert "fjordbank.no" in proc.stdout and "low-volume" in proc.stdout
    assert lines[-1].endswith("3 API calls")


def test_prometheus_exposition_parses(cli, project_dir, fake):
    fake.seed_metrics("eu", "nordlys-reiser.no", sent(2_000, bounced=10, complained=8))
    proc = run(cli, project_dir, fake, "nordlys", "--format", "prometheus")
    assert proc.returncode == 1
    families = {f.name: f for f in text_string_to_metric_families(proc.stdout)}
    assert families["mailfleet_reputation_delivered"].type == "gauge"
    sample = next(
        s
        for s in families["mailfleet_reputation_complaint_ratio"].samples
        if s.labels["domain"] == "nordlys-reiser.no"
    )
    assert sample.value == pytest.approx(0.004)
    assert sample.labels == {
        "tenant": "nordlys",
        "domain": "nordlys-reiser.no",
        "region": "eu",
        "stack": "eu",
    }
    status = {
        s.labels["status"]: s.value
        for s in families["mailfleet_reputation_status"].samples
        if s.labels["domain"] == "nordlys-reiser.no"
    }
    assert status == {"fail": 1, "error": 0, "warn": 0, "low-volume": 0, "ok": 0}
    thresholds = {
        (s.labels["kind"], s.labels["level"]): s.value
        for s in families["mailfleet_reputation_threshold_ratio"].samples
    }
    assert thresholds[("complaint", "fail")] == pytest.approx(0.003)
    assert families["mailfleet_reputation_window_seconds"].samples[0].value == 7 * 86400


def test_api_failure_is_no_verdict_exit_3_and_the_key_is_never_shown(cli, project_dir, fake):
    fake.inject(503, count=100, path=METRICS, region="eu")
    proc = run(cli, project_dir, fake, "acme", "--api-retries", "1", "--format", "json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    row = domain_row(json.loads(proc.stdout), "acme.mail.example.eu")
    assert row["status"] == "error" and "Mailgun metrics (EU region) failed" in row["reasons"][0]
    assert fake.api_key not in proc.stdout + proc.stderr


def test_usage_errors(cli, project_dir, fake):
    for args, words in (
        ((), "give one or more tenant SLUGs, or --all"),
        (("acme", "--since", "7w"), "--since: '7w' is not a window like 24h, 7d or 1m"),
        (("nobody",), "no tenant 'nobody'"),
    ):
        proc = run(cli, project_dir, fake, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr
    no_key = cli("--stacks-dir", str(project_dir), "reputation", "acme", env={"MAILGUN_API_KEY": ""})
    assert no_key.returncode == 2 and "needs MAILGUN_API_KEY" in no_key.stderr


def test_since_sets_duration_and_resolution(cli, project_dir, fake):
    fake.seed_metrics("eu", "acme.mail.example.eu", sent(900), at=datetime.now(UTC) - timedelta(hours=30))
    day = json.loads(run(cli, project_dir, fake, "acme", "--since", "24h", "--format", "json").stdout)
    assert domain_row(day, "acme.mail.example.eu")["delivered"] == 0
    week = json.loads(run(cli, project_dir, fake, "acme", "--since", "2d", "--format", "json").stdout)
    assert domain_row(week, "acme.mail.example.eu")["delivered"] == 900
    assert week["summary"]["since"] == "2d"


def test_progress_line_on_a_terminal_only(cli, project_dir, fake):
    fake.seed_metrics("eu", "acme.mail.example.eu", sent(10_000, bounced=50, complained=5))
    argv = ["--stacks-dir", str(project_dir), "reputation", "acme", "--format", "json"]
    code, stdout, terminal = run_on_pty(argv, project_dir, fake.env())
    assert code == 0, terminal
    assert "reading Mailgun metrics" in terminal
    assert json.loads(stdout)["format"] == "mailfleet-reputation/1"  # stdout: the data only
    piped = cli(*argv, env=fake.env())
    assert piped.returncode == 0 and json.loads(piped.stdout)["format"] == "mailfleet-reputation/1"
    assert piped.stderr == ""  # stderr not a terminal: no progress at all
