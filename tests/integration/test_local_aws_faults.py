"""Fault injection in the local AWS front, seen through the product's adapter (real HTTP, real botocore retries).

The server is shared by the whole session: every test adds its faults through `faults(...)`,
which clears them on exit, and starts from an empty call log.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.devstack.demo import org
from tests.integration.aws_fixtures import faults

PROD_CORE = "318274650011"
PROD_PAYMENTS = "318274650022"
AGGREGATE_COUNT = "SELECT COUNT(*) WHERE resourceType = 'AWS::EC2::Instance'"


@pytest.fixture
def aws(local_aws) -> AwsAccess:
    """A fresh adapter per test (no member credentials cached from other tests)."""
    local_aws.clear_faults()
    return AwsAccess(
        AwsSettings(
            region_name="ap-southeast-2",
            endpoint_url=local_aws.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    )


def _instances(access: AwsAccess, region: str) -> list[dict]:
    """Every instance in the account and region, through the raw client (pages follow botocore's retries)."""
    pages = access.client("ec2", region).get_paginator("describe_instances").paginate()
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def _select(access: AwsAccess, expression: str, aggregator: str) -> list[dict]:
    config = access.client("config")
    return [
        json.loads(row)
        for row in config.select_aggregate_resource_config(
            Expression=expression, ConfigurationAggregatorName=aggregator, Limit=100
        )["Results"]
    ]


def _calls(local_aws, operation: str, account_id: str | None = None) -> list[int]:
    """Statuses of the logged calls of `operation` (for `account_id`), in order."""
    return [
        c["status"]
        for c in local_aws.calls()
        if c["operation"] == operation and (account_id is None or c["account_id"] == account_id)
    ]


def test_assume_role_denied_into_one_member_only(aws, local_aws):
    with faults(
        local_aws,
        {
            "service": "sts",
            "operation": "AssumeRole",
            "account_id": PROD_CORE,
            "code": "AccessDenied",
            "status": 403,
            "message": "User is not authorized to perform: sts:AssumeRole",
        },
    ):
        local_aws.clear_calls()
        with pytest.raises(ClientError) as denied:
            aws.assume_member(PROD_CORE)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert denied.value.response["Error"]["Message"] == "User is not authorized to perform: sts:AssumeRole"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        payments = aws.assume_member(PROD_PAYMENTS)
        assert len(_instances(payments, "ap-southeast-2")) == 5
        # the management account made both hops; the denied one is logged with its status, not retried
        assert _calls(local_aws, "AssumeRole", org.MANAGEMENT_ACCOUNT_ID) == [403, 200]
        assert local_aws.active_faults()[0]["hits"] == 1
    assert local_aws.active_faults() == []


def test_throttled_twice_is_retried_to_success(aws, local_aws):
    member = aws.assume_member(PROD_CORE)
    expected = len(_instances(member, "ap-southeast-2"))
    with faults(
        local_aws,
        {
            "service": "ec2",
            "operation": "DescribeInstances",
            "account_id": PROD_CORE,
            "code": "RequestLimitExceeded",
            "status": 503,
            "count": 2,
        },
    ) as added:
        assert added[0]["id"] and added[0]["remaining"] == 2
        local_aws.clear_calls()
        assert len(_instances(member, "ap-southeast-2")) == expected
        assert _calls(local_aws, "DescribeInstances", PROD_CORE) == [503, 503, 200]
        assert local_aws.active_faults() == []  # a counted fault is gone once used up


def test_throttled_beyond_the_retry_budget_gives_up_after_three_retries(aws, local_aws):
    member = aws.assume_member(PROD_CORE)
    with faults(
        local_aws,
        {
            "service": "ec2",
            "operation": "DescribeInstances",
            "account_id": PROD_CORE,
            "code": "RequestLimitExceeded",
            "status": 503,
            "count": 10,
        },
    ):
        local_aws.clear_calls()
        with pytest.raises(ClientError) as throttled:
            _instances(member, "ap-southeast-2")
        assert throttled.value.response["Error"]["Code"] == "RequestLimitExceeded"
        assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 3
        assert _calls(local_aws, "DescribeInstances", PROD_CORE) == [503] * 4
        [left] = local_aws.active_faults()
        assert (left["remaining"], left["hits"]) == (6, 4)
        # other accounts are not matched
        assert len(_instances(aws.assume_member(PROD_PAYMENTS), "ap-southeast-2")) == 5


def test_json_protocol_throttling_on_config_select_is_retried(aws, local_aws):
    with faults(
        local_aws,
        {
            "service": "config",
            "operation": "SelectAggregateResourceConfig",
            "code": "ThrottlingException",
            "status": 400,
            "count": 1,
        },
    ):
        local_aws.clear_calls()
        rows = _select(aws, AGGREGATE_COUNT, org.AGGREGATOR_NAME)
        assert rows == [{"COUNT(*)": org.totals()["instances"]}]
        assert _calls(local_aws, "SelectAggregateResourceConfig") == [400, 200]


def test_json_protocol_error_is_not_retried(aws, local_aws):
    with faults(
        local_aws,
        {
            "service": "config",
            "operation": "SelectAggregateResourceConfig",
            "code": "AccessDeniedException",
            "status": 400,
            "message": "no aggregator access",
        },
    ):
        local_aws.clear_calls()
        with pytest.raises(ClientError) as denied:
            _select(aws, AGGREGATE_COUNT, org.AGGREGATOR_NAME)
        assert denied.value.response["Error"] == {"Code": "AccessDeniedException", "Message": "no aggregator access"}
        assert _calls(local_aws, "SelectAggregateResourceConfig") == [400]


def test_s3_faults(aws, local_aws):
    s3 = aws.assume_member(PROD_CORE).client("s3")
    with faults(
        local_aws,
        {"service": "s3", "operation": "ListBuckets", "code": "SlowDown", "status": 503, "count": 1},
        {
            "service": "s3",
            "operation": "GetBucketVersioning",
            "account_id": PROD_CORE,
            "code": "AccessDenied",
            "status": 403,
        },
        {"service": "s3", "operation": "HeadBucket", "code": "AccessDenied", "status": 403, "count": 1},
    ):
        local_aws.clear_calls()
        assert "kiwifreight-prod-core-artifacts" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert _calls(local_aws, "ListBuckets", PROD_CORE) == [503, 200]  # 503 is transient: retried
        with pytest.raises(ClientError) as denied:
            s3.get_bucket_versioning(Bucket="kiwifreight-prod-core-artifacts")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert _calls(local_aws, "GetBucketVersioning", PROD_CORE) == [403]
        plain = boto3.session.Session().client(  # HeadBucket is not on the adapter's read-only path
            "s3",
            region_name=local_aws.region,
            endpoint_url=local_aws.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        with pytest.raises(ClientError) as head:
            plain.head_bucket(Bucket="kiwifreight-prod-core-artifacts")
        assert head.value.response["Error"]["Code"] == "403"  # HEAD answers have no body, as on AWS


@pytest.mark.parametrize(
    ("service", "operation", "call"),
    [
        ("ec2", "DescribeVpcs", lambda c: c.describe_vpcs()),
        ("iam", "ListRoles", lambda c: c.list_roles()),
        ("rds", "DescribeDBInstances", lambda c: c.describe_db_instances()),
        ("sts", "GetCallerIdentity", lambda c: c.get_caller_identity()),
        ("cloudwatch", "DescribeAlarms", lambda c: c.describe_alarms()),  # rpc-v2-cbor in current botocore
        ("organizations", "ListAccounts", lambda c: c.list_accounts()),
        ("cloudtrail", "LookupEvents", lambda c: c.lookup_events()),
        (
            "ce",
            "GetCostAndUsage",
            lambda c: c.get_cost_and_usage(
                TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"},
                Granularity="MONTHLY",
                Metrics=["UnblendedCost"],
            ),
        ),
    ],
)
def test_every_protocol_gives_a_proper_client_error(aws, local_aws, service, operation, call):
    with faults(
        local_aws,
        {
            "service": service,
            "operation": operation,
            "code": "AccessDenied",
            "status": 403,
            "message": f"denied {operation}",
            "count": 1,
        },
    ):
        with pytest.raises(ClientError) as denied:
            call(aws.client(service))
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert denied.value.response["Error"]["Message"] == f"denied {operation}"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        call(aws.client(service))  # count 1: the next call is answered normally


def test_delay_beyond_the_read_timeout_is_a_read_timeout(local_aws):
    sts = boto3.session.Session().client(
        "sts",
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}),
    )
    with faults(
        local_aws,
        {
            "service": "sts",
            "operation": "GetCallerIdentity",
            "delay_s": 2,
            "count": 1,
            "code": "InternalError",
            "status": 500,
        },
    ):
        with pytest.raises(ReadTimeoutError):
            sts.get_caller_identity()
    with faults(local_aws, {"service": "sts", "operation": "GetCallerIdentity", "delay_s": 0.3, "count": 1}):
        started = time.monotonic()
        assert sts.get_caller_identity()["Account"] == org.MANAGEMENT_ACCOUNT_ID  # delay only: the real answer
        assert time.monotonic() - started >= 0.3


def test_fault_admin_validates_and_lists(local_aws):
    url = f"{local_aws.endpoint_url}/_devstack/faults"
    assert requests.post(url, json={"service": "ec2"}, timeout=10).status_code == 400  # neither code nor delay
    assert requests.post(url, json={"code": "X", "colour": "red"}, timeout=10).status_code == 400
    assert requests.post(url, json={"code": "X", "status": 200}, timeout=10).status_code == 400
    with faults(
        local_aws,
        {"service": "iam", "code": "Throttling", "count": 3},
        {"operation": "ListRoles", "code": "AccessDenied", "status": 403},
    ) as added:
        listed = local_aws.active_faults()
        assert [f["id"] for f in listed] == [f["id"] for f in added]
        assert [(f["remaining"], f["hits"], f["status"]) for f in listed] == [(3, 0, 400), (None, 0, 403)]
    assert local_aws.active_faults() == []


def test_counts_hold_under_concurrent_requests(local_aws):
    sts = boto3.session.Session().client(
        "sts",
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )

    def call(_) -> str:
        try:
            return sts.get_caller_identity()["Account"]
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with faults(
        local_aws,
        {"service": "sts", "operation": "GetCallerIdentity", "code": "AccessDenied", "status": 403, "count": 5},
    ):
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(call, range(40)))
    assert answers.count("AccessDenied") == 5 and answers.count(org.MANAGEMENT_ACCOUNT_ID) == 35
