"""Least privilege, proven: no mutating AWS call through aws_default, no sprint call, no apply without an
approved gate, no secret in evidence or logs. (Self-approval and one person approving two parties are refused
at unit level in tests/integration/test_steps_4_to_8.py::test_go_no_go_refusals_and_success; the report page
refuses unauthenticated requests in tests/e2e/test_bridge_e2e.py.)"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from include.itsm.adapters.aws import READ_OPERATIONS
from include.itsm.sweep import run_sweep
from tests.conftest import TEST_AUDIT_KEY, unregister_board
from tests.faults.conftest import aws_access, fault_settings, jira_adapter, make_ctx, seed_batch

SPEC = json.load(open("include/itsm/devstack/specs/jira-software-agile.json"))
SECRET_TOKEN = "zz-secret-jira-token-7f3a9c"
SECRET_AWS = "zz-secret-aws-key-51bd20"


# The front's call log names calls by SigV4 signing name and, for S3, by method and path.
FRONT_NAMES = {"monitoring": "cloudwatch", ("s3", "GetBucketLifecycle"): ("s3", "GetBucketLifecycleConfiguration")}


def _is_read(service: str, operation: str) -> bool:
    service = FRONT_NAMES.get(service, service)
    return FRONT_NAMES.get((service, operation), (service, operation)) in READ_OPERATIONS


def test_the_sweep_sends_only_reads_through_aws_default(private_board, local_aws, tmp_path):
    seed_batch(private_board.store, 3)
    local_aws.clear_calls()
    ctx = make_ctx(
        fault_settings(tmp_path),
        execute=True,
        aws=aws_access(local_aws.endpoint_url, local_aws),
        jira=jira_adapter(private_board.url, private_board, execute=True),
    )
    assert run_sweep(ctx).failed == 0
    writes = [c for c in local_aws.calls() if not _is_read(c["service"], c["operation"])]
    assert writes == []
    assert all(_is_read(*k.split(":", 1)) for k in ctx.aws.api_calls)


def test_writes_through_the_read_only_connection_are_refused_before_sending(local_aws):
    from include.itsm.adapters.aws import ReadOnlyViolation

    local_aws.clear_calls()
    access = aws_access(local_aws.endpoint_url, local_aws)
    for call in (
        lambda: access.client("cloudwatch").put_metric_alarm(AlarmName="x"),
        lambda: access.client("ec2").stop_instances(InstanceIds=["i-1"]),
        lambda: access.client("sts").get_session_token(),
    ):
        with pytest.raises(ReadOnlyViolation):
            call()
    assert local_aws.calls() == []  # never left the process


def test_mutating_calls_only_come_from_the_operations_key(local_aws):
    """The only write path (step 7) uses aws_operations: given its own access key, the call log proves it."""
    from include.itsm.adapters.aws import AwsAccess

    local_aws.clear_calls()
    operations = AwsAccess(
        aws_access(local_aws.endpoint_url, local_aws, access_key="operations").settings, read_only=False
    )
    operations.client("cloudwatch").put_metric_alarm(
        AlarmName="itsm-least-privilege-probe",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=90,
        ComparisonOperator="GreaterThanThreshold",
    )
    writes = [c for c in local_aws.calls() if not _is_read(c["service"], c["operation"])]
    assert writes and {c["access_key_id"] for c in writes} == {"operations"}
    operations.client("cloudwatch").delete_alarms(AlarmNames=["itsm-least-privilege-probe"])


@pytest.mark.parametrize("path", [p for p in SPEC["paths"] if "sprint" in p][:6] + ["/rest/greenhopper/1.0/sprint/1"])
def test_the_board_refuses_agile_sprint_endpoints(private_board, path):
    unregister_board(private_board)  # these attempts are the probe's, not the product's
    url = private_board.url + path.replace("{boardId}", "1").replace("{sprintId}", "1").replace("{propertyKey}", "k")
    response = private_board.http.post(url, json={"issues": ["OPS-1"]}, timeout=10)
    assert response.status_code == 403
    assert private_board.sprint_attempts()


def test_writing_the_sprint_field_is_refused(private_board):
    unregister_board(private_board)
    (key,) = seed_batch(private_board.store, 1)
    from include.itsm.devstack.board import catalog

    response = private_board.http.put(
        f"{private_board.url}/rest/api/3/issue/{key}", json={"fields": {catalog.SPRINT_FIELD: 1}}, timeout=10
    )
    assert response.status_code >= 400 and private_board.sprint_attempts()


def test_apply_gate_refuses_without_an_approved_decision(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from include.itsm.airflow import lifecycle_tasks
    from include.itsm.steps import GateDecision

    rejected = GateDecision(
        gate="labels",
        approved=False,
        user_id="sre-lead",
        user_name="sre-lead",
        at=datetime.now(UTC),
        outcome="rejected",
    )
    for decisions in ({}, {"labels": rejected}):
        monkeypatch.setattr(lifecycle_tasks, "read_decisions", lambda *a, d=decisions, **k: d)
        applied = []
        monkeypatch.setattr(lifecycle_tasks, "service", lambda step, applied=applied: applied.append(step))
        with pytest.raises(AirflowFailException, match="not approved: nothing is applied"):
            lifecycle_tasks.apply_gate(
                "OPS-1", "classify", "labels", ["labels"], params={"steps": ["classify"], "execute": True}
            )
        assert applied == []


def test_lifecycle_execute_only_triggers_airflow(monkeypatch, capsys):
    """`itsm lifecycle --execute` sends nothing itself: it triggers the lifecycle run through the REST API."""
    from include.itsm.adapters import airflow_api
    from include.itsm.cli import main
    from include.itsm.lifecycle import run as lifecycle_run

    triggered = []
    monkeypatch.setattr(airflow_api.AirflowApi, "from_env", classmethod(lambda cls: "api"))
    monkeypatch.setattr(
        lifecycle_run,
        "trigger",
        lambda ctx, api, key, steps, reason: (
            triggered.append((api, key))
            or lifecycle_run.LifecycleTriggered(
                dag_id="itsm_lifecycle__OPS-1",
                run_id="r",
                logical_date="2026-12-07T00:00:00Z",
                steps=["classify"],
                gates=["labels"],
            )
        ),
    )
    monkeypatch.setattr(lifecycle_run, "preview", lambda *a, **k: pytest.fail("preview ran in execute mode"))
    assert main(["lifecycle", "OPS-1", "--execute"]) == 0
    assert triggered == [("api", "OPS-1")]
    assert "itsm approve OPS-1 --gate labels" in capsys.readouterr().out


def test_connection_secrets_never_reach_evidence_or_logs(private_board, local_aws, tmp_path, caplog):
    """Distinctive secrets in the connections (and the audit key); the evidence and anchor stores and captured logs
    never show them."""
    seed_batch(private_board.store, 2)
    caplog.set_level(logging.DEBUG)
    jira = jira_adapter(private_board.url, private_board, execute=False)
    jira.client.session.auth = (private_board.user, private_board.token)  # the board checks the real token
    jira.client.password = SECRET_TOKEN  # what a leak would print
    aws = aws_access(local_aws.endpoint_url, local_aws)
    aws._credentials = {**aws._credentials, "aws_secret_access_key": SECRET_AWS}
    aws.settings = aws.settings.model_copy(update={"aws_secret_access_key": SECRET_AWS})
    ctx = make_ctx(fault_settings(tmp_path), jira=jira, aws=aws)
    run_sweep(ctx)
    audited = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            audited += "audit-anchors" in path.parts
            for secret in (SECRET_TOKEN, SECRET_AWS, TEST_AUDIT_KEY):  # the audit key signs entries, never in them
                assert secret.encode() not in data, path
    assert audited  # the sweep's audit entries were anchored
    assert not any(secret in caplog.text for secret in (SECRET_TOKEN, SECRET_AWS, TEST_AUDIT_KEY))
