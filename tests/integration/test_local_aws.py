"""The local AWS answers the worked example's numbers, through the product's own adapter (real HTTP).

`aws` is the product's read path (the allow-list guard on); `inspector` an unguarded access for the
devstack's own facts that the product never reads (account tags, regions)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest
import requests

from include.itsm.adapters.aws import AwsAccess, AwsSettings, ReadOnlyViolation
from include.itsm.adapters.aws_reads import AwsReads
from include.itsm.devstack.aws import seed_data
from include.itsm.devstack.aws.config_select import COLLECTORS
from include.itsm.devstack.demo import org


def _settings(local_aws) -> AwsSettings:
    return AwsSettings(
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=local_aws.access_key_id,
        aws_secret_access_key=local_aws.secret_access_key,
    )


@pytest.fixture(scope="module")
def aws(local_aws) -> AwsAccess:
    return AwsAccess(_settings(local_aws))


@pytest.fixture(scope="module")
def reads(aws) -> AwsReads:
    return AwsReads(aws)


@pytest.fixture(scope="module")
def inspector(local_aws) -> AwsAccess:
    return AwsAccess(_settings(local_aws), read_only=False)


def _raw_instances(access: AwsAccess, region: str | None = None) -> list[dict]:
    pages = access.client("ec2", region).get_paginator("describe_instances").paginate()
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


@pytest.fixture(scope="module")
def inventory(aws) -> dict[str, list[dict]]:
    """Per-account DescribeInstances over every region of org.py, via assumed roles."""
    return {
        a.account_id: [i for region in org.REGIONS for i in _raw_instances(aws.assume_member(a.account_id), region)]
        for a in org.ACCOUNTS
    }


def _tags(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_organisation_has_the_demo_accounts_with_names_and_tags(inspector):
    orgs = inspector.client("organizations")
    accounts = {a["Id"]: a["Name"] for page in orgs.get_paginator("list_accounts").paginate() for a in page["Accounts"]}
    assert {a.account_id: a.name for a in org.ACCOUNTS}.items() <= accounts.items()
    tags = {t["Key"]: t["Value"] for t in orgs.list_tags_for_resource(ResourceId=org.ACCOUNTS[0].account_id)["Tags"]}
    assert tags[org.ENV_TAG_KEY] == org.ACCOUNTS[0].env_tag and {"owner", "cost-centre"} <= tags.keys()


def test_per_account_describe_counts_match_org_table(inventory):
    assert {k: len(v) for k, v in inventory.items()} == {a.account_id: a.instances for a in org.ACCOUNTS}
    assert sum(map(len, inventory.values())) == org.totals()["instances"]


def test_launch_times_place_the_late_launches_after_the_spreadsheet(inventory):
    late = [i for instances in inventory.values() for i in instances if i["LaunchTime"] > org.SPREADSHEET_AS_OF]
    assert len(late) == org.totals()["late_launches"]
    assert all(i["LaunchTime"].year >= 2024 for instances in inventory.values() for i in instances)


def test_env_tags_give_the_tagging_gap(inventory):
    tagged = {
        acct: [i for i in inst if _tags(i).get(org.ENV_TAG_KEY) in org.STANDARD_ENV_VALUES]
        for acct, inst in inventory.items()
    }
    assert sum(map(len, tagged.values())) == org.totals()["env_tagged_instances"]
    assert sum(1 for v in tagged.values() if v) == org.totals()["env_tagged_accounts"]
    scheduled = {
        acct
        for acct, inst in inventory.items()
        if any(_tags(i).get(org.SCHEDULER_TAG_KEY) == org.SCHEDULER_TAG_VALUE for i in inst)
    }
    assert len(scheduled) == org.totals()["scheduled_accounts"]
    pilot = inventory[org.PILOT_ACCOUNT.account_id]
    assert sum(i["State"]["Name"] == "running" for i in pilot) == org.PILOT_ACCOUNT.instances == 16


def test_config_select_returns_the_org_inventory_in_pages_of_100(reads, local_aws):
    local_aws.clear_calls()
    rows = list(
        reads.select_aggregate(
            "SELECT resourceId, accountId, awsRegion, configuration.instanceType, configuration.state.name, "
            "configuration.launchTime, tags WHERE resourceType = 'AWS::EC2::Instance'",
            org.AGGREGATOR_NAME,
        )
    )
    assert len(rows) == org.totals()["instances"] and len({r["accountId"] for r in rows}) == org.totals()["accounts"]
    assert len({r["resourceId"] for r in rows}) == len(rows)
    late = [r for r in rows if datetime.fromisoformat(r["configuration"]["launchTime"]) > org.SPREADSHEET_AS_OF]
    assert len(late) == org.totals()["late_launches"]
    selects = [c for c in local_aws.calls() if c["operation"] == "SelectAggregateResourceConfig"]
    assert len(selects) == 2  # 100 + 17 rows


def test_config_select_count_and_group_by(reads):
    base = "WHERE resourceType = 'AWS::EC2::Instance'"
    (total,) = reads.select_aggregate(f"SELECT COUNT(*) {base}", org.AGGREGATOR_NAME)
    assert total == {"COUNT(*)": org.totals()["instances"]}
    grouped = list(reads.select_aggregate(f"SELECT accountId, COUNT(*) {base} GROUP BY accountId", org.AGGREGATOR_NAME))
    assert {g["accountId"]: g["COUNT(*)"] for g in grouped} == {a.account_id: a.instances for a in org.ACCOUNTS}
    pilot = org.PILOT_ACCOUNT.account_id
    (one,) = reads.select_aggregate(f"SELECT COUNT(*) {base} AND accountId = '{pilot}'", org.AGGREGATOR_NAME)
    assert one["COUNT(*)"] == org.PILOT_ACCOUNT.instances


def test_config_select_finds_every_service_type(reads):
    types = {
        r["resourceType"]: r["COUNT(*)"]
        for r in reads.select_aggregate(
            f"SELECT resourceType, COUNT(*) WHERE resourceType IN ({', '.join(map(repr, COLLECTORS))})"
            " GROUP BY resourceType",
            org.AGGREGATOR_NAME,
        )
    }
    assert types["AWS::S3::Bucket"] == len(seed_data.BUCKETS)
    assert types["AWS::RDS::DBInstance"] == len(seed_data.DATABASES)
    assert {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::IAM::Role"} <= types.keys()


def test_config_select_rejects_what_config_rejects(aws):
    config = aws.client("config")
    with pytest.raises(config.exceptions.ClientError, match="Value '101' at 'limit'"):
        config.select_aggregate_resource_config(
            Expression="SELECT resourceId", Limit=101, ConfigurationAggregatorName=org.AGGREGATOR_NAME
        )
    with pytest.raises(config.exceptions.NoSuchConfigurationAggregatorException):
        config.select_aggregate_resource_config(Expression="SELECT resourceId", ConfigurationAggregatorName="nope")


def test_cloudtrail_has_the_pilot_stop_instances(aws):
    pilot = aws.assume_member(org.PILOT_ACCOUNT.account_id)
    trail = pilot.client("cloudtrail")
    events = [
        e
        for page in trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopInstances"}],
            StartTime=seed_data.PILOT_STOP_AT.replace(hour=0),
            EndTime=seed_data.PILOT_START_AT,
            PaginationConfig={"PageSize": 5},
        )
        for e in page["Events"]
    ]
    details = [json.loads(e["CloudTrailEvent"]) for e in events]
    assert len(events) == 16
    failed = [d for d in details if "errorCode" in d]
    assert len(failed) == 2 and all("active user sessions" in d["errorMessage"] for d in failed)
    pilot_ids = {i["InstanceId"] for i in _raw_instances(pilot)}
    assert {e["Resources"][0]["ResourceName"] for e in events} == pilot_ids
    (one,) = trail.lookup_events(
        LookupAttributes=[
            {
                "AttributeKey": "ResourceName",
                "AttributeValue": failed[0]["requestParameters"]["instancesSet"]["items"][0]["instanceId"],
            }
        ]
    )["Events"]
    assert one["EventName"] == "StopInstances"


def test_cost_explorer_ec2_compute_share(aws):
    ce = aws.client("ce", "us-east-1")
    month = {"Start": str(seed_data.COST_MONTH[0]), "End": str(seed_data.COST_MONTH[1])}
    daily = ce.get_cost_and_usage(
        TimePeriod={"Start": str(seed_data.COST_DAILY[0]), "End": str(seed_data.COST_DAILY[1])},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
    )
    monthly = ce.get_cost_and_usage(
        TimePeriod=month,
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
    )
    groups = {
        g["Keys"][0]: float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in monthly["ResultsByTime"][0]["Groups"]
    }
    share = groups[seed_data.EC2_COMPUTE_SERVICE] / sum(groups.values())
    assert share == pytest.approx(0.0188, abs=0.00005)
    amounts = [float(d["Total"]["UnblendedCost"]["Amount"]) for d in daily["ResultsByTime"]]
    assert sum(amounts[:7]) - sum(amounts[7:]) == pytest.approx(seed_data.PILOT_WEEK_SAVING)


def test_alarms_behind_demo_incidents(aws):
    member = aws.assume_member(org.account_by_name("prod-core").account_id)
    alarms = member.client("cloudwatch").describe_alarms(StateValue="ALARM")["MetricAlarms"]
    assert {"prod-core-web-cpu-high", "prod-core-alb-5xx"} <= {a["AlarmName"] for a in alarms}


def test_refused_calls_never_reach_the_server(aws, local_aws):
    ec2 = aws.client("ec2")
    local_aws.clear_calls()
    with pytest.raises(ReadOnlyViolation):
        ec2.terminate_instances(InstanceIds=["i-0123456789abcdef0"])
    with pytest.raises(ReadOnlyViolation):
        aws.client("s3").put_object(Bucket=seed_data.BUCKETS[0].name, Key="x", Body=b"x")
    with pytest.raises(ReadOnlyViolation):
        aws.client("sts").get_session_token()
    with pytest.raises(ReadOnlyViolation):  # a read, but not one the product makes
        ec2.describe_regions()
    ec2.describe_vpcs()
    calls = local_aws.calls()
    assert [(c["service"], c["operation"]) for c in calls] == [("ec2", "DescribeVpcs")]
    assert aws.api_calls["ec2:DescribeVpcs"] >= 1 and aws.api_calls["ec2:TerminateInstances"] == 0


def test_calls_are_attributed_to_the_assumed_account(aws, local_aws):
    member = aws.assume_member(org.PILOT_ACCOUNT.account_id)
    local_aws.clear_calls()
    _raw_instances(member, "us-west-2")
    (call,) = local_aws.calls()
    assert (call["account_id"], call["region"], call["operation"], call["status"]) == (
        org.PILOT_ACCOUNT.account_id,
        "us-west-2",
        "DescribeInstances",
        200,
    )
    assert call["role_arn"] == f"arn:aws:iam::{org.PILOT_ACCOUNT.account_id}:role/ITSMMemberRead"  # moto takes any
    local_aws.clear_calls()
    local_aws.client("sts").get_caller_identity()
    assert local_aws.calls()[0]["role_arn"] is None  # the long-term keys


def test_writes_through_the_front_become_cloudtrail_events(local_aws):
    writer = AwsAccess(
        AwsSettings(
            region_name=local_aws.region,
            endpoint_url=local_aws.endpoint_url,
            aws_access_key_id=local_aws.access_key_id,
            aws_secret_access_key=local_aws.secret_access_key,
        ),
        read_only=False,
    )
    member = writer.assume_member(org.account_by_name("network-hub").account_id)
    instance = _raw_instances(member)[0]
    member.client("ec2").create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "touched", "Value": "yes"}])
    events = member.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateTags"}]
    )["Events"]
    assert any(
        json.loads(e["CloudTrailEvent"])["requestParameters"].get("ResourceId.1") == instance["InstanceId"]
        for e in events
    )


def test_health_is_ready(local_aws):
    assert requests.get(f"{local_aws.endpoint_url}/_devstack/health", timeout=5).json() == {"ready": True}


@pytest.mark.timeout(60)
def test_describe_pagination_over_2000_instances(local_aws):
    """A big account outside the organisation: pages of reservations, not instances, all followed."""
    settings = AwsSettings(
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=local_aws.access_key_id,
        aws_secret_access_key=local_aws.secret_access_key,
    )
    big_account = "999900001111"
    writer = AwsAccess(settings, read_only=False).assume_member(big_account)
    for _ in range(21):
        writer.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=100, MaxCount=100)
    reader = AwsAccess(settings).assume_member(big_account)
    pages = reader.client("ec2").get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5})
    seen = Counter(i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"])
    assert len(seen) == 2100 and set(seen.values()) == {1}
    assert reader.api_calls["ec2:DescribeInstances"] == 5  # 21 reservations / 5 per page
    (outside,) = AwsReads(AwsAccess(settings)).select_aggregate(
        f"SELECT COUNT(*) WHERE resourceType = 'AWS::EC2::Instance' AND accountId = '{big_account}'",
        org.AGGREGATOR_NAME,
    )
    assert outside == {"COUNT(*)": 0}  # not in the aggregator's organisation


def test_settings_come_from_the_airflow_connection(local_aws, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": local_aws.access_key_id,
                "password": local_aws.secret_access_key,
                "extra": {"endpoint_url": local_aws.endpoint_url, "region_name": local_aws.region},
            }
        ),
    )
    access = AwsAccess(AwsSettings.from_connection("aws_default"))
    assert (access.settings.endpoint_url, access.settings.region_name) == (local_aws.endpoint_url, local_aws.region)
    assert access.client("sts").get_caller_identity()["Account"] == org.MANAGEMENT_ACCOUNT_ID
    with pytest.raises(ReadOnlyViolation):
        access.client("ec2").stop_instances(InstanceIds=["i-0123456789abcdef0"])


def test_scheduler_role_last_used_on_the_pilot_morning(aws):
    iam = aws.assume_member(org.PILOT_ACCOUNT.account_id).client("iam")
    last_used = iam.get_role(RoleName=seed_data.SCHEDULER_ROLE)["Role"]["RoleLastUsed"]
    assert last_used["LastUsedDate"] == seed_data.PILOT_START_AT
