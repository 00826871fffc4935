"""The local AWS answers Config advanced queries exactly as moto's state has it, pages like Config, and refuses
(InvalidExpressionException) every construct it cannot answer exactly instead of returning wrong rows.

Expected rows come from moto's own state read through plain EC2 / S3 / RDS calls (DescribeInstances per member
account and region), never from the query engine under test.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.devstack.aws import seed_data
from include.itsm.devstack.aws.config_select import PROPERTIES
from include.itsm.devstack.demo import org

AGGREGATOR = org.AGGREGATOR_NAME
INSTANCES = "resourceType = 'AWS::EC2::Instance'"


@pytest.fixture(scope="module")
def config(local_aws):
    return boto3.client(
        "config",
        region_name=local_aws.region,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=local_aws.access_key_id,
        aws_secret_access_key=local_aws.secret_access_key,
    )


@pytest.fixture(scope="module")
def instances(local_aws) -> list[dict]:
    """Every instance in moto's state, read per member account and region, with its account and region."""
    aws = AwsAccess(
        AwsSettings(
            region_name=local_aws.region,
            endpoint_url=local_aws.endpoint_url,
            aws_access_key_id=local_aws.access_key_id,
            aws_secret_access_key=local_aws.secret_access_key,
        )
    )
    out = []
    for a in org.ACCOUNTS:
        member = aws.assume_member(a.account_id)
        for region in org.REGIONS:
            pages = member.client("ec2", region).get_paginator("describe_instances").paginate()
            out += [
                i | {"account": a.account_id, "region": region}
                for page in pages
                for r in page["Reservations"]
                for i in r["Instances"]
            ]
    return out


def select(config, expression: str, **kwargs) -> tuple[list[dict], int]:
    """All rows of a query (following NextToken) and the number of pages it took."""
    rows, pages, token = [], 0, None
    while True:
        page = config.select_aggregate_resource_config(
            Expression=expression,
            ConfigurationAggregatorName=AGGREGATOR,
            **kwargs,
            **({"NextToken": token} if token else {}),
        )
        pages += 1
        rows += [json.loads(r) for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            return rows, pages


def _name(instance: dict) -> str:
    return next(t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name")


def test_or_with_parentheses_matches_moto(config, instances):
    a, b = org.ACCOUNTS[0].account_id, org.PILOT_ACCOUNT.account_id
    rows, _ = select(
        config,
        f"SELECT resourceId, accountId WHERE {INSTANCES} AND (accountId = '{a}' OR accountId = '{b}')",
        Limit=100,
    )
    expected = sorted(i["InstanceId"] for i in instances if i["account"] in (a, b))
    assert sorted(r["resourceId"] for r in rows) == expected and len({r["accountId"] for r in rows}) == 2


def test_comparisons_and_between_on_launch_time_match_moto(config, instances):
    cut = "2026-10-15T00:00:00Z"
    after, _ = select(config, f"SELECT resourceId WHERE {INSTANCES} AND configuration.launchTime > '{cut}'", Limit=100)
    late = {i["InstanceId"] for i in instances if i["LaunchTime"] > org.SPREADSHEET_AS_OF}  # 2026-10-15 UTC
    assert {r["resourceId"] for r in after} == late and late
    not_after, _ = select(
        config, f"SELECT resourceId WHERE {INSTANCES} AND configuration.launchTime <= '{cut}'", Limit=100
    )
    assert len(after) + len(not_after) == len(instances)
    low, high = "2026-10-18T00:00:00.000Z", "2026-10-31T00:00:00Z"
    between, _ = select(
        config,
        f"SELECT resourceId WHERE {INSTANCES} AND configuration.launchTime BETWEEN '{low}' AND '{high}'",
        Limit=100,
    )
    bounds = datetime.fromisoformat(low.replace("Z", "+00:00")), datetime.fromisoformat(high.replace("Z", "+00:00"))
    expected = {i["InstanceId"] for i in instances if bounds[0] <= i["LaunchTime"] <= bounds[1]}
    assert {r["resourceId"] for r in between} == expected and expected


def test_not_equal_not_in_and_not_match_moto(config, instances):
    stopped = {i["InstanceId"] for i in instances if i["State"]["Name"] == "stopped"}
    for condition in (
        "configuration.state.name != 'running'",
        "configuration.state.name NOT IN ('running', 'pending')",
        "NOT (configuration.state.name = 'running')",
    ):
        rows, _ = select(config, f"SELECT resourceId WHERE {INSTANCES} AND {condition}", Limit=100)
        assert {r["resourceId"] for r in rows} == stopped, condition
    assert stopped


def test_like_suffix_wildcards_and_tags_match_moto(config, instances):
    pilot = org.PILOT_ACCOUNT.name
    rows, _ = select(config, f"SELECT resourceId WHERE {INSTANCES} AND tags.value LIKE '{pilot}-%'", Limit=100)
    expected = {i["InstanceId"] for i in instances if _name(i).startswith(f"{pilot}-")}
    assert {r["resourceId"] for r in rows} == expected and len(expected) >= 10
    one, _ = select(config, f"SELECT resourceId WHERE {INSTANCES} AND tags.tag = 'Name={pilot}-0_'", Limit=100)
    assert {r["resourceId"] for r in one} == set()  # `_` is a wildcard only in LIKE
    nine, _ = select(config, f"SELECT resourceId WHERE {INSTANCES} AND tags.value LIKE '{pilot}-0_'", Limit=100)
    expected = {i["InstanceId"] for i in instances if _name(i) in {f"{pilot}-0{n}" for n in range(10)}}
    assert {r["resourceId"] for r in nine} == expected and len(expected) == 9


def test_order_by_pages_in_order(config, instances):
    rows, pages = select(
        config,
        f"SELECT resourceId, configuration.launchTime WHERE {INSTANCES} ORDER BY configuration.launchTime DESC, resourceId",
        Limit=50,
    )
    expected = sorted(instances, key=lambda i: i["InstanceId"])
    expected.sort(key=lambda i: i["LaunchTime"], reverse=True)
    assert [r["resourceId"] for r in rows] == [i["InstanceId"] for i in expected]
    assert pages == -(-len(instances) // 50)


def test_count_group_by_nests_dotted_properties_and_orders_by_count(config, instances):
    rows, _ = select(
        config, f"SELECT configuration.instanceType, COUNT(*) WHERE {INSTANCES} GROUP BY configuration.instanceType"
    )
    assert {r["configuration"]["instanceType"]: r["COUNT(*)"] for r in rows} == Counter(
        i["InstanceType"] for i in instances
    )
    by_account, _ = select(
        config, f"SELECT accountId, COUNT(*) WHERE {INSTANCES} GROUP BY accountId ORDER BY COUNT(*) DESC"
    )
    counts = [r["COUNT(*)"] for r in by_account]
    assert counts == sorted(counts, reverse=True)
    assert {r["accountId"]: r["COUNT(*)"] for r in by_account} == Counter(i["account"] for i in instances)
    types = "resourceType IN ('AWS::S3::Bucket', 'AWS::RDS::DBInstance')"
    (total,), _ = select(config, f"SELECT COUNT(*) WHERE {types}")
    assert total == {"COUNT(*)": len(seed_data.BUCKETS) + len(seed_data.DATABASES)}


def test_default_and_maximum_page_sizes_are_configs(config, instances):
    """25 rows a page by default, 500 for aggregations (so 117 groups fit one), Limit at most 100."""
    rows, pages = select(config, f"SELECT resourceId WHERE {INSTANCES}")
    assert len(rows) == len(instances) and pages == -(-len(instances) // 25)
    groups, pages = select(config, f"SELECT resourceId, COUNT(*) WHERE {INSTANCES} GROUP BY resourceId")
    assert len(groups) == len(instances) and pages == 1
    with pytest.raises(ClientError) as refused:  # Config cannot page an aggregate ordered by an aggregate
        select(config, f"SELECT resourceId, COUNT(*) WHERE {INSTANCES} GROUP BY resourceId ORDER BY COUNT(*)", Limit=10)
    assert refused.value.response["Error"]["Code"] == "InvalidExpressionException"
    for limit in ({"Limit": 101}, {"MaxResults": 101}):
        with pytest.raises(ClientError) as refused:
            select(config, f"SELECT resourceId WHERE {INSTANCES}", **limit)
        assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_next_token_is_tied_to_its_query_and_aggregator(config, local_aws):
    first = config.select_aggregate_resource_config(
        Expression=f"SELECT resourceId WHERE {INSTANCES}", ConfigurationAggregatorName=AGGREGATOR, Limit=10
    )
    other = f"SELECT resourceId, accountId WHERE {INSTANCES}"
    with pytest.raises(ClientError) as refused:
        config.select_aggregate_resource_config(
            Expression=other, ConfigurationAggregatorName=AGGREGATOR, Limit=10, NextToken=first["NextToken"]
        )
    assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"
    config.put_configuration_aggregator(
        ConfigurationAggregatorName="token-probe",
        AccountAggregationSources=[{"AccountIds": [org.PILOT_ACCOUNT.account_id], "AllAwsRegions": True}],
    )
    with pytest.raises(ClientError) as refused:
        config.select_aggregate_resource_config(
            Expression=f"SELECT resourceId WHERE {INSTANCES}",
            ConfigurationAggregatorName="token-probe",
            Limit=10,
            NextToken=first["NextToken"],
        )
    assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize(
    "expression",
    [
        f"SELECT DISTINCT resourceId WHERE {INSTANCES}",
        f"SELECT resourceId FROM resources WHERE {INSTANCES}",
        f"SELECT resourceId AS id WHERE {INSTANCES}",
        f"SELECT accountId, COUNT(*) WHERE {INSTANCES} GROUP BY accountId HAVING COUNT(*) > 1",
        f"SELECT resourceId WHERE {INSTANCES} UNION SELECT resourceId WHERE {INSTANCES}",
        f"SELECT resourceId WHERE {INSTANCES} AND resourceName IS NULL",
        f"SELECT * WHERE {INSTANCES}",
        f"SELECT resourceId WHERE {INSTANCES} AND resourceName LIKE '%-01'",
        f"SELECT resourceId WHERE {INSTANCES} AND resourceName LIKE 'ab%'",
        f"SELECT resourceId WHERE {INSTANCES} AND resourceName LIKE 'abc%def'",
        "SELECT resourceId WHERE resourceType = 'AWS::EC2::Volume'",
        "SELECT resourceId",
        "SELECT resourceType, COUNT(*) GROUP BY resourceType",
        "SELECT resourceId WHERE resourceType LIKE 'AWS::EC2::%'",
        "SELECT resourceId WHERE resourceType != 'AWS::EC2::Instance'",
        f"SELECT resourceId WHERE {INSTANCES} OR accountId = '123456789012'",
        f"SELECT configuration.ebsOptimized WHERE {INSTANCES}",
        f"SELECT resourceId WHERE {INSTANCES} AND configuration.ebsOptimized = true",
        f"SELECT SUM(configuration.state.code) WHERE {INSTANCES}",
        f"SELECT COUNT(resourceId) WHERE {INSTANCES}",
        f"SELECT resourceId, COUNT(*) WHERE {INSTANCES}",
        f"SELECT COUNT(*) WHERE {INSTANCES} GROUP BY accountId, awsRegion, resourceId, resourceName",
        f"SELECT tags, COUNT(*) WHERE {INSTANCES} GROUP BY tags",
        f"SELECT resourceId WHERE {INSTANCES} ORDER BY accountId",
        f"SELECT accountId, awsRegion, COUNT(*) WHERE {INSTANCES} GROUP BY accountId, awsRegion ORDER BY COUNT(*)",
        f"SELECT resourceId WHERE {INSTANCES} AND (accountId = '1'",
        f"SELECT resourceId WHERE {INSTANCES} AND " + "(" * 101 + "accountId = '1'" + ")" * 101,
        f"SELECT resourceId WHERE {INSTANCES} AND COUNT(*) > 1",
        f"SELECT resourceId WHERE {INSTANCES} garbage",
        f"DELETE resourceId WHERE {INSTANCES}",
    ],
)
def test_unsupported_sql_is_refused_never_answered(config, expression):
    with pytest.raises(ClientError) as refused:
        config.select_aggregate_resource_config(Expression=expression, ConfigurationAggregatorName=AGGREGATOR)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidExpressionException" and error["Message"], expression


def test_an_overlong_expression_is_a_validation_error(config):
    ids = ", ".join(["'i-x'"] * 1000)
    expression = f"SELECT resourceId WHERE {INSTANCES} AND resourceId IN ({ids})"
    with pytest.raises(ClientError) as refused:
        config.select_aggregate_resource_config(Expression=expression, ConfigurationAggregatorName=AGGREGATOR)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def _leaves(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value:
        return {leaf for k, v in value.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)}
    return {prefix}


def test_the_declared_properties_are_exactly_what_rows_carry(config):
    """A property the stand-in declares is one it answers, and a row carries nothing it does not declare."""
    types = ", ".join(map(repr, PROPERTIES))
    top = sorted({p for props in PROPERTIES.values() for p in props if "." not in p and p != "tags"})
    rows, _ = select(config, f"SELECT {', '.join(top)} WHERE resourceType IN ({types})", Limit=100)
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(row["resourceType"], set()).update(_leaves(row))
    assert {t: leaves - {"tags"} for t, leaves in seen.items()} == {
        t: set(props) - {"configuration", "tags"} for t, props in PROPERTIES.items()
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\xff\xfe", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (
            b'{"ConfigurationAggregatorName": ["x"], "Expression": "SELECT resourceId"}',
            "NoSuchConfigurationAggregatorException",
        ),
        (json.dumps({"ConfigurationAggregatorName": AGGREGATOR, "Expression": 5}).encode(), "ValidationException"),
        (
            json.dumps({"ConfigurationAggregatorName": AGGREGATOR, "Expression": "x", "Limit": "9"}).encode(),
            "ValidationException",
        ),
    ],
    ids=["not-utf8", "not-an-object", "aggregator-list", "expression-number", "limit-string"],
)
def test_a_malformed_request_is_a_4xx_with_an_aws_error(local_aws, body, code):
    """What botocore never sends but a hand-made client may: answered as AWS answers, never a 500."""
    headers = {
        "X-Amz-Target": "StarlingDoveService.SelectAggregateResourceConfig",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261201/{local_aws.region}/config/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    resp = requests.post(local_aws.endpoint_url, data=body, headers=headers, timeout=10)
    assert resp.status_code == 400 and resp.json()["__type"] == code
