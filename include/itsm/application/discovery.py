"""Step 2 against AWS: the org-wide snapshot, the per-account fallback and direct details.

Reads only, through the guarded `aws_default` path. Every failure is recorded against the
account and operation it hit (AccessDenied in one account is a fact about that account,
never a silent zero); throttling is retried by botocore's standard mode (3 retries,
exponential backoff with jitter).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from include.itsm.adapters.aws import AwsAccess
from include.itsm.application.context import RunContext
from include.itsm.domain.artifact import Provenance
from include.itsm.domain.discover import ALL_RESOURCE_TYPES, Discovery, aggregator_query, discover, \
    resource_from_config_row, scope_of, select, accounts_needing_fallback
from include.itsm.domain.intake import IntakeResult
from include.itsm.domain.inventory import AccountError, AccountInfo, InventorySnapshot, Resource

MAX_DETAILED_RESOURCES = 25  # direct per-resource reads are for a ticket's scope, not the org


def _error(account_id: str, operation: str, exc: Exception, region: str | None = None) -> AccountError:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        message = exc.response.get("Error", {}).get("Message", str(exc))
    else:
        code, message = type(exc).__name__, str(exc)
    return AccountError(account_id=account_id, region=region, operation=operation, code=code, message=message)


def org_wide_query() -> str:
    types = ", ".join(f"'{t}'" for t in ALL_RESOURCE_TYPES)
    return aggregator_query("X").replace("resourceType = 'X'", f"resourceType IN ({types})")


def take_org_snapshot(ctx: RunContext) -> InventorySnapshot:
    """One org-wide inventory (accounts + every discoverable resource) with its API-call cost."""
    aws, customer = ctx.aws, ctx.customer
    before = Counter(aws.api_calls)
    as_of = datetime.now(timezone.utc)
    accounts, resources, errors, provenance = [], [], [], []
    try:
        for page in aws.client("organizations").get_paginator("list_accounts").paginate():
            accounts += [AccountInfo(account_id=a["Id"], name=a.get("Name", ""), status=a.get("Status", ""))
                         for a in page["Accounts"]]
        provenance.append(Provenance(source="aws:organizations:ListAccounts", as_of=as_of,
                                     detail={"accounts": len(accounts)}))
    except (ClientError, BotoCoreError) as exc:
        errors.append(_error("organization", "organizations:ListAccounts", exc))
    query = org_wide_query()
    try:
        resources = [resource_from_config_row(row) for row in aws.select_aggregate(query, customer.aggregator_name)]
        provenance.append(Provenance(source="aws:config:SelectAggregateResourceConfig", query=query, as_of=as_of,
                                     detail={"aggregator": customer.aggregator_name, "rows": len(resources)}))
    except (ClientError, BotoCoreError) as exc:
        errors.append(_error("organization", "config:SelectAggregateResourceConfig", exc))
    calls = Counter(aws.api_calls)
    calls.subtract(before)
    return InventorySnapshot(key="_org", step="discover", run_id=ctx.run_id, mode=ctx.mode, as_of=as_of,
                             accounts=accounts, resources=resources, errors=errors, provenance=provenance,
                             api_calls={k: v for k, v in calls.items() if v})


# --- the per-account path ----------------------------------------------------------------------

def _instance(account_id: str, region: str, raw: dict) -> Resource:
    tags = {t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])}
    return Resource(resource_id=raw["InstanceId"], resource_type="AWS::EC2::Instance", account_id=account_id,
                    region=region, name=tags.get("Name"), state=raw.get("State", {}).get("Name"),
                    launch_time=raw.get("LaunchTime"), tags=tags,
                    attributes={"instanceType": raw.get("InstanceType"), "vpcId": raw.get("VpcId")})


def _read_type(member: AwsAccess, account_id: str, region: str, resource_type: str) -> list[Resource]:
    """The direct API equivalent of one Config resource type in one account and region."""
    def tagged(items, id_key, rtype, **attrs):
        return [Resource(resource_id=i[id_key], resource_type=rtype, account_id=account_id, region=region,
                         tags={t["Key"]: t.get("Value", "") for t in i.get("Tags", [])},
                         attributes={k: i.get(v) for k, v in attrs.items()}) for i in items]

    ec2 = lambda: member.client("ec2", region)  # noqa: E731 - created only when the type needs it
    if resource_type == "AWS::EC2::Instance":
        return [_instance(account_id, region, raw) for raw in member.instances(region)]
    if resource_type == "AWS::EC2::VPC":
        return tagged(ec2().describe_vpcs()["Vpcs"], "VpcId", resource_type, cidrBlock="CidrBlock")
    if resource_type == "AWS::EC2::Subnet":
        return tagged(ec2().describe_subnets()["Subnets"], "SubnetId", resource_type, vpcId="VpcId")
    if resource_type == "AWS::EC2::SecurityGroup":
        return tagged(ec2().describe_security_groups()["SecurityGroups"], "GroupId", resource_type,
                      vpcId="VpcId", groupName="GroupName")
    if resource_type == "AWS::RDS::DBInstance":
        pages = member.client("rds", region).get_paginator("describe_db_instances").paginate()
        return [Resource(resource_id=db["DbiResourceId"], resource_type=resource_type, account_id=account_id,
                         region=region, name=db["DBInstanceIdentifier"], state=db.get("DBInstanceStatus"),
                         attributes={"engine": db.get("Engine"), "backupRetentionPeriod": db.get("BackupRetentionPeriod"),
                                     "dBInstanceIdentifier": db["DBInstanceIdentifier"]})
                for page in pages for db in page["DBInstances"]]
    if resource_type == "AWS::S3::Bucket" and region == member.settings.region_name:  # global listing, once
        return [Resource(resource_id=b["Name"], resource_type=resource_type, account_id=account_id, region="",
                         name=b["Name"]) for b in member.client("s3").list_buckets()["Buckets"]]
    if resource_type == "AWS::IAM::Role" and region == member.settings.region_name:
        pages = member.client("iam").get_paginator("list_roles").paginate()
        return [Resource(resource_id=r["RoleId"], resource_type=resource_type, account_id=account_id,
                         region="global", name=r["RoleName"], arn=r["Arn"], attributes={"roleName": r["RoleName"]})
                for page in pages for r in page["Roles"]]
    return []


def per_account(ctx: RunContext, account_id: str, resource_types: list[str]
                ) -> tuple[list[Resource] | None, list[AccountError], Provenance]:
    """Assume the member role and read the scope's types directly; None when the account is unreadable."""
    as_of = datetime.now(timezone.utc)
    provenance = Provenance(source="aws:per-account", as_of=as_of, detail={
        "account_id": account_id, "role": ctx.customer.member_role_name, "resource_types": resource_types,
        "regions": ctx.customer.regions})
    try:
        member = ctx.aws.assume_member(account_id)
    except (ClientError, BotoCoreError) as exc:
        return None, [_error(account_id, "sts:AssumeRole", exc)], provenance
    found: list[Resource] = []
    errors: list[AccountError] = []
    for region in ctx.customer.regions:
        for resource_type in resource_types:
            try:
                found += _read_type(member, account_id, region, resource_type)
            except (ClientError, BotoCoreError) as exc:
                errors.append(_error(account_id, f"read {resource_type}", exc, region))
    return (None if errors and not found else found), errors, provenance


# --- direct details Config does not carry -------------------------------------------------------

def _details_for(member: AwsAccess, resource: Resource) -> list[dict]:
    if resource.resource_type == "AWS::S3::Bucket":
        s3 = member.client("s3")
        versioning = s3.get_bucket_versioning(Bucket=resource.resource_id).get("Status", "Disabled")
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=resource.resource_id).get("Rules", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        return [{"source": "s3:GetBucketVersioning", "versioning": versioning},
                {"source": "s3:GetBucketLifecycleConfiguration",
                 "lifecycle_rules": [r.get("ID", "") for r in rules],
                 "expiration_days": [r.get("Expiration", {}).get("Days") for r in rules]}]
    if resource.resource_type == "AWS::EC2::VPC":
        ec2 = member.client("ec2", resource.region)
        flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [resource.resource_id]}])
        nacls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [resource.resource_id]}])
        return [{"source": "ec2:DescribeFlowLogs",
                 "flow_logs": [f.get("LogDestination") or f.get("LogGroupName") for f in flow_logs["FlowLogs"]]},
                {"source": "ec2:DescribeNetworkAcls", "network_acls": [n["NetworkAclId"] for n in nacls["NetworkAcls"]]}]
    if resource.resource_type == "AWS::IAM::Role":
        role = member.client("iam").get_role(RoleName=resource.name or resource.attributes.get("roleName"))["Role"]
        last = role.get("RoleLastUsed", {})
        return [{"source": "iam:GetRole", "last_used": last.get("LastUsedDate").isoformat()
                 if last.get("LastUsedDate") else None, "last_used_region": last.get("Region")}]
    return []


def direct_details(ctx: RunContext, resources: list[Resource]) -> tuple[dict[str, list[dict]], list[AccountError]]:
    """Versioning/lifecycle, flow logs/NACLs and role last use for (at most 25) in-scope resources."""
    details: dict[str, list[dict]] = {}
    errors: list[AccountError] = []
    management = None
    for resource in resources[:MAX_DETAILED_RESOURCES]:
        if resource.resource_type not in ("AWS::S3::Bucket", "AWS::EC2::VPC", "AWS::IAM::Role"):
            continue
        try:
            if management is None:
                management = ctx.aws.client("sts").get_caller_identity()["Account"]
            member = ctx.aws if resource.account_id == management else ctx.aws.assume_member(resource.account_id)
            details[resource.resource_id] = _details_for(member, resource)
        except (ClientError, BotoCoreError) as exc:
            errors.append(_error(resource.account_id, f"details of {resource.resource_id}", exc, resource.region))
    return details, errors


def discover_ticket(ctx: RunContext, key: str, intake: IntakeResult, snapshot: InventorySnapshot,
                    standard_env_values: set[str]) -> Discovery:
    """Filter the snapshot to the ticket's scope; fall back per account where it shows zero."""
    scope = scope_of(intake, snapshot.org_account_ids())
    in_scope, _ = select(snapshot.resources, scope)
    fallback_resources, fallback_errors, fallback_provenance = {}, [], {}
    for account in accounts_needing_fallback(scope, in_scope):
        found, errors, provenance = per_account(ctx, account, scope.resource_types)
        if found is not None:
            fallback_resources[account] = found
        fallback_errors += errors
        fallback_provenance[account] = provenance
    details, detail_errors = direct_details(ctx, in_scope + [r for rs in fallback_resources.values() for r in rs])
    return discover(key=key, run_id=ctx.run_id, intake=intake, snapshot=snapshot, snapshot_run_id=snapshot.run_id,
                    env_tag_key=ctx.customer.env_tag_key, standard_env_values=standard_env_values,
                    fallback_resources=fallback_resources, fallback_errors=fallback_errors + detail_errors,
                    fallback_provenance=fallback_provenance, details=details, mode=ctx.mode)
