"""The seeded facts beyond org.py that demo tickets reference (alarms, buckets, RDS, pilot week).

Everything per account is derived from `demo.org.ACCOUNTS`; nothing here repeats its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from include.itsm.devstack.demo import org

SCHEDULER_ROLE = "InstanceSchedulerRole"  # the pilot's scheduler identity in CloudTrail
RANDOM_SEED = 180  # moto's /moto-api/seed: makes resource ids reproducible run to run
INSTANCE_TYPES = ("t3.medium", "m5.large", "t3.large", "c5.xlarge", "r5.large")
FIRST_LAUNCH = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
LATE_LAUNCH_START = org.SPREADSHEET_AS_OF + timedelta(days=3, hours=2)
VPC_CIDR = {"ap-southeast-2": "10.{n}.0.0/16", "us-west-2": "10.{n}.128.0/17", "eu-west-1": "10.{n}.64.0/18"}


def account_tags(account: org.DemoAccount) -> dict[str, str]:
    """Organisation-level tags of a member account (org.py's own tags win)."""
    tags = {"owner": f"{account.name.split('-')[0]}-team@example.com", "cost-centre": f"CC-{account.account_id[-3:]}"}
    if account.env_tag is not None:
        tags[org.ENV_TAG_KEY] = account.env_tag
    return tags | account.tags


def instance_region(account: org.DemoAccount, index: int) -> str:
    """Instances go round-robin over the account's regions."""
    return account.regions[index % len(account.regions)]


def launch_time(account: org.DemoAccount, index: int) -> datetime:
    """The last `late_launches` instances of an account launch after SPREADSHEET_AS_OF."""
    late_from = account.instances - account.late_launches
    if index >= late_from:
        return LATE_LAUNCH_START + timedelta(days=2 * (index - late_from), minutes=int(account.account_id[-3:]))
    return FIRST_LAUNCH + timedelta(days=7 * index + int(account.account_id[-2:]), hours=index % 9)


def is_stopped(account: org.DemoAccount, index: int) -> bool:
    """One instance per already-scheduled account is stopped (the scheduler's night state)."""
    return account.scheduled and index == 0


@dataclass(frozen=True)
class Bucket:
    account: str
    name: str
    region: str
    versioning: bool = False
    lifecycle_days: int | None = None


@dataclass(frozen=True)
class Database:
    account: str
    identifier: str
    engine: str
    instance_class: str
    backup_retention: int
    region: str = "ap-southeast-2"
    storage_gb: int = 100


@dataclass(frozen=True)
class Role:
    account: str
    name: str
    service: str  # the trusted service principal


@dataclass(frozen=True)
class Alarm:
    account: str
    name: str
    namespace: str
    metric: str
    dimension: tuple[str, str]
    threshold: float
    comparison: str
    state: str
    reason: str
    region: str = "ap-southeast-2"


BUCKETS = (
    Bucket("prod-core", "kiwifreight-prod-core-artifacts", "ap-southeast-2", versioning=True, lifecycle_days=90),
    Bucket(
        "prod-payments", "kiwifreight-prod-payments-statements", "ap-southeast-2", versioning=True, lifecycle_days=2555
    ),
    Bucket("analytics-dev", "kiwifreight-analytics-dev-scratch", "ap-southeast-2", lifecycle_days=14),
    Bucket("datalake-dev", "kiwifreight-datalake-dev-raw", "ap-southeast-2", versioning=True),
    Bucket("dr-core", "kiwifreight-dr-core-backups", "us-west-2", versioning=True, lifecycle_days=35),
    Bucket("shared-services", "kiwifreight-shared-flow-logs", "ap-southeast-2", lifecycle_days=30),
    Bucket("sandbox", "kiwifreight-sandbox-tmp", "ap-southeast-2"),
    Bucket("datalake-dev", "kiwifreight-datalake-dev-landing", "ap-southeast-2", lifecycle_days=7),
    Bucket("staging-data", "kiwifreight-staging-data-fixtures", "ap-southeast-2", versioning=True),
)
FLOW_LOG_BUCKET = "kiwifreight-shared-flow-logs"

DATABASES = (
    Database("prod-core", "prod-core-orders-pg", "postgres", "db.r5.large", 7, storage_gb=200),
    Database("prod-payments", "prod-payments-ledger-mysql", "mysql", "db.m5.large", 35),
    Database("staging-core", "staging-core-orders-pg", "postgres", "db.t3.medium", 1),
    Database("dr-core", "dr-core-orders-pg", "postgres", "db.r5.large", 7, region="us-west-2"),
    Database("dev-apps", "dev-apps-mysql", "mysql", "db.t3.small", 0),
    Database("analytics-dev", "analytics-dev-pg", "postgres", "db.t3.medium", 1),
    Database("staging-core", "staging-core-orders-pg-ro", "postgres", "db.t3.medium", 0),
)

ROLES = tuple(
    Role(a.name, name, service)
    for a in org.ACCOUNTS
    for name, service in (("ec2-app-instance-role", "ec2.amazonaws.com"), ("lambda-ops-role", "lambda.amazonaws.com"))
) + (
    Role(org.PILOT_ACCOUNT.name, SCHEDULER_ROLE, "scheduler.amazonaws.com"),
    Role("prod-core", "DatadogIntegrationRole", "ec2.amazonaws.com"),
    Role("staging-core", "StagingTester", "ec2.amazonaws.com"),
    Role("dev-core", "DevReadOnly", "ec2.amazonaws.com"),
)

ALARMS = (
    Alarm(
        "prod-core",
        "prod-core-web-cpu-high",
        "AWS/EC2",
        "CPUUtilization",
        ("InstanceId", "{prod-core:0}"),
        90.0,
        "GreaterThanThreshold",
        "ALARM",
        "Threshold Crossed: 3 datapoints were greater than the threshold (90.0)",
    ),
    Alarm(
        "prod-core",
        "prod-core-alb-5xx",
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
        ("LoadBalancer", "app/prod-core-alb/5f3c9a1b2d4e6f70"),
        50.0,
        "GreaterThanThreshold",
        "ALARM",
        "Threshold Crossed: 1 datapoint [412.0] was greater than the threshold (50.0)",
    ),
    Alarm(
        "prod-payments",
        "prod-payments-ledger-free-storage-low",
        "AWS/RDS",
        "FreeStorageSpace",
        ("DBInstanceIdentifier", "prod-payments-ledger-mysql"),
        10 * 1024**3,
        "LessThanThreshold",
        "ALARM",
        "Threshold Crossed: 1 datapoint [4.2E9] was less than the threshold (1.073741824E10)",
    ),
    Alarm(
        "dr-core",
        "dr-core-orders-pg-replica-lag",
        "AWS/RDS",
        "ReplicaLag",
        ("DBInstanceIdentifier", "dr-core-orders-pg"),
        300.0,
        "GreaterThanThreshold",
        "ALARM",
        "Threshold Crossed: 3 datapoints [1840.0, 1620.0, 1410.0] were greater than the threshold (300.0)",
        region="us-west-2",
    ),
    Alarm(
        "dr-core",
        "dr-core-backups-replication-latency",
        "AWS/S3",
        "ReplicationLatency",
        ("SourceBucket", "kiwifreight-prod-core-artifacts"),
        900.0,
        "GreaterThanThreshold",
        "ALARM",
        "Threshold Crossed: 3 datapoints [5412.0, 4980.0, 4623.0] were greater than the threshold (900.0)",
        region="us-west-2",
    ),
    Alarm(
        "staging-core",
        "staging-core-api-cpu-high",
        "AWS/EC2",
        "CPUUtilization",
        ("InstanceId", "{staging-core:1}"),
        85.0,
        "GreaterThanThreshold",
        "OK",
        "Threshold Crossed: no datapoints were greater than the threshold",
    ),
)
# Metric samples behind the alarms: (alarm name, start, minutes between points, values).
INCIDENT_LEAD = timedelta(minutes=75)  # the incidents' metrics start this long before the org is seeded


def metric_series(seeded_at: datetime) -> dict[str, tuple[datetime, int, tuple[float, ...]]]:
    """Each alarm's metric history: (first timestamp, minutes between points, values).

    Relative to the seeding time, as the demo tickets are to the board's: the incident tickets
    were filed minutes ago, so their alarms fired just before (the timeline reads 30 days back
    from the ticket, and a fixed date would fall out of that window as the calendar moves on)."""
    start = seeded_at.replace(second=0, microsecond=0) - INCIDENT_LEAD
    start -= timedelta(minutes=start.minute % 5)
    return {
        "prod-core-web-cpu-high": (start, 5, (22, 25, 31, 48, 77, 93, 97, 99, 98, 96, 61, 34)),
        "prod-core-alb-5xx": (start, 5, (0, 1, 0, 3, 40, 212, 412, 388, 150, 12, 2, 0)),
        "prod-payments-ledger-free-storage-low": (
            start - timedelta(days=6),
            24 * 60,
            tuple(v * 1024**3 for v in (48, 41, 33, 25, 17, 9, 4.2)),
        ),
        "dr-core-orders-pg-replica-lag": (start, 5, (2, 3, 40, 410, 980, 1410, 1620, 1840, 1200, 300)),
        "dr-core-backups-replication-latency": (start, 5, (120, 180, 900, 4623, 4980, 5412, 3100, 800)),
        "staging-core-api-cpu-high": (start, 5, (15, 18, 20, 22, 19, 17)),
    }


# The scheduler pilot (Phase 1, sandbox): Tuesday 22:00 Pacific/Auckland (NZDT, UTC+13).
PILOT_STOP_AT = datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
PILOT_START_AT = datetime(2026, 10, 27, 19, 0, tzinfo=UTC)  # 08:00 NZDT next morning
PILOT_FAILED_INDEXES = (4, 11)  # sandbox instances whose StopInstances failed
PILOT_ERROR_CODE = "Client.UnauthorizedOperation"
PILOT_ERROR_MESSAGE = (
    "Instance scheduler refused to stop {instance}: 2 active user sessions (SSM) detected; "
    "the instance is protected while sessions are open"
)

# Cost Explorer (management account). Compute share = EC2_COMPUTE / total ~= 1.88 %.
EC2_COMPUTE_SERVICE = "Amazon Elastic Compute Cloud - Compute"
COST_MONTH = (date(2026, 10, 1), date(2026, 11, 1))
MONTHLY_COST_BY_SERVICE = {
    EC2_COMPUTE_SERVICE: 17550.00,
    "Amazon Relational Database Service": 212430.55,
    "Amazon Simple Storage Service": 301877.12,
    "Amazon Elastic Container Service": 188220.40,
    "AWS Lambda": 96415.77,
    "Amazon CloudWatch": 41290.18,
    "EC2 - Other": 75726.62,
}
PILOT_DAILY_BASELINE = 82.00  # sandbox EC2 compute per day before the pilot
PILOT_WEEK_SAVING = 287.00
COST_DAILY = (PILOT_STOP_AT.date() - timedelta(days=7), PILOT_STOP_AT.date() + timedelta(days=7))


def pilot_daily_costs() -> list[tuple[date, float]]:
    """Sandbox EC2 compute per day: a baseline week, then the pilot week saving $287 in total."""
    days = (COST_DAILY[1] - COST_DAILY[0]).days
    saving_per_day = round(PILOT_WEEK_SAVING / 7, 2)
    out = []
    for i in range(days):
        day = COST_DAILY[0] + timedelta(days=i)
        pilot = day >= PILOT_STOP_AT.date()
        amount = PILOT_DAILY_BASELINE - (saving_per_day if pilot else 0.0)
        out.append((day, round(amount, 2)))
    # absorb the rounding so the week sums to exactly the saving
    drift = round(PILOT_WEEK_SAVING - 7 * saving_per_day, 2)
    last_day, last_amount = out[-1]
    out[-1] = (last_day, round(last_amount - drift, 2))
    return out
