"""Step 2 on the local AWS: org-wide first, the per-account fallback, failures recorded, paging."""

from __future__ import annotations

import math

import pytest

from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.adapters.aws_reads import AwsReads
from include.itsm.config import Customer, Settings
from include.itsm.context import RunContext
from include.itsm.devstack.demo import org
from include.itsm.steps.discover.service import discover_ticket, take_org_snapshot
from include.itsm.steps.intake.domain import Extracted, IntakeResult, Span
from include.itsm.wiring import run_context
from tests.conftest import evidence_store
from tests.integration.aws_fixtures import faults

STANDARD = set(org.STANDARD_ENV_VALUES)
NETWORK_HUB = org.account_by_name("network-hub")


def _settings(local_aws) -> AwsSettings:
    return AwsSettings(
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=local_aws.access_key_id,
        aws_secret_access_key=local_aws.secret_access_key,
    )


def _context(local_aws, tmp_path, aggregator: str = org.AGGREGATOR_NAME) -> RunContext:
    customer = Customer(id="kiwi", name=org.ORG_NAME, aggregator_name=aggregator, regions=list(org.REGIONS))
    return run_context(
        Settings(customers=[customer]),
        "test-run",
        aws=AwsReads(AwsAccess(_settings(local_aws))),
        evidence=evidence_store(f"file://{tmp_path}"),
    )


def _intake(service: str, *accounts: str) -> IntakeResult:
    return IntakeResult(
        service=service,
        account_ids=[Extracted(value=a, kind="account", span=Span(start=0, end=12, quote=a)) for a in accounts],
    )


@pytest.fixture(scope="module")
def partial_aggregator(local_aws) -> str:
    """An aggregator that lost one account: the org-wide path then silently shows it empty."""
    writer = AwsAccess(_settings(local_aws), read_only=False)
    members = [a.account_id for a in org.ACCOUNTS if a is not NETWORK_HUB]
    writer.client("config").put_configuration_aggregator(
        ConfigurationAggregatorName="partial-aggregator",
        AccountAggregationSources=[{"AccountIds": members, "AllAwsRegions": True}],
    )
    return "partial-aggregator"


def test_org_snapshot_counts_the_organisation_in_few_calls(local_aws, tmp_path):
    snapshot = take_org_snapshot(_context(local_aws, tmp_path))
    instances = [r for r in snapshot.resources if r.resource_type == "AWS::EC2::Instance"]
    assert len(instances) == 117 and len({r.account_id for r in instances}) == 17
    late = [r for r in instances if r.launch_time > org.SPREADSHEET_AS_OF]
    assert len(late) == org.totals()["late_launches"]
    assert snapshot.api_calls["config:SelectAggregateResourceConfig"] == math.ceil(len(snapshot.resources) / 100)
    assert not snapshot.errors


def test_zero_from_the_org_wide_path_is_checked_per_account(local_aws, tmp_path, partial_aggregator):
    ctx = _context(local_aws, tmp_path, partial_aggregator)
    snapshot = take_org_snapshot(ctx)
    discovery = discover_ticket(ctx, "OPS-1", _intake("compute", NETWORK_HUB.account_id), snapshot, STANDARD)
    (fallback,) = discovery.fallbacks
    assert (fallback.account_id, fallback.org_wide_count, fallback.per_account_count) == (
        NETWORK_HUB.account_id,
        0,
        NETWORK_HUB.instances,
    )
    assert fallback.provenance.source == "aws:per-account"
    assert discovery.resource_count == NETWORK_HUB.instances and discovery.gate["zero_results_cross_checked"]


def test_access_denied_in_one_account_is_recorded_never_a_silent_zero(local_aws, tmp_path, partial_aggregator):
    ctx = _context(local_aws, tmp_path, partial_aggregator)
    snapshot = take_org_snapshot(ctx)
    with faults(
        local_aws,
        {
            "service": "sts",
            "operation": "AssumeRole",
            "account_id": NETWORK_HUB.account_id,
            "code": "AccessDenied",
            "status": 403,
            "message": "not authorized to assume role",
        },
    ):
        discovery = discover_ticket(ctx, "OPS-2", _intake("compute", NETWORK_HUB.account_id), snapshot, STANDARD)
    (fallback,) = discovery.fallbacks
    assert fallback.per_account_count is None
    (error,) = discovery.errors
    assert (error.account_id, error.operation, error.code) == (NETWORK_HUB.account_id, "sts:AssumeRole", "AccessDenied")
    assert not discovery.gate["zero_results_cross_checked"] and not discovery.gate["every_account_readable"]


def test_throttled_aggregator_queries_are_retried(local_aws, tmp_path):
    local_aws.clear_calls()
    with faults(
        local_aws,
        {
            "service": "config",
            "operation": "SelectAggregateResourceConfig",
            "code": "ThrottlingException",
            "status": 400,
            "count": 2,
        },
    ):
        snapshot = take_org_snapshot(_context(local_aws, tmp_path))
    assert not snapshot.errors and len(snapshot.resources) > 117
    statuses = [c["status"] for c in local_aws.calls() if c["operation"] == "SelectAggregateResourceConfig"]
    assert statuses[:3] == [400, 400, 200]


@pytest.mark.timeout(120)
def test_org_snapshot_pages_through_2000_plus_instances(local_aws, tmp_path):
    big_account = "999900002222"
    writer = AwsAccess(_settings(local_aws), read_only=False)
    member = writer.assume_member(big_account)
    for _ in range(21):
        member.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=100, MaxCount=100)
    writer.client("config").put_configuration_aggregator(
        ConfigurationAggregatorName="big-aggregator",
        AccountAggregationSources=[{"AccountIds": [big_account], "AllAwsRegions": True}],
    )
    snapshot = take_org_snapshot(_context(local_aws, tmp_path, "big-aggregator"))
    instances = {r.resource_id for r in snapshot.resources if r.resource_type == "AWS::EC2::Instance"}
    assert len(instances) == 2100
    assert snapshot.api_calls["config:SelectAggregateResourceConfig"] == math.ceil(len(snapshot.resources) / 100)
