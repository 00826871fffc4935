"""The IAM policies in deploy/iam/ grant exactly the AWS operations the code calls: nothing more, nothing less.

The set is recorded, not guessed: a representative run on the demo devstack (the nightly sweep, then
every lifecycle step's run and apply, in preview and execute, for a change (OPS-180's copy) and an
incident (OPS-192), plus `itsm doctor`) with the local AWS front's call log (`/_devstack/calls`:
service, operation, access key). Calls are attributed to principals by access key: the discovery
connection's key, the operations connection's key, and member-role sessions (temporary keys, resolved
to their role session name with sts:GetCallerIdentity: `itsm-readonly`/`itsm-doctor` are the discovery
principal's, `itsm-operations` the operations principal's). A static scan of the source for boto3
client calls cross-checks the recorded operations.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore import xform_name

REPO_ROOT = Path(__file__).resolve().parents[2]
IAM_DIR = REPO_ROOT / "deploy" / "iam"
OPERATIONS_KEY = "operationstesting"
# The call log's service is the SigV4 signing name; IAM prefixes differ for a few.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# Operations whose IAM action is not named like the API operation.
IAM_ACTION = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketLifecycle"): "s3:GetLifecycleConfiguration",
}
DISCOVERY_SESSIONS = ("itsm-readonly", "itsm-doctor")
# Called by step 8 (govern) in member accounts, but moto lacks it and the local AWS answers 500 before the
# call reaches its log; the static scan below proves the code calls it.
UNLOGGED = {"member-read": {"config:DescribeComplianceByConfigRule"}}


def iam_action(service: str, operation: str) -> str:
    prefix = IAM_PREFIX.get(service, service)
    return IAM_ACTION.get((prefix, operation), f"{prefix}:{operation}")


def policy_actions(name: str) -> set[str]:
    document = json.loads((IAM_DIR / name).read_text())
    assert document["Version"] == "2012-10-17"
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement, name
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in a for a in listed), f"{name}: wildcard action in {listed}"
        actions |= set(listed)
    return actions


def session_of(endpoint: str, access_key: str) -> str:
    """The role session name of a temporary key (the local AWS answers without checking signatures)."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="ap-southeast-2",
        aws_access_key_id=access_key,
        aws_secret_access_key="unused",
    )
    return sts.get_caller_identity()["Arn"].rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def recorded(demo_env, demo_board, local_aws, tmp_path_factory):
    """(principal, iam action) pairs of a representative run: sweep, steps 4-8 run/apply, incident, doctor."""
    from include.itsm.adapters import aws as aws_adapter
    from include.itsm.config import settings
    from include.itsm.doctor import run_doctor
    from include.itsm.steps.cross_validate import service as cv
    from include.itsm.steps.decide import service as decide
    from include.itsm.steps.govern import service as govern
    from include.itsm.steps.implement import service as implement
    from include.itsm.steps.operate import service as operate
    from include.itsm.sweep import run_sweep
    from include.itsm.wiring import run_context
    from tests.conftest import evidence_store
    from tests.integration.test_steps_4_to_8 import approve, copy_ticket, go_decisions

    saved = os.environ.get("AIRFLOW_CONN_AWS_OPERATIONS")
    ops = json.loads(saved) | {"login": OPERATIONS_KEY}
    os.environ["AIRFLOW_CONN_AWS_OPERATIONS"] = json.dumps(ops)
    store = evidence_store(f"file://{tmp_path_factory.mktemp('iam-evidence')}")
    runs = iter(range(1000))

    def ctx(execute=False, actor="user:sre-engineer"):
        return run_context(settings(), f"iam{next(runs):03d}", execute=execute, actor=actor, evidence=store)

    created = []
    local_aws.clear_calls()
    try:
        run_sweep(ctx())
        change = copy_ticket(ctx(), demo_board, "OPS-180")
        created.append(change)
        from include.itsm.steps.assess import assess_ticket
        from include.itsm.steps.discover.service import current_snapshot

        c = ctx()
        snapshot = current_snapshot(c)
        for key in (change, "OPS-192"):
            assess_ticket(c, c.jira.get_ticket(key), snapshot)
        decisions = {"evidence": approve("evidence", "qa-engineer")} | go_decisions()
        decisions |= {
            "change": approve("change", "change-manager"),
            "cab_1": approve("cab_1", "cab-1"),
            "cab_2": approve("cab_2", "cab-2"),
            "alarms": approve("alarms", "service-owner"),
            "governance": approve("governance", "governance"),
        }
        for module, gates in (
            (cv, ["evidence"]),
            (decide, ["window"]),
            (implement, ["change", "cab_2"]),
            (operate, ["alarms"]),
            (govern, ["governance"]),
        ):
            module.run(ctx(), change)
            for gate in gates:
                module.apply(ctx(), change, gate, decisions)
                result = module.apply(ctx(execute=True), change, gate, decisions)
                for value in (result.get("change_issue"), *(result.get("subtasks") or {}).values()):
                    if value:
                        created.append(value)
        # the per-account fallback (CROSS_ACCOUNT_SILENT_ZERO) for every resource type, in one member account
        from include.itsm.devstack.demo import org
        from include.itsm.steps.discover.domain import ALL_RESOURCE_TYPES
        from include.itsm.steps.discover.service import per_account

        per_account(ctx(), org.PILOT_ACCOUNT.account_id, list(ALL_RESOURCE_TYPES))
        cv.run(ctx(), "OPS-192")  # incident sources: alarms, metrics, Config history, timeline
        cv.apply(ctx(), "OPS-192", "evidence", decisions)
        run_doctor()
        calls = local_aws.calls()
    finally:
        closer = ctx(execute=True)
        for key in created:
            try:
                closer.jira.transition(key, "Closed")
            except Exception:  # noqa: BLE001 - best effort, keeps the shared board's open set clean
                pass
        os.environ["AIRFLOW_CONN_AWS_OPERATIONS"] = saved
        aws_adapter._sessions.clear()
    sessions = {}
    out = defaultdict(set)
    for call in calls:
        key = call["access_key_id"]
        if key == "testing":
            principal = "discovery"
        elif key == OPERATIONS_KEY:
            principal = "operations"
        else:
            if key not in sessions:
                sessions[key] = session_of(local_aws.endpoint_url, key)
            principal = "member-read" if sessions[key] in DISCOVERY_SESSIONS else "member-operations"
            assert sessions[key] in (*DISCOVERY_SESSIONS, "itsm-operations"), sessions[key]
        out[principal].add(iam_action(call["service"], call["operation"]))
    for principal, actions in UNLOGGED.items():
        out[principal] |= actions
    return out


def test_discovery_role_is_exactly_the_read_calls(recorded):
    needed = recorded["discovery"] | recorded["member-read"]
    assert policy_actions("discovery-role.json") == needed
    assert all(
        a.split(":", 1)[1].startswith(("Describe", "List", "Get", "Select", "Lookup"))
        or a in {"sts:AssumeRole", "sts:GetCallerIdentity"}
        for a in needed
    )


def test_member_read_role_is_exactly_what_member_sessions_read(recorded):
    assert policy_actions("member-read-role.json") == recorded["member-read"]


def test_operations_role_is_exactly_the_alarm_writes(recorded):
    assert policy_actions("operations-role.json") == recorded["operations"] | recorded["member-operations"]
    assert policy_actions("member-operations-role.json") == recorded["member-operations"]
    assert recorded["member-operations"] == {"cloudwatch:PutMetricAlarm"}
    assert not any(a.startswith("cloudwatch:Put") for a in recorded["discovery"] | recorded["member-read"])


def test_trust_policies_name_the_principals():
    for name, principal in (
        ("member-read-role-trust.json", "ITSMDiscovery"),
        ("member-operations-role-trust.json", "ITSMOperations"),
    ):
        document = json.loads((IAM_DIR / name).read_text())
        (statement,) = document["Statement"]
        assert statement["Action"] == "sts:AssumeRole" and principal in json.dumps(statement["Principal"])


def _static_operations() -> set[tuple[str, str]]:
    """(service, Operation) for every boto3 client method or paginator the product source names."""
    source = "\n".join(
        p.read_text()
        for p in (REPO_ROOT / "include" / "itsm").rglob("*.py")
        if "devstack" not in p.relative_to(REPO_ROOT).parts and p.name not in ("evidence.py", "manifest_store.py")
    )  # the evidence principal's buckets (evidence, manifest): their own policy
    services = set(re.findall(r"""\.client\(\s*["']([a-z0-9-]+)["']""", source))
    session = botocore.session.get_session()
    found = set()
    for service in services:
        for operation in session.get_service_model(service).operation_names:
            snake = xform_name(operation)
            if re.search(rf"""\.{snake}\(|get_paginator\(\s*["']{snake}["']""", source):
                found.add((service, operation))
    return found


def test_static_scan_agrees_with_the_recording(recorded):
    static = {iam_action(service, op) for service, op in _static_operations()}
    dynamic = set().union(*recorded.values())
    assert static == dynamic, {"only in source": static - dynamic, "only recorded": dynamic - static}
