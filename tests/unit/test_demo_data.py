"""The demo data: valid ADF, coverage of every type/priority/service/env, OPS-180's spreadsheet,
the history's recurring patterns, and idempotent seeding of a board."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from include.itsm.devstack.demo import org
from include.itsm.devstack.demo.history import SLA_HOURS, history_incidents
from include.itsm.devstack.demo.seed import all_demo_tickets, local_instances, seed_board
from include.itsm.devstack.demo.spreadsheet import (
    COLUMNS,
    HEADER_ROW,
    SHEET_NAME,
    build_customer_spreadsheet,
    planned_instances,
    spreadsheet_rows,
)
from include.itsm.devstack.demo.tickets import (
    CHANGE_TYPES,
    ENVIRONMENTS,
    OPEN_STATUSES,
    PRIORITIES,
    SERVICES,
    SPREADSHEET_FILENAME,
    TICKET_TYPES,
    WORKED_EXAMPLE_KEY,
    demo_tickets,
    placeholder_instance_id,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
PREFIXES = ("blast:", "rca:", "ke:", "service:", "env:", "tier:")
TAXONOMY = {
    "blast": {"single-service", "single-account", "multi-account", "org-wide"},
    "rca": {"code-defect", "config-drift", "infra-failure", "human-error", "3rd-party"},
    "service": {"cloudops", "finops", "network", "identity", "compute"},
    "env": {"prod", "staging", "dev", "dr"},
    "tier": {"critical", "important", "best-effort"},
}
ORG_IDS = {a.account_id for a in org.ACCOUNTS}


@pytest.fixture(scope="module")
def tickets():
    return demo_tickets(now=NOW)


@pytest.fixture(scope="module")
def history():
    return history_incidents(NOW)


@pytest.fixture(scope="module")
def adf_validator():
    schema = json.loads((REPO / "include/itsm/devstack/specs/adf-schema-v1-full.json").read_text())
    return jsonschema.Draft4Validator(schema)


def _text(ticket) -> str:
    return json.dumps(ticket.description_adf, ensure_ascii=False)


def test_every_adf_document_validates(tickets, history, adf_validator):
    for t in tickets + history:
        for doc in [t.description_adf] + [c.body_adf for c in t.comments]:
            assert doc["type"] == "doc" and doc["version"] == 1
            errors = list(adf_validator.iter_errors(doc))
            assert not errors, f"{t.key}: {errors[0].message[:300]}"


def test_at_least_25_open_tickets_in_creation_order(tickets):
    assert len(tickets) >= 25
    assert all(t.status in OPEN_STATUSES and t.resolved is None for t in tickets)
    assert all(t.project == "OPS" for t in tickets)
    assert [t.created for t in tickets] == sorted(t.created for t in tickets)
    assert all(t.created < NOW for t in tickets)


def test_keys_unique_and_rise_with_creation(tickets, history):
    everything = all_demo_tickets(now=NOW)
    keys = [t.key for t in everything]
    assert len(keys) == len(set(keys)) == len(tickets) + len(history)
    assert [t.number for t in everything] == sorted(t.number for t in everything)


def test_every_type_priority_service_and_environment_is_covered(tickets):
    truths = [t.truth for t in tickets]
    assert {t.ticket_type for t in truths} == set(TICKET_TYPES)
    assert {t.change_type for t in truths if t.change_type} == set(CHANGE_TYPES)
    assert {t.priority for t in truths} == set(PRIORITIES)
    assert {t.priority for t in truths if t.ticket_type == "incident"} == set(PRIORITIES)
    assert {t.service for t in truths} == set(SERVICES)
    assert {t.environment for t in truths} == set(ENVIRONMENTS)
    assert {t.issue_type for t in tickets} == {"Incident", "Problem", "Change", "Service Request"}
    # some are filed with the wrong type, as real tickets are
    filed_as = {"Incident": "incident", "Problem": "problem", "Change": "change", "Service Request": "service_request"}
    assert any(filed_as[t.issue_type] != t.truth.ticket_type for t in tickets)
    emergency = [t for t in tickets if t.truth.change_type == "emergency"]
    assert emergency and all(t.truth.priority in ("P0", "P1") for t in emergency)
    p0 = [t for t in tickets if t.truth.priority == "P0" and t.truth.ticket_type == "incident"]
    assert p0 and all(t.truth.blast == "org-wide" and len(t.truth.account_ids) >= 3 for t in p0)


def test_ground_truth_ids_are_org_accounts_found_in_the_text(tickets, history):
    for t in tickets + history:
        text = _text(t) + t.summary
        digits_only = re.sub(r"[\s-]", "", text)
        for account_id in t.truth.account_ids:
            assert account_id in ORG_IDS, t.key
            assert account_id in digits_only, f"{t.key}: {account_id} not written in the text"
        for rid in t.truth.resource_ids:
            assert rid.lower() in text.lower(), f"{t.key}: {rid} not in the text"


def test_every_org_account_written_in_a_text_is_in_its_truth(tickets, history):
    for t in tickets + history:
        text = _text(t) + t.summary
        written = {re.sub(r"[ -]", "", m.group()) for m in re.finditer(r"(?<!\d)\d[\d -]{10,16}\d(?!\d)", text)}
        assert written & ORG_IDS == set(t.truth.account_ids), t.key


def test_the_texts_carry_the_realistic_traps(tickets):
    texts = {t.key: _text(t) for t in tickets}
    blob = "\n".join(texts.values())
    assert re.search(r"\b\d{4}-\d{4}-\d{4}\b", blob)  # dashed account id
    assert re.search(r"\b\d{3} \d{3} \d{3} \d{3}\b", blob)  # spaced account id
    assert re.search(r"arn:aws:iam::\d{12}:role/", blob)
    assert re.search(r"\d{12}\.signin\.aws\.amazon\.com", blob)
    assert re.search(r"I-0[0-9A-F]{16}", blob)  # upper-case instance id
    assert "\u2026" in blob  # a truncated id
    decoys = set(re.findall(r"(?<!\d)\d{12}(?!\d)", blob)) - ORG_IDS
    assert len(decoys) >= 3  # order/PO/phone numbers, timestamps, AWS-owned accounts
    assert re.search(r"ignore previous instructions", blob, re.I)
    assert "-----Original Message-----" in blob and "> From:" in blob  # forwarded / quoted threads
    assert "@channel" in blob and "[Triggered] PagerDuty" in blob and "CloudWatch Alarm" in blob
    assert "h2. " in blob and "{code" in blob and "||" in blob  # raw wiki markup
    assert "<p class=" in blob  # Outlook HTML
    assert "Hola equipo" in blob
    assert max(len(s) for s in texts.values()) > 200_000  # the huge pasted log


def test_ops_180_is_the_worked_example(tickets):
    t = next(t for t in tickets if t.key == WORKED_EXAMPLE_KEY)
    assert t.issue_type == "Change" and t.status == "Open"
    assert "service:ec2" in t.labels and "blast:multi-service" in t.labels
    assert timedelta(days=1) < NOW - t.created < timedelta(days=7)
    assert t.reporter.endswith("@kiwifreight.co.nz")
    text = _text(t)
    totals = org.totals()
    assert f"{totals['spreadsheet_instances']} instances across {totals['spreadsheet_accounts']} accounts" in text
    for name in org.EXPANSION_CANDIDATES:
        assert name in text
    assert t.truth.service == "compute" and t.truth.ticket_type == "change" and t.truth.change_type == "normal"
    assert set(t.truth.account_ids) == {org.account_by_name(n).account_id for n in org.EXPANSION_CANDIDATES}

    [attachment] = t.attachments
    assert attachment.filename == SPREADSHEET_FILENAME and attachment.filename.endswith(".xlsx")
    df = pd.read_excel(io.BytesIO(attachment.content), sheet_name=SHEET_NAME, header=HEADER_ROW, dtype=str)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == totals["spreadsheet_instances"] == 110
    assert df["Account ID"].nunique() == totals["spreadsheet_accounts"] == 16
    assert org.account_by_name("datalake-dev").account_id not in set(df["Account ID"])
    assert set(df["Account ID"]) <= ORG_IDS
    assert df["Instance ID"].str.fullmatch(r"i-[0-9a-f]{17}").all()
    assert df["Instance ID"].is_unique
    # the "as of" cell above the table
    head = pd.read_excel(io.BytesIO(attachment.content), sheet_name=SHEET_NAME, header=None, nrows=3)
    assert head.iloc[2, 0] == "As of" and pd.Timestamp(head.iloc[2, 1]).date() == org.SPREADSHEET_AS_OF.date()


def test_spreadsheet_rows_follow_the_seeder_agreement():
    rows = spreadsheet_rows()
    assert len(rows) == 110 and len({r.account_id for r in rows}) == 16
    planned = planned_instances()
    assert len(planned) == org.totals()["instances"]
    assert sum(p.late for p in planned) == org.totals()["late_launches"]
    prod_core = [p for p in planned if p.account.name == "prod-core"]
    assert [p.name for p in prod_core][:2] == ["prod-core-01", "prod-core-02"]
    assert prod_core[-1].late and prod_core[-1].name == f"prod-core-{len(prod_core):02d}"
    assert prod_core[1].region == prod_core[0].account.regions[1]


def test_spreadsheet_takes_the_ids_it_is_given_and_refuses_missing_ones():
    ids = {r.instance_name: f"i-{n:017x}" for n, r in enumerate(spreadsheet_rows())}
    df = pd.read_excel(io.BytesIO(build_customer_spreadsheet(ids)), header=HEADER_ROW, dtype=str)
    assert dict(zip(df["Instance Name"], df["Instance ID"])) == ids
    ids.pop("sandbox-01")
    with pytest.raises(KeyError):
        build_customer_spreadsheet(ids)


def test_instance_ids_flow_into_ticket_texts():
    ids = {p.name: f"i-{n:017x}" for n, p in enumerate(planned_instances())}
    t = next(t for t in demo_tickets(ids, NOW) if t.key == "OPS-161")
    assert ids["dev-apps-03"] in _text(t) and t.truth.resource_ids == (ids["dev-apps-03"],)
    assert placeholder_instance_id("dev-apps-03") not in _text(t)


def test_history_labels_and_timestamps(history):
    assert all(t.issue_type == "Incident" and t.resolved is not None for t in history)
    assert {t.status for t in history} <= {"Resolved", "Closed", "Pending PIR"}
    for t in history:
        labels = t.labels
        for prefix in PREFIXES:
            assert sum(label.startswith(prefix) for label in labels) == 1, (t.key, prefix)
        for label in labels:
            prefix, value = label.split(":", 1)
            if prefix == "ke":
                assert value == "none" or re.fullmatch(r"known-error-[0-9a-z-]+", value)
            else:
                assert value in TAXONOMY[prefix], label
        assert t.created < t.resolved < NOW
        transitions = [(c.from_string, c.to_string) for c in t.changelog if c.field == "status"]
        assert transitions[0] == ("Open", "In Progress") and transitions[-1][1] == t.status
        assert [c.created for c in t.changelog] == sorted(c.created for c in t.changelog)
        assert t.priority == t.truth.priority and f"rca:{t.truth.rca}" in labels


def test_history_has_the_bridge_patterns(history):
    window = [t for t in history if NOW - t.created <= timedelta(days=90)]
    pairs = Counter((_label(t, "service"), _label(t, "rca")) for t in window)
    assert pairs[("compute", "config-drift")] == 4
    assert pairs[("network", "3rd-party")] == 3
    assert max(pairs.values()) >= 3
    # the edge: three cloudops + infra-failure, only two of them inside 90 days
    cloudops = [t for t in history if (_label(t, "service"), _label(t, "rca")) == ("cloudops", "infra-failure")]
    ages = sorted((NOW - t.created).days for t in cloudops)
    assert len(cloudops) == 3 and 89 in ages and 91 in ages
    assert pairs[("cloudops", "infra-failure")] == 2
    # one P0, pending its PIR; some P0/P1 pending PIR
    p0 = [t for t in history if t.priority == "P0"]
    assert len(p0) == 1 and _label(p0[0], "blast") == "org-wide"
    assert any(t.status == "Pending PIR" for t in history if t.priority in ("P0", "P1"))
    # exactly one MTTR beyond 3x its SLA
    over = [t for t in history if (t.resolved - t.created) > timedelta(hours=3 * SLA_HOURS[t.priority])]
    assert len(over) == 1


def test_problems_link_to_their_incidents(tickets, history):
    keys = {t.key for t in tickets + history}
    links = [link for t in tickets + history for link in t.links]
    problem_links = [link for link in links if link.link_type == "Problem/Incident"]
    problems = {t.key for t in tickets if t.issue_type == "Problem"}
    assert problem_links and all(link.outward_key in problems for link in problem_links)
    assert all(link.outward_key in keys and link.inward_key in keys for link in links)
    assert {link.outward_key for link in problem_links} == problems


def _label(ticket, prefix: str) -> str:
    return next(label.split(":", 1)[1] for label in ticket.labels if label.startswith(prefix + ":"))


# --- seeding -------------------------------------------------------------------------------------


def test_seed_board_is_idempotent(tmp_path):
    store_module = pytest.importorskip(
        "include.itsm.devstack.board.store", reason="BoardStore (include/itsm/devstack/board/store.py) not written yet"
    )
    store = store_module.BoardStore(str(tmp_path / "board.sqlite"))
    ids = {p.name: placeholder_instance_id(p.name) for p in planned_instances()}
    seeded = seed_board(store, ids, now=NOW)
    everything = all_demo_tickets(ids, now=NOW)
    assert seeded == [t.key for t in everything]
    assert store.issue_count() == len(everything)
    links_before = store.links_of(WORKED_EXAMPLE_KEY) + store.links_of("OPS-160") + store.links_of("OPS-187")
    assert seed_board(store, ids, now=NOW) == []
    assert store.issue_count() == len(everything)
    assert store.links_of(WORKED_EXAMPLE_KEY) + store.links_of("OPS-160") + store.links_of("OPS-187") == links_before
    issue = store.get_issue(WORKED_EXAMPLE_KEY)
    assert issue["issue_type"] == "Change" and issue["status"] == "Open"
    [attachment] = store.attachments(issue["id"])
    assert attachment["filename"] == SPREADSHEET_FILENAME
    assert len(store.links_of("OPS-160")) == 4
    assert store.next_number("OPS") == max(t.number for t in everything) + 1
    store.close()


def test_seed_board_requires_instance_ids(tmp_path):
    with pytest.raises(ValueError):
        seed_board(object(), None)


def test_instance_ids_from_a_local_aws():
    """Over a real moto server: assume the member role, DescribeInstances, Name -> id."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="ap-southeast-2"
        )
        account = org.account_by_name("prod-core")
        creds = session.client("sts", endpoint_url=url).assume_role(
            RoleArn=f"arn:aws:iam::{account.account_id}:role/{org.MEMBER_ROLE_NAME}", RoleSessionName="test-demo"
        )["Credentials"]
        expected = {}
        for n, region in enumerate(account.regions):
            ec2 = session.client(
                "ec2",
                region_name=region,
                endpoint_url=url,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            [instance] = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
            name = f"{account.name}-{n + 1:02d}"
            ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "Name", "Value": name}])
            expected[name] = (instance["InstanceId"], region)
        assert local_instances(url, accounts=[account]) == expected
    finally:
        server.stop()


def test_seeded_board_serves_ops_180_and_its_spreadsheet(tmp_path):
    pytest.importorskip("include.itsm.devstack.board.server", reason="board server not written yet")
    import requests

    from include.itsm.devstack.board.catalog import BOT_TOKEN, BOT_USER
    from include.itsm.devstack.board.server import BoardServer

    server = BoardServer(str(tmp_path / "board.sqlite")).start()
    try:
        ids = {p.name: placeholder_instance_id(p.name) for p in planned_instances()}
        seed_board(server.store, ids, now=NOW)
        http = requests.Session()
        http.auth = (BOT_USER, BOT_TOKEN)
        issue = http.get(f"{server.url}/rest/api/3/issue/{WORKED_EXAMPLE_KEY}", timeout=10)
        issue.raise_for_status()
        fields = issue.json()["fields"]
        assert fields["issuetype"]["name"] == "Change" and fields["status"]["name"] == "Open"
        assert set(fields["labels"]) >= {"service:ec2", "blast:multi-service"}
        [attachment] = fields["attachment"]
        content = http.get(attachment["content"], timeout=10)
        content.raise_for_status()
        df = pd.read_excel(io.BytesIO(content.content), header=HEADER_ROW, dtype=str)
        assert len(df) == 110 and df["Account ID"].nunique() == 16
        found = http.post(
            f"{server.url}/rest/api/3/search/jql",
            timeout=10,
            json={"jql": "project = OPS AND statusCategory != Done", "maxResults": 100, "fields": ["key"]},
        )
        found.raise_for_status()
        assert len(found.json()["issues"]) >= 25
    finally:
        server.stop()
