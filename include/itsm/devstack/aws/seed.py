"""Seeds the demo organisation through boto3 over HTTP to the running server.

In-process only what no API can set: backdated launch times, CloudTrail history, Cost Explorer
answers per granularity. Deterministic: moto's random generator is seeded first.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta

import boto3
import requests
from botocore.config import Config

from include.itsm.devstack.aws import patches
from include.itsm.devstack.aws import seed_data as data
from include.itsm.devstack.aws.events import TrailEvent
from include.itsm.devstack.aws.front import AwsFront
from include.itsm.devstack.demo import org

ACCESS_KEY = SECRET_KEY = "testing"
HOME_REGION = "ap-southeast-2"
IMAGE_ID = "ami-12c6146b"


class Seeder:
    """One pass over org.py; `instance_ids[account name]` keeps each account's ids in index order."""

    def __init__(self, endpoint_url: str, front: AwsFront) -> None:
        self.endpoint_url = endpoint_url
        self.front = front
        self.session = boto3.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=HOME_REGION
        )
        self.config = Config(retries={"max_attempts": 2, "mode": "standard"})
        self.instance_ids: dict[str, list[str]] = {}
        self.creds: dict[str, dict] = {}

    def client(self, service: str, account: org.DemoAccount | None = None, region: str = HOME_REGION):
        creds = {}
        if account is not None:
            c = self.creds[account.name]
            creds = {
                "aws_access_key_id": c["AccessKeyId"],
                "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"],
            }
        return self.session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=self.config, **creds
        )

    def run(self) -> None:
        requests.post(
            f"{self.endpoint_url}/moto-api/seed", params={"a": data.RANDOM_SEED}, timeout=10
        ).raise_for_status()
        self.organisation()
        self.buckets()  # before networks: the flow logs go to a bucket
        for account in org.ACCOUNTS:
            self.account_resources(account)
        self.databases()
        self.roles()
        self.aggregator()
        self.alarms()
        self.cost_explorer()
        self.pilot_history()

    def organisation(self) -> None:
        orgs = self.client("organizations")
        orgs.create_organization(FeatureSet="ALL")
        sts = self.client("sts")
        for account in org.ACCOUNTS:
            status = orgs.create_account(
                Email=f"aws+{account.name}@example.com",
                AccountName=account.name,
                Tags=[{"Key": k, "Value": v} for k, v in data.account_tags(account).items()],
            )["CreateAccountStatus"]
            if status["AccountId"] != account.account_id:
                raise RuntimeError(f"{account.name} got id {status['AccountId']}: account id patch not installed")
            role = f"arn:aws:iam::{account.account_id}:role/{org.MEMBER_ROLE_NAME}"
            self.creds[account.name] = sts.assume_role(RoleArn=role, RoleSessionName="devstack-seed")["Credentials"]

    def account_resources(self, account: org.DemoAccount) -> None:
        ids: list[str | None] = [None] * account.instances
        for n, region in enumerate(account.regions):
            ec2 = self.client("ec2", account, region)
            subnet_id = self.network(account, region, ec2, n)
            indexes = [i for i in range(account.instances) if data.instance_region(account, i) == region]
            tags = [{"Key": org.ENV_TAG_KEY, "Value": account.env_tag}] if account.env_tag is not None else []
            if account.scheduled:
                tags.append({"Key": org.SCHEDULER_TAG_KEY, "Value": org.SCHEDULER_TAG_VALUE})
            launched = ec2.run_instances(
                ImageId=IMAGE_ID,
                MinCount=len(indexes),
                MaxCount=len(indexes),
                SubnetId=subnet_id,
                InstanceType=data.INSTANCE_TYPES[int(account.account_id[-2:]) % len(data.INSTANCE_TYPES)],
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}] if tags else [],
            )["Instances"]
            for index, instance in zip(indexes, launched):
                ids[index] = instance["InstanceId"]
                ec2.create_tags(
                    Resources=[instance["InstanceId"]],
                    Tags=[{"Key": "Name", "Value": f"{account.name}-{index + 1:02d}"}],
                )
                patches.set_launch_time(
                    account.account_id, region, instance["InstanceId"], data.launch_time(account, index)
                )
            stopped = [ids[i] for i in indexes if data.is_stopped(account, i)]
            if stopped:
                ec2.stop_instances(InstanceIds=stopped)
        self.instance_ids[account.name] = [i for i in ids if i]

    def network(self, account: org.DemoAccount, region: str, ec2, n: int) -> str:
        """A VPC with two subnets, a security group, a NACL rule and flow logs to the shared bucket."""
        octet = int(account.account_id[-3:]) % 250
        cidr = data.VPC_CIDR[region].format(n=octet)
        vpc = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"{account.name}-vpc"}]}],
        )["Vpc"]["VpcId"]
        blocks = ipaddress.ip_network(cidr).subnets(new_prefix=20)
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=str(block), AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
            for az, block in zip("ab", blocks)
        ]
        sg = ec2.create_security_group(GroupName=f"{account.name}-app", Description="app tier", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ],
        )
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=100,
            Protocol="6",
            RuleAction="allow",
            Egress=False,
            CidrBlock="10.0.0.0/8",
            PortRange={"From": 443, "To": 443},
        )
        ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{data.FLOW_LOG_BUCKET}/{account.name}/",
        )
        return subnets[n % 2]

    def buckets(self) -> None:
        for bucket in data.BUCKETS:
            s3 = self.client("s3", org.account_by_name(bucket.account), bucket.region)
            s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": bucket.region})
            s3.put_bucket_tagging(Bucket=bucket.name, Tagging={"TagSet": [{"Key": "owner", "Value": bucket.account}]})
            if bucket.versioning:
                s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
            if bucket.lifecycle_days:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=bucket.name,
                    LifecycleConfiguration={
                        "Rules": [
                            {
                                "ID": "expire",
                                "Status": "Enabled",
                                "Filter": {"Prefix": ""},
                                "Expiration": {"Days": bucket.lifecycle_days},
                            }
                        ]
                    },
                )

    def databases(self) -> None:
        for db in data.DATABASES:
            account = org.account_by_name(db.account)
            self.client("rds", account, db.region).create_db_instance(
                DBInstanceIdentifier=db.identifier,
                Engine=db.engine,
                DBInstanceClass=db.instance_class,
                AllocatedStorage=db.storage_gb,
                MasterUsername="dbadmin",
                MasterUserPassword="devstack-only-1",
                BackupRetentionPeriod=db.backup_retention,
                Tags=[{"Key": "env", "Value": account.env_tag or "none"}],
            )

    def roles(self) -> None:
        for role in data.ROLES:
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": role.service}, "Action": "sts:AssumeRole"}],
            }
            self.client("iam", org.account_by_name(role.account)).create_role(
                RoleName=role.name, AssumeRolePolicyDocument=json.dumps(trust)
            )

    def aggregator(self) -> None:
        self.client("config").put_configuration_aggregator(
            ConfigurationAggregatorName=org.AGGREGATOR_NAME,
            OrganizationAggregationSource={
                "RoleArn": f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/aws-config-aggregator",
                "AllAwsRegions": True,
            },
        )

    def alarms(self) -> None:
        series = data.metric_series(datetime.now(UTC))
        for alarm in data.ALARMS:
            account = org.account_by_name(alarm.account)
            cw = self.client("cloudwatch", account, alarm.region)
            dim_value = alarm.dimension[1]
            if dim_value.startswith("{"):  # "{account:index}": one of that account's instances
                name, index = dim_value.strip("{}").split(":")
                dim_value = self.instance_ids[name][int(index)]
            dims = [{"Name": alarm.dimension[0], "Value": dim_value}]
            start, step, values = series[alarm.name]
            cw.put_metric_data(
                Namespace=alarm.namespace,
                MetricData=[
                    {
                        "MetricName": alarm.metric,
                        "Dimensions": dims,
                        "Value": float(v),
                        "Timestamp": start + timedelta(minutes=step * k),
                    }
                    for k, v in enumerate(values)
                ],
            )
            cw.put_metric_alarm(
                AlarmName=alarm.name,
                Namespace=alarm.namespace,
                MetricName=alarm.metric,
                Dimensions=dims,
                Statistic="Average",
                Period=300,
                EvaluationPeriods=3,
                Threshold=alarm.threshold,
                ComparisonOperator=alarm.comparison,
                ActionsEnabled=False,
            )
            cw.set_alarm_state(AlarmName=alarm.name, StateValue=alarm.state, StateReason=alarm.reason)

    def cost_explorer(self) -> None:
        """Queue the results in moto and tell the front which granularity gets which."""
        monthly = {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": str(data.COST_MONTH[0]), "End": str(data.COST_MONTH[1])},
                    "Total": {
                        "UnblendedCost": {"Amount": f"{sum(data.MONTHLY_COST_BY_SERVICE.values()):.2f}", "Unit": "USD"}
                    },
                    "Groups": [
                        {"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}}}
                        for service, amount in data.MONTHLY_COST_BY_SERVICE.items()
                    ],
                    "Estimated": False,
                }
            ],
            "DimensionValueAttributes": [],
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        }
        daily = {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": str(day), "End": str(day + timedelta(days=1))},
                    "Total": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}},
                    "Groups": [],
                    "Estimated": False,
                }
                for day, amount in data.pilot_daily_costs()
            ],
            "DimensionValueAttributes": [],
        }
        requests.post(
            f"{self.endpoint_url}/moto-api/static/ce/cost-and-usage-results",
            timeout=10,
            json={"account_id": org.MANAGEMENT_ACCOUNT_ID, "results": [monthly, daily]},
        ).raise_for_status()
        self.front.ce_results = {"MONTHLY": monthly, "DAILY": daily}

    def pilot_history(self) -> None:
        """The pilot week's scheduler calls as CloudTrail recorded them (no API backdates events)."""
        pilot = org.PILOT_ACCOUNT
        region = pilot.regions[0]
        ids = self.instance_ids[pilot.name]
        patches.set_role_last_used(pilot.account_id, data.SCHEDULER_ROLE, data.PILOT_START_AT, region)
        for index, instance in enumerate(ids):
            failed = index in data.PILOT_FAILED_INDEXES
            self.front.events.add(
                TrailEvent(
                    account_id=pilot.account_id,
                    region=region,
                    event_name="StopInstances",
                    event_source="ec2.amazonaws.com",
                    event_time=data.PILOT_STOP_AT + timedelta(seconds=index),
                    username=data.SCHEDULER_ROLE,
                    resources=[("AWS::EC2::Instance", instance)],
                    request_parameters={"instancesSet": {"items": [{"instanceId": instance}]}},
                    error_code=data.PILOT_ERROR_CODE if failed else None,
                    error_message=data.PILOT_ERROR_MESSAGE.format(instance=instance) if failed else None,
                )
            )
            if not failed:
                self.front.events.add(
                    TrailEvent(
                        account_id=pilot.account_id,
                        region=region,
                        event_name="StartInstances",
                        event_source="ec2.amazonaws.com",
                        event_time=data.PILOT_START_AT + timedelta(seconds=index),
                        username=data.SCHEDULER_ROLE,
                        resources=[("AWS::EC2::Instance", instance)],
                        request_parameters={"instancesSet": {"items": [{"instanceId": instance}]}},
                    )
                )


def seed(endpoint_url: str, front: AwsFront) -> None:
    Seeder(endpoint_url, front).run()
