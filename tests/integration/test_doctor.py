"""`itsm doctor` against the demo devstack: a healthy customer, and broken set-ups side by side
(wrong Jira token, an aggregator that does not exist, a mapped field the site lacks)."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.integration.demo_fixtures import write_test_config


@pytest.fixture(scope="module")
def doctor_config(demo_env, demo_board, tmp_path_factory):
    directory = tmp_path_factory.mktemp("doctor")
    path = write_test_config(directory, evidence_per_customer=True)
    config = yaml.safe_load(path.read_text())
    good = config["customers"][0]
    config["customers"] += [
        {**good, "id": "bad-token", "name": "Wrong token Ltd", "jira_conn_id": "jira_bad_token"},
        {**good, "id": "no-aggregator", "name": "No Aggregator Ltd", "aggregator_name": "no-such-aggregator"},
        {
            **good,
            "id": "bad-field",
            "name": "Bad Field Ltd",
            "jira": {"fields": {"customer": "customfield_99999"}, "statuses": {"resolved": "Fixed"}},
        },
    ]
    path.write_text(yaml.safe_dump(config))
    bad = json.loads(os.environ["AIRFLOW_CONN_JIRA_DEFAULT"]) | {"password": "not-the-token"}
    os.environ["AIRFLOW_CONN_JIRA_BAD_TOKEN"] = json.dumps(bad)
    yield path
    os.environ.pop("AIRFLOW_CONN_JIRA_BAD_TOKEN", None)


def by(checks, customer, name):
    return next(c for c in checks if c.customer == customer and c.name == name)


def test_doctor_healthy_and_broken_setups(doctor_config, local_aws):
    from include.itsm.doctor import render, run_doctor

    checks = run_doctor(str(doctor_config))
    text = render(checks)
    assert checks[0].name == "config" and checks[0].status == "OK", text
    for name in (
        "jira.connection",
        "jira.mapping",
        "aws.connection",
        "aws.identity",
        "aws.organizations",
        "aws.assume-member",
        "aws.member-describe",
        "aws.config-aggregator",
        "evidence",
    ):
        assert by(checks, "kiwi-freight", name).status == "OK", text
    assert "Jira Cloud" in by(checks, "kiwi-freight", "jira.connection").detail
    assert "COUNT(*) EC2 instances = 117" in by(checks, "kiwi-freight", "aws.config-aggregator").detail
    assert next(c for c in checks if c.name == "airflow").status == "SKIP"  # ITSM_AIRFLOW_URL not set

    token = by(checks, "bad-token", "jira.connection")
    assert token.status == "FAIL" and "401" in token.detail and "API token" in token.fix
    assert by(checks, "bad-token", "jira.mapping").status == "SKIP"

    aggregator = by(checks, "no-aggregator", "aws.config-aggregator")
    assert aggregator.status == "FAIL" and "no-such-aggregator" in aggregator.detail
    assert "NoSuchConfigurationAggregator" in aggregator.detail and "create a Config aggregator" in aggregator.fix

    mapping = by(checks, "bad-field", "jira.mapping")
    assert (
        mapping.status == "FAIL" and "customfield_99999" in mapping.detail and "jira.fields.customer" in mapping.detail
    )
    assert "'Fixed' (jira.statuses.resolved)" in mapping.detail
    assert "FAIL jira.connection" in text and "fix: set the Jira connection" in text


def test_doctor_cli_json_and_exit_code(doctor_config, capsys):
    from include.itsm.cli import main

    assert main(["doctor", "--config", str(doctor_config), "--json"]) == 1
    out = capsys.readouterr().out  # the in-process board's access log shares stdout
    report, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "ok"') :])
    assert report["ok"] is False and {c["status"] for c in report["checks"]} == {"OK", "FAIL", "SKIP"}


def test_doctor_bad_configuration_stops_at_config(tmp_path):
    from include.itsm.doctor import run_doctor

    path = tmp_path / "itsm.yaml"
    path.write_text(yaml.safe_dump({"customers": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]}))
    checks = run_doctor(str(path))
    assert [c.status for c in checks] == ["FAIL"] and "evidence_per_customer" in checks[0].detail
