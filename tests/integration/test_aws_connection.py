"""AWS sessions come from the Airflow connection the way the Amazon provider builds them.

moto accepts any role in any account, so every assertion here checks which principal AWS says the
call really ran as (GetCallerIdentity through the same session), not only that the call worked.
"""

from __future__ import annotations

import json

import pytest

from include.itsm.adapters.aws import AwsAccess, AwsSettings, ReadOnlyViolation
from include.itsm.adapters.aws_reads import AwsReads
from include.itsm.config import Customer, Settings
from include.itsm.devstack.demo import org
from include.itsm.doctor import render, run_doctor
from include.itsm.wiring import Connections

DISCOVERY_ROLE = f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/ITSMDiscovery"
MEMBER = org.PILOT_ACCOUNT.account_id


def _connection(local_aws, monkeypatch, conn_id: str, **extra) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": local_aws.access_key_id,
                "password": local_aws.secret_access_key,
                "extra": {
                    "endpoint_url": local_aws.endpoint_url,
                    "region_name": local_aws.region,
                    # the provider never sends role assumption to the global endpoint_url: STS's own
                    "service_config": {"sts": {"endpoint_url": local_aws.endpoint_url}},
                    **extra,
                },
            }
        ),
    )


def test_role_arn_in_the_extra_is_assumed_and_the_guard_sits_on_that_session(local_aws, monkeypatch):
    _connection(
        local_aws,
        monkeypatch,
        "aws_role_a",
        role_arn=DISCOVERY_ROLE,
        assume_role_kwargs={"ExternalId": "itsm-kiwi"},
        member_role_name="ITSMMemberReadFromConnection",
    )
    settings = AwsSettings.from_connection("aws_role_a")
    assert (settings.role_arn, settings.endpoint_url, settings.region_name) == (
        DISCOVERY_ROLE,
        local_aws.endpoint_url,
        local_aws.region,
    )
    reads = AwsReads(AwsAccess(settings, member_role_name="FromCustomerConfig"))
    who = reads.identity()
    assert who.role == "ITSMDiscovery" and who.account_id == org.MANAGEMENT_ACCOUNT_ID, who.arn
    member = reads.identity(MEMBER)  # the hop uses the connection's member role, not the customer's
    assert (member.account_id, member.role) == (MEMBER, "ITSMMemberReadFromConnection"), member.arn
    local_aws.clear_calls()
    with pytest.raises(ReadOnlyViolation):
        reads.access.client("ec2").stop_instances(InstanceIds=["i-0123456789abcdef0"])
    with pytest.raises(ReadOnlyViolation):
        reads.access.in_account(MEMBER).client("ec2").stop_instances(InstanceIds=["i-0123456789abcdef0"])
    assert not [c for c in local_aws.calls() if c["operation"] == "StopInstances"]  # never left the process


def test_member_role_precedence_connection_then_customer_then_least_privilege_default(local_aws, monkeypatch):
    _connection(local_aws, monkeypatch, "aws_role_b", role_arn=DISCOVERY_ROLE)
    settings = AwsSettings.from_connection("aws_role_b")
    assert AwsReads(AwsAccess(settings, member_role_name="ConfiguredRole")).identity(MEMBER).role == "ConfiguredRole"
    assert AwsReads(AwsAccess(settings)).identity(MEMBER).role == "ITSMMemberRead"  # never the admin role
    writer = AwsAccess(settings, read_only=False)
    assert writer.member_role_name == "ITSMMemberOperations"


def test_wiring_builds_each_customers_reads_from_its_own_connection(local_aws, monkeypatch):
    _connection(local_aws, monkeypatch, "aws_role_c", role_arn=DISCOVERY_ROLE)
    customer = Customer(id="c", name="C", aws_conn_id="aws_role_c", member_role_name="CustomerMemberRole")
    aws = Connections(Settings(customers=[customer]), customer, execute=False).aws
    assert aws.identity().role == "ITSMDiscovery"
    assert aws.identity(MEMBER).role == "CustomerMemberRole"


def test_doctor_names_the_roles_it_really_used(local_aws, monkeypatch, tmp_path):
    _connection(local_aws, monkeypatch, "aws_role_d", role_arn=DISCOVERY_ROLE, member_role_name="ITSMMemberRead")
    config = tmp_path / "itsm.yaml"
    config.write_text(
        "customers:\n"
        "  - id: d\n    name: D\n    aws_conn_id: aws_role_d\n    jira_conn_id: jira_absent\n"
        f"    aggregator_name: {org.AGGREGATOR_NAME}\n    regions: [{local_aws.region}]\n"
        f"runtime:\n  evidence_root: file://{tmp_path / 'evidence'}\n"
    )
    checks = {c.name: c for c in run_doctor(str(config))}
    assert checks["aws.identity"].status == "OK" and "assumed role ITSMDiscovery" in checks["aws.identity"].detail
    assert checks["aws.assume-member"].status == "OK"
    assert "via role ITSMMemberRead" in checks["aws.assume-member"].detail
    assert "ITSMMemberRead" in render(list(checks.values()))
