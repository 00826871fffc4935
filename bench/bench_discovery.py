"""Org-wide discovery on a local AWS (moto): API calls and time against a naive per-account read.

A local AWS started with `--no-seed`, then, once per run: an organisation with `accounts`
member accounts, `instances` EC2 instances spread over them (moto creates ~150/s: the full
size takes about a minute to build) and an organisation Config aggregator. Measured:

- org-wide: `take_org_snapshot` (organizations:ListAccounts pages + one Config aggregator
  query, 100 rows a page) - the product's sweep path;
- naive: per member account, sts:AssumeRole then ec2:DescribeInstances (all pages) in each of
  the customer's regions.

Calls are counted at the client (`AwsAccess.api_calls`) and at the local AWS front
(`/_devstack/calls`). Target: org-wide calls <= ceil(rows / 100) + 10.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import boto3

from bench._common import Result
from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.steps.discover.service import take_org_snapshot
from tests.integration.aws_fixtures import start_local_aws

REGION = "ap-southeast-2"
AGGREGATOR = "org-aggregator"
IMAGE_ID = "ami-12c6146b"
CONSTANT = 10  # ListAccounts pages and the like


def build_fleet(endpoint: str, accounts: int, instances: int) -> list[str]:
    kw = dict(region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
    orgs = boto3.client("organizations", **kw)
    orgs.create_organization(FeatureSet="ALL")
    ids = [
        orgs.create_account(Email=f"bench+{i}@example.com", AccountName=f"bench-{i:03d}")["CreateAccountStatus"][
            "AccountId"
        ]
        for i in range(accounts)
    ]
    sts = boto3.client("sts", **kw)
    per_account = [instances // accounts + (1 if i < instances % accounts else 0) for i in range(accounts)]
    for account_id, count in zip(ids, per_account):
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
        )["Credentials"]
        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        while count > 0:
            batch = min(count, 500)
            ec2.run_instances(ImageId=IMAGE_ID, MinCount=batch, MaxCount=batch, InstanceType="t3.micro")
            count -= batch
    boto3.client("config", **kw).put_configuration_aggregator(
        ConfigurationAggregatorName=AGGREGATOR,
        OrganizationAggregationSource={
            "RoleArn": "arn:aws:iam::123456789012:role/aws-config-aggregator",
            "AllAwsRegions": True,
        },
    )
    return ids


def _front_calls(local) -> Counter:
    return Counter(f"{c['service']}:{c['operation']}" for c in local.calls())


def run(quick: bool) -> Result:
    accounts, instances = (10, 1_000) if quick else (100, 10_000)
    result = Result(
        name=f"discovery ({instances:,} instances, {accounts} accounts)",
        target=f"org-wide calls <= ceil(rows/100) + {CONSTANT}",
        ratio_label="naive/org-wide calls",
    )
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp:
        proc, local = start_local_aws(Path(tmp) / "aws.log", seed=False)
        try:
            start = time.perf_counter()
            member_ids = build_fleet(local.endpoint_url, accounts, instances)
            build_s = time.perf_counter() - start
            settings = AwsSettings(
                region_name=REGION,
                endpoint_url=local.endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            regions = [REGION]

            aws = AwsAccess(settings)
            ctx = SimpleNamespace(
                aws=aws, customer=SimpleNamespace(aggregator_name=AGGREGATOR), run_id="bench", mode="preview"
            )
            local.clear_calls()
            start = time.perf_counter()
            snapshot = take_org_snapshot(ctx)
            org_s = time.perf_counter() - start
            org_calls, org_front = sum(aws.api_calls.values()), _front_calls(local)
            found = sum(r.resource_type == "AWS::EC2::Instance" for r in snapshot.resources)

            naive = AwsAccess(settings)
            local.clear_calls()
            start = time.perf_counter()
            naive_found = 0
            for account_id in member_ids:
                member = naive.assume_member(account_id)
                for region in regions:
                    naive_found += sum(1 for _ in member.instances(region))
            naive_s = time.perf_counter() - start
            naive_calls, naive_front = sum(naive.api_calls.values()), _front_calls(local)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rows = len(snapshot.resources)
    bound = math.ceil(rows / 100) + CONSTANT
    result.figures["org-wide"] = (
        f"{org_calls} calls (front {sum(org_front.values())}), {org_s:.2f} s, {rows:,} rows "
        f"({found:,} instances, {len(snapshot.accounts)} accounts); {dict(aws.api_calls)}"
    )
    result.figures["naive per account"] = (
        f"{naive_calls} calls (front {sum(naive_front.values())}), {naive_s:.2f} s, "
        f"{naive_found:,} instances; {dict(naive.api_calls)}"
    )
    result.figures["bound ceil(rows/100) + const"] = str(bound)
    result.figures["fleet build (moto, not timed above)"] = f"{build_s:.1f} s"
    result.ratio = naive_calls / max(org_calls, 1)
    result.passed = (
        org_calls <= bound and sum(org_front.values()) <= bound and found == instances and not snapshot.errors
    )
    if snapshot.errors:
        result.note = f"snapshot errors: {snapshot.errors[:2]}"
    return result
