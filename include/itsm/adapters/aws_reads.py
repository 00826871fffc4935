"""The AWS ports (include/itsm/ports.py) over boto3: every AWS call the product makes is in this file.

`AwsReads` implements the read ports through a read-only `AwsAccess` (the customer's `aws_default`);
`AlarmWriter` the one write, through the operations connection. Both return the product's models and
turn botocore's failures into `AwsError` naming the operation, account and region, so callers record
"AccessDenied in account X" as a fact about that account, never a silent zero. Throttling and 5xx are
retried by botocore's standard mode first (3 retries, exponential backoff with jitter).

Calls into a member account go through its member role (`AwsAccess.in_account`); the connection's own
account is read directly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from include.itsm.adapters.aws import AwsAccess
from include.itsm.core.inventory import AccountInfo, Resource, TrailEvent
from include.itsm.ports import AwsError, CallerIdentity, CostPeriod

T = TypeVar("T")
DESCRIBE_ALARMS_BATCH = 100  # DescribeAlarms takes at most 100 names
GLOBAL_TYPES = ("AWS::S3::Bucket", "AWS::IAM::Role")  # listed once per account, not per region


def _aws(operation: str, call: Callable[[], T], *, account_id: str | None = None, region: str | None = None) -> T:
    """Run one AWS call; its botocore failure becomes an AwsError naming what was asked where."""
    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(
            operation,
            error.get("Code", "ClientError"),
            error.get("Message", str(exc)),
            account_id=account_id,
            region=region,
        ) from exc
    except BotoCoreError as exc:
        raise AwsError(operation, type(exc).__name__, str(exc), account_id=account_id, region=region) from exc


def _tags(raw: dict) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])}


def _instance(account_id: str, region: str, raw: dict) -> Resource:
    tags = _tags(raw)
    return Resource(
        resource_id=raw["InstanceId"],
        resource_type="AWS::EC2::Instance",
        account_id=account_id,
        region=region,
        name=tags.get("Name"),
        state=raw.get("State", {}).get("Name"),
        launch_time=raw.get("LaunchTime"),
        tags=tags,
        attributes={"instanceType": raw.get("InstanceType"), "vpcId": raw.get("VpcId")},
    )


def _trail_event(account_id: str, raw: dict) -> TrailEvent:
    detail = json.loads(raw.get("CloudTrailEvent") or "{}")
    resource = next(
        (
            r.get("ResourceName")
            for r in raw.get("Resources") or []
            if r.get("ResourceType") in ("AWS::EC2::Instance", None) and r.get("ResourceName")
        ),
        None,
    )
    if resource is None:
        items = ((detail.get("requestParameters") or {}).get("instancesSet") or {}).get("items") or []
        resource = items[0].get("instanceId") if items else None
    return TrailEvent(
        event_name=raw["EventName"],
        event_source=raw.get("EventSource") or detail.get("eventSource", ""),
        event_time=raw["EventTime"],
        account_id=account_id,
        resource_id=resource,
        user=raw.get("Username") or "",
        error_code=detail.get("errorCode"),
        error_message=detail.get("errorMessage"),
    )


class AwsReads:
    """Organization, Inventory, ConfigRules, CloudTrail, Cost and CloudWatch over one read-only access."""

    def __init__(self, access: AwsAccess) -> None:
        self.access = access

    @property
    def api_calls(self) -> Counter[str]:
        return self.access.api_calls

    @property
    def member_role_name(self) -> str:
        return self.access.member_role_name

    def _in(self, account_id: str, region: str | None = None, operation: str = "sts:AssumeRole") -> AwsAccess:
        return _aws(operation, lambda: self.access.in_account(account_id), account_id=account_id, region=region)

    # --- Organization ------------------------------------------------------------------------------

    def accounts(self) -> list[AccountInfo]:
        """Every account of the organisation (ListAccounts, paged)."""

        def read() -> list[AccountInfo]:
            pages = self.access.client("organizations").get_paginator("list_accounts").paginate()
            return [
                AccountInfo(account_id=a["Id"], name=a.get("Name", ""), status=a.get("Status", ""))
                for page in pages
                for a in page["Accounts"]
            ]

        return _aws("organizations:ListAccounts", read)

    def identity(self, account_id: str | None = None) -> CallerIdentity:
        """Who the connection is (account_id None), or who its hop into `account_id` is."""
        access = self.access if account_id is None else self._in(account_id)
        who = _aws("sts:GetCallerIdentity", lambda: access.client("sts").get_caller_identity(), account_id=account_id)
        return CallerIdentity(account_id=who["Account"], arn=who["Arn"])

    # --- Inventory ---------------------------------------------------------------------------------

    def select_aggregate(self, expression: str, aggregator: str) -> Iterator[dict]:
        """Rows of a Config aggregator query, following NextToken across pages (Limit 100, AWS's maximum)."""
        config = self.access.client("config")
        kwargs = {"Expression": expression, "ConfigurationAggregatorName": aggregator, "Limit": 100}
        while True:
            page = _aws(
                "config:SelectAggregateResourceConfig",
                lambda kwargs=dict(kwargs): config.select_aggregate_resource_config(**kwargs),
            )
            yield from (json.loads(row) for row in page.get("Results", []))
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    def instances(
        self, account_id: str, region: str, *, tag: tuple[str, Sequence[str]] | None = None
    ) -> list[Resource]:
        """Every instance of the account in the region, optionally only those with tag `key` in `values`
        (DescribeInstances pages by reservations, not instances)."""
        filters = [{"Name": f"tag:{tag[0]}", "Values": list(tag[1])}] if tag else []

        def read() -> list[Resource]:
            paginator = self._in(account_id, region).client("ec2", region).get_paginator("describe_instances")
            return [
                _instance(account_id, region, raw)
                for page in paginator.paginate(**({"Filters": filters} if filters else {}))
                for reservation in page["Reservations"]
                for raw in reservation["Instances"]
            ]

        return _aws("ec2:DescribeInstances", read, account_id=account_id, region=region)

    def resources(self, account_id: str, region: str, resource_type: str) -> list[Resource]:
        """The direct-API equivalent of one Config resource type in one account and region (the per-account
        fallback when the aggregator shows nothing); global types are listed in the home region only."""
        if resource_type == "AWS::EC2::Instance":
            return self.instances(account_id, region)
        if resource_type in GLOBAL_TYPES and region != self.access.settings.region_name:
            return []
        member = self._in(account_id, region)

        def tagged(items, id_key: str, **attrs) -> list[Resource]:
            return [
                Resource(
                    resource_id=i[id_key],
                    resource_type=resource_type,
                    account_id=account_id,
                    region=region,
                    tags=_tags(i),
                    attributes={k: i.get(v) for k, v in attrs.items()},
                )
                for i in items
            ]

        def read() -> list[Resource]:
            ec2 = member.client("ec2", region)
            if resource_type == "AWS::EC2::VPC":
                return tagged(ec2.describe_vpcs()["Vpcs"], "VpcId", cidrBlock="CidrBlock")
            if resource_type == "AWS::EC2::Subnet":
                return tagged(ec2.describe_subnets()["Subnets"], "SubnetId", vpcId="VpcId")
            if resource_type == "AWS::EC2::SecurityGroup":
                return tagged(
                    ec2.describe_security_groups()["SecurityGroups"], "GroupId", vpcId="VpcId", groupName="GroupName"
                )
            if resource_type == "AWS::RDS::DBInstance":
                pages = member.client("rds", region).get_paginator("describe_db_instances").paginate()
                return [
                    Resource(
                        resource_id=db["DbiResourceId"],
                        resource_type=resource_type,
                        account_id=account_id,
                        region=region,
                        name=db["DBInstanceIdentifier"],
                        state=db.get("DBInstanceStatus"),
                        attributes={
                            "engine": db.get("Engine"),
                            "backupRetentionPeriod": db.get("BackupRetentionPeriod"),
                            "dBInstanceIdentifier": db["DBInstanceIdentifier"],
                        },
                    )
                    for page in pages
                    for db in page["DBInstances"]
                ]
            if resource_type == "AWS::S3::Bucket":
                return [
                    Resource(
                        resource_id=b["Name"],
                        resource_type=resource_type,
                        account_id=account_id,
                        region="",
                        name=b["Name"],
                    )
                    for b in member.client("s3").list_buckets()["Buckets"]
                ]
            if resource_type == "AWS::IAM::Role":
                pages = member.client("iam").get_paginator("list_roles").paginate()
                return [
                    Resource(
                        resource_id=r["RoleId"],
                        resource_type=resource_type,
                        account_id=account_id,
                        region="global",
                        name=r["RoleName"],
                        arn=r["Arn"],
                        attributes={"roleName": r["RoleName"]},
                    )
                    for page in pages
                    for r in page["Roles"]
                ]
            return []

        return _aws(f"read {resource_type}", read, account_id=account_id, region=region)

    def details(self, resource: Resource) -> list[dict]:
        """What Config does not carry: bucket versioning and lifecycle, VPC flow logs and NACLs, role last use."""
        member = self._in(resource.account_id, resource.region)

        def read() -> list[dict]:
            if resource.resource_type == "AWS::S3::Bucket":
                s3 = member.client("s3")
                versioning = s3.get_bucket_versioning(Bucket=resource.resource_id).get("Status", "Disabled")
                try:
                    rules = s3.get_bucket_lifecycle_configuration(Bucket=resource.resource_id).get("Rules", [])
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                        raise
                    rules = []
                return [
                    {"source": "s3:GetBucketVersioning", "versioning": versioning},
                    {
                        "source": "s3:GetBucketLifecycleConfiguration",
                        "lifecycle_rules": [r.get("ID", "") for r in rules],
                        "expiration_days": [r.get("Expiration", {}).get("Days") for r in rules],
                    },
                ]
            if resource.resource_type == "AWS::EC2::VPC":
                ec2 = member.client("ec2", resource.region)
                vpc = [{"Name": "vpc-id", "Values": [resource.resource_id]}]
                flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [resource.resource_id]}])
                nacls = ec2.describe_network_acls(Filters=vpc)
                return [
                    {
                        "source": "ec2:DescribeFlowLogs",
                        "flow_logs": [f.get("LogDestination") or f.get("LogGroupName") for f in flow_logs["FlowLogs"]],
                    },
                    {
                        "source": "ec2:DescribeNetworkAcls",
                        "network_acls": [n["NetworkAclId"] for n in nacls["NetworkAcls"]],
                    },
                ]
            if resource.resource_type == "AWS::IAM::Role":
                name = resource.name or resource.attributes.get("roleName")
                last = member.client("iam").get_role(RoleName=name)["Role"].get("RoleLastUsed", {})
                used = last.get("LastUsedDate")
                return [
                    {
                        "source": "iam:GetRole",
                        "last_used": used.isoformat() if used else None,
                        "last_used_region": last.get("Region"),
                    }
                ]
            return []

        return _aws(f"details of {resource.resource_id}", read, account_id=resource.account_id, region=resource.region)

    # --- ConfigRules, CloudTrail -------------------------------------------------------------------

    def rule_compliance(self, account_id: str) -> dict[str, str]:
        """Config rule name -> compliance type (COMPLIANT, NON_COMPLIANT, ...) in the account."""

        def read() -> dict[str, str]:
            rules = self._in(account_id).client("config").describe_compliance_by_config_rule()
            return {
                rule["ConfigRuleName"]: (rule.get("Compliance") or {}).get("ComplianceType", "NOT_APPLICABLE")
                for rule in rules.get("ComplianceByConfigRules", [])
            }

        return _aws("config:DescribeComplianceByConfigRule", read, account_id=account_id)

    def lookup_events(
        self, account_id: str, region: str, start: datetime, end: datetime, attribute: tuple[str, str] | None = None
    ) -> list[TrailEvent]:
        """CloudTrail events of the account and region in [start, end], optionally with one lookup attribute."""
        kwargs = {"StartTime": start, "EndTime": end, "MaxResults": 50}
        if attribute:
            kwargs["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]

        def read() -> list[TrailEvent]:
            pages = self._in(account_id, region).client("cloudtrail", region).get_paginator("lookup_events")
            return [_trail_event(account_id, e) for page in pages.paginate(**kwargs) for e in page.get("Events", [])]

        return _aws("cloudtrail:LookupEvents", read, account_id=account_id, region=region)

    # --- Cost ----------------------------------------------------------------------------------------

    def cost_and_usage(self, request: dict) -> list[CostPeriod]:
        """GetCostAndUsage (Cost Explorer's only endpoint is us-east-1), following NextPageToken; each
        period's total is the stated total, else the sum of its groups."""
        ce = self.access.client("ce", "us-east-1")

        def read() -> list[CostPeriod]:
            periods, kwargs = [], dict(request)
            while True:
                page = ce.get_cost_and_usage(**kwargs)
                for raw in page.get("ResultsByTime", []):
                    groups = {
                        g["Keys"][0]: float(g["Metrics"]["UnblendedCost"]["Amount"]) for g in raw.get("Groups") or []
                    }
                    stated = float(((raw.get("Total") or {}).get("UnblendedCost") or {}).get("Amount") or 0)
                    periods.append(
                        CostPeriod(
                            start=date.fromisoformat(raw["TimePeriod"]["Start"]),
                            end=date.fromisoformat(raw["TimePeriod"]["End"]),
                            total_usd=stated or sum(groups.values()),
                            by_group=groups,
                        )
                    )
                if not page.get("NextPageToken"):
                    return periods
                kwargs["NextPageToken"] = page["NextPageToken"]

        return _aws("ce:GetCostAndUsage", read)

    # --- CloudWatch ----------------------------------------------------------------------------------

    def alarms(self, account_id: str, region: str, names: Sequence[str] | None = None) -> list[dict]:
        """Metric alarms of the account and region (all, or those named), in DescribeAlarms' shape."""

        def read() -> list[dict]:
            cloudwatch = self._in(account_id, region).client("cloudwatch", region)
            if names is None:
                pages = cloudwatch.get_paginator("describe_alarms").paginate()
                return [alarm for page in pages for alarm in page.get("MetricAlarms", [])]
            found = []
            for i in range(0, len(names), DESCRIBE_ALARMS_BATCH):
                batch = list(names[i : i + DESCRIBE_ALARMS_BATCH])
                found += cloudwatch.describe_alarms(AlarmNames=batch).get("MetricAlarms", [])
            return found

        return _aws("cloudwatch:DescribeAlarms", read, account_id=account_id, region=region)

    def metric_points(
        self, account_id: str, region: str, query: dict, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        """The (time, value) points of one GetMetricData query."""

        def read() -> list[tuple[datetime, float]]:
            cloudwatch = self._in(account_id, region).client("cloudwatch", region)
            result = cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end)
            return [
                (t, v)
                for series in result.get("MetricDataResults", [])
                for t, v in zip(series.get("Timestamps", []), series.get("Values", []))
            ]

        return _aws("cloudwatch:GetMetricData", read, account_id=account_id, region=region)


class AlarmWriter:
    """Step 7's alarms through the operations connection (unguarded, used only after the alarms gate)."""

    def __init__(self, access: AwsAccess) -> None:
        if access.read_only:
            raise ValueError("the alarm writer needs the operations connection, not the read-only one")
        self.access = access

    def put_metric_alarm(self, account_id: str, region: str, request: dict) -> None:
        def send() -> None:
            target = self.access.in_account(account_id, session_name="itsm-operations")
            target.client("cloudwatch", region).put_metric_alarm(**request)

        _aws("cloudwatch:PutMetricAlarm", send, account_id=account_id, region=region)
