"""`mailfleet blocklists` against a real Knot serving local copies of the list zones."""

from __future__ import annotations

import json

import pytest

from mailfleet.blocklists.lists import LISTED, UNKNOWN, ListFileError, load_lists, parse_lists
from mailfleet.blocklists.run import Target, ask_lists
from mailfleet.dns.resolver import Nameserver
from tests.blocklists.conftest import REFUSED_ZONE, TIMEOUT_ZONE
from tests.fakes.mailgun_server import FakeMailgun
from tests.ptyrun import run_on_pty

pytestmark = pytest.mark.knot


def run(cli, world, *args: str, env: dict[str, str] | None = None):
    argv = [
        "blocklists",
        *args,
        "--nameserver",
        world.ns,
        "--timeout",
        "0.3",
        "--retries",
        "0",
        "--format",
        "json",
    ]
    proc = cli(*argv, cwd=world.project_dir, env={"MAILGUN_API_KEY": "", **(env or {})})
    data = json.loads(proc.stdout) if proc.stdout.startswith("{") else None
    return proc, data


def target(data: dict, value: str) -> dict:
    return next(t for t in data["targets"] if t["target"] == value)


def on(row: dict, list_name: str) -> dict:
    return next(r for r in row["lists"] if r["list"] == list_name)


def test_every_documented_code_is_read_as_the_list_documents_it(list_world):
    targets = {t: Target(t, "ip" if t[0].isdigit() else "domain") for t in list_world.codes_target.values()}
    ask_lists(
        list(targets.values()),
        list_world.lists,
        Nameserver.parse(list_world.ns),
        timeout=0.3,
        retries=0,
        concurrency=50,
    )
    checked = 0
    for blocklist in list_world.lists:
        if blocklist.zone in (TIMEOUT_ZONE, REFUSED_ZONE):
            continue
        expected = {a: c.verdict for a, c in blocklist.codes.items()}
        expected.update({f"127.0.0.{bit}": LISTED for bit in blocklist.bitmask})
        for answer, verdict in expected.items():
            result = next(
                r
                for r in targets[list_world.codes_target[(blocklist.zone, answer)]].results
                if r.zone == blocklist.zone
            )
            assert result.answers == [answer]
            assert result.status == verdict, (blocklist.name, answer, result.meanings)
            checked += 1
    # Spamhaus's query errors are never "listed"
    zen = next(b for b in list_world.lists if b.zone == "zen.spamhaus.org")
    for code in ("127.255.255.252", "127.255.255.254", "127.255.255.255", "127.255.255.250"):
        assert zen.interpret(code).verdict == UNKNOWN
    assert checked >= 45


def test_tenants_ips_and_domains(cli, list_world):
    with FakeMailgun() as fake:
        fake.seed_domain("acme.mail.example.eu", "eu")
        fake.seed_domain("nordlys.mail.example.eu", "eu")
        fake.seed_domain("nordlys-reiser.no", "eu")
        fake.seed_shared_ips("eu", ["203.0.113.5"])  # shared by every EU domain: asked once
        proc, data = run(cli, list_world, "acme", "nordlys", "alpine", "fjordbank", env=fake.env())
        domain_ip_calls = fake.count("GET", "/v3/domains/acme.mail.example.eu/ips", "eu")
    assert proc.returncode == 1, proc.stderr
    assert domain_ip_calls == 1
    shared = target(data, "203.0.113.5")
    assert shared["status"] == "listed" and shared["sources"] == ["mailgun"]
    assert {"acme", "nordlys", "Mailgun EU account"} <= set(shared["owners"])
    zen = on(shared, "Spamhaus ZEN")
    assert zen["answers"] == ["127.0.0.3", "127.0.0.4"] and zen["status"] == "listed"
    assert zen["meanings"][1] == "XBL: exploited or infected host"
    assert on(shared, "Barracuda BRBL")["status"] == "listed"
    # the customer's own SMTP server (way 3)
    alpine = target(data, "198.51.100.25")
    assert alpine["sources"] == ["customer-smtp"] and alpine["owners"] == ["alpine"]
    assert on(alpine, "SpamCop")["status"] == "listed"
    # the stack's egress IP: Spamhaus refused a public resolver: could not tell, not listed
    egress = target(data, "192.0.2.10")
    assert egress["sources"] == ["stack-egress"] and egress["owners"] == ["stack eu"]
    assert on(egress, "Spamhaus ZEN")["status"] == "unknown"
    assert "public or open resolver" in on(egress, "Spamhaus ZEN")["meanings"][0]
    # timeouts and REFUSED: could not tell
    assert on(egress, "PSBL")["status"] == "unknown" and "no answer" in on(egress, "PSBL")["meanings"][0]
    assert (
        on(egress, "NiX Spam")["status"] == "unknown" and "REFUSED" in on(egress, "NiX Spam")["meanings"][0]
    )
    assert egress["status"] == "unknown"
    # domains against the domain lists only
    nordlys = target(data, "nordlys-reiser.no")
    assert nordlys["kind"] == "domain" and on(nordlys, "Spamhaus DBL")["status"] == "listed"
    assert {r["list"] for r in nordlys["lists"]} == {"Spamhaus DBL", "SURBL multi", "URIBL multi"}
    assert on(target(data, "fjordbank.no"), "Spamhaus DBL")["status"] == "unknown"
    acme = target(data, "acme.mail.example.eu")
    assert on(acme, "URIBL multi")["status"] == "listed"
    assert on(acme, "URIBL multi")["meanings"] == ["grey: bulk sender domains, possibly unsolicited"]
    assert data["summary"]["mailgun_checked"] is True
    assert data["summary"]["exit_code"] == 1


def test_only_could_not_tell_exits_3_and_clean_exits_0(cli, list_world):
    proc, data = run(cli, list_world, "fjordbank")  # DBL error code, EU egress error, timeouts
    assert proc.returncode == 3, proc.stdout
    assert data["summary"]["listed"] == 0 and data["summary"]["unknown"] >= 2
    assert data["summary"]["mailgun_checked"] is False
    # no timeouts, no error codes: a clean world exits 0
    lists = list_world.project_dir / "two-lists.yaml"
    lists.write_text(
        "lists:\n"
        "  - {name: SpamCop, zone: bl.spamcop.net, kind: ip, codes: {127.0.0.2: {verdict: listed, meaning: spam}}}\n"
        "  - {name: DBL, zone: dbl.spamhaus.org, kind: domain, codes: {127.0.1.2: {verdict: listed, meaning: spam}}}\n"
    )
    proc, data = run(cli, list_world, "lakeside", "--lists", str(lists))
    assert proc.returncode == 0, proc.stdout
    assert {t["status"] for t in data["targets"]} == {"clean"}


def test_dedicated_ips_from_the_files_are_checked_without_a_key(cli, list_world, tmp_path):
    import shutil

    project = tmp_path / "p"
    shutil.copytree(list_world.project_dir, project)
    path = project / "tenants" / "lakeside.yaml"
    path.write_text(path.read_text() + "mailgun_ips:\n  ips: [203.0.113.5]\n")
    proc = cli(
        "blocklists", "lakeside", "--nameserver", list_world.ns, "--timeout", "0.3", "--retries", "0",
        "--format", "json", cwd=project, env={"MAILGUN_API_KEY": ""},
    )  # fmt: skip
    data = json.loads(proc.stdout)
    row = target(data, "203.0.113.5")
    assert row["sources"] == ["mailgun"] and row["owners"] == ["lakeside"] and row["status"] == "listed"
    assert proc.returncode == 1


def test_bitmask_answers(cli, list_world):
    proc, data = run(cli, list_world, "harbor", "berlinbikes", "redwood")
    assert proc.returncode == 1  # harborlogistics.com is listed
    harbor = on(target(data, "harborlogistics.com"), "SURBL multi")
    assert harbor["status"] == "listed" and harbor["meanings"] == [
        "PH: phishing; ABUSE: spam and other abuse"
    ]
    blocked = on(target(data, "berlinbikes.de"), "SURBL multi")
    assert blocked["status"] == "unknown" and "access blocked" in blocked["meanings"][0]
    odd = on(target(data, "redwood-outdoors.com"), "SURBL multi")
    assert odd["status"] == "unknown" and "not a return code SURBL multi documents" in odd["meanings"][0]
    drone = on(target(data, "198.51.100.20"), "DroneBL")
    assert drone["status"] == "unknown"


def test_shared_names_are_asked_once(cli, list_world):
    proc, data = run(cli, list_world, "--all")
    assert proc.returncode == 1
    lists = data["lists"]
    ip_lists = sum(1 for b in lists if b["kind"] == "ip")
    domain_lists = len(lists) - ip_lists
    ips, domains = data["summary"]["ips"], data["summary"]["domains"]
    # every EU tenant shares the stack's egress IPs; each (target, list) is one query
    assert data["summary"]["dns_queries"] == ips * ip_lists + domains * domain_lists
    assert len(target(data, "192.0.2.10")["owners"]) == 1


def test_table_and_usage(cli, list_world):
    proc = cli(
        "blocklists",
        "alpine",
        "--nameserver",
        list_world.ns,
        "--timeout",
        "0.3",
        "--retries",
        "0",
        cwd=list_world.project_dir,
        env={"MAILGUN_API_KEY": ""},
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["target", "kind", "status", "owners", "lists"]
    assert lines[1].startswith("198.51.100.25") and "SpamCop: listed" in lines[1]
    assert "Mailgun IPs not asked (no MAILGUN_API_KEY)" in lines[-1]
    for args, words in (
        ((), "give one or more tenant SLUGs, or --all"),
        (("acme", "--nameserver", "ns1.example"), "--nameserver:"),
        (("acme", "--lists", "/nonexistent.yaml"), "--lists:"),
    ):
        proc = cli("blocklists", *args, cwd=list_world.project_dir)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lists: []", "non-empty"),
        ("lists: [{name: x, zone: z.example, kind: asn, codes: {}}]", "lists.0.kind"),
        ("lists: [{name: x, zone: z.example, kind: ip}]", "needs codes or bitmask"),
        ("lists: [{name: x, zone: z.example, kind: ip, codes: {127.0.0.2: {verdict: bad}}}]", "verdict"),
        ("lists: [{name: x, zone: z.example, kind: ip, bitmask: {3: x}}]", "single bit"),
        ("lists: [{name: x, zone: z.example, kind: ip, codez: {}}]", "lists.0.codez: unknown field"),
    ],
)
def test_list_file_errors(text, words):
    import yaml

    with pytest.raises(ListFileError) as info:
        parse_lists(yaml.safe_load(text), "f.yaml")
    assert words in str(info.value)


def test_query_names():
    zen = next(b for b in load_lists() if b.zone == "zen.spamhaus.org")
    assert zen.query_name("192.0.2.10") == "10.2.0.192.zen.spamhaus.org"
    assert zen.query_name("2001:db8::1") == "1.0.0.0." + "0." * 20 + "8.b.d.0.1.0.0.2.zen.spamhaus.org"
    assert len(load_lists()) == 10


def test_progress_line_on_a_terminal_only(cli, list_world):
    # fjordbank waits on timeouts: a person would see nothing for seconds without it
    argv = ["blocklists", "fjordbank", "--nameserver", list_world.ns, "--timeout", "0.3", "--retries", "0"]
    argv += ["--format", "json"]
    code, stdout, terminal = run_on_pty(argv, list_world.project_dir, {"MAILGUN_API_KEY": ""})
    assert code == 3, terminal
    assert "checking blocklists" in terminal
    assert json.loads(stdout)["summary"]["unknown"] >= 2  # stdout: the data only
    proc, data = run(cli, list_world, "fjordbank")
    assert proc.returncode == 3 and data is not None
    assert "checking blocklists" not in proc.stderr  # stderr not a terminal: no progress
