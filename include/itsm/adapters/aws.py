"""AWS access: sessions built from the customer's Airflow connections, the read-only guard, member hops.

Sessions come from the Amazon provider's own session factory (`AwsBaseHook.get_session`), so a
connection behaves exactly as the provider documents it: `role_arn` in the extra is assumed (with
`assume_role_kwargs`, e.g. `ExternalId`), `region_name` and `endpoint_url` (or per-service
`service_config`) are honoured, and credentials refresh before they expire. A new session costs
about 0.3 s, so each connection has one per process and clients are cached per account and region.

The read-only path (`aws_default`): the guard is registered on the session's
`before-parameter-build` event before any client exists, so every client and every presigned URL
made from that session passes it, and a refused call never leaves the process. It is an
allow-list: exactly the operations discovery and the lifecycle's reads need, the same set the IAM
policies in deploy/iam/ grant (tests/unit/test_readonly_guard.py keeps them equal). The write path
(`aws_operations`, step 7's alarms after an approved gate) gets its own unguarded session.

Member accounts are reached with `sts:AssumeRole` into `arn:aws:iam::<id>:role/<member role>`. The
member role is, in this order: the connection extra's `member_role_name`, the customer
configuration's `member_role_name` (`operations_member_role_name` for the write path), else
`ITSMMemberRead` / `ITSMMemberOperations` (deploy/iam/member-read-role.json, member-operations-role.json);
`itsm doctor` shows the role each hop really used.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

# Exactly what the read path calls (botocore service name, operation), as granted by
# deploy/iam/discovery-role.json and deploy/iam/member-read-role.json.
READ_OPERATIONS = frozenset(
    {
        ("ce", "GetCostAndUsage"),
        ("cloudtrail", "LookupEvents"),
        ("cloudwatch", "DescribeAlarms"),
        ("cloudwatch", "GetMetricData"),
        ("config", "DescribeComplianceByConfigRule"),
        ("config", "SelectAggregateResourceConfig"),
        ("ec2", "DescribeFlowLogs"),
        ("ec2", "DescribeInstances"),
        ("ec2", "DescribeNetworkAcls"),
        ("ec2", "DescribeSecurityGroups"),
        ("ec2", "DescribeSubnets"),
        ("ec2", "DescribeVpcs"),
        ("iam", "GetRole"),
        ("iam", "ListRoles"),
        ("organizations", "ListAccounts"),
        ("rds", "DescribeDBInstances"),
        ("s3", "GetBucketLifecycleConfiguration"),
        ("s3", "GetBucketVersioning"),
        ("s3", "ListBuckets"),
        ("sts", "AssumeRole"),
        ("sts", "GetCallerIdentity"),
    }
)
DEFAULT_MEMBER_ROLE = "ITSMMemberRead"
DEFAULT_OPERATIONS_MEMBER_ROLE = "ITSMMemberOperations"
# standard mode: max_attempts 3 means 3 retries after the first try (4 requests at most).
RETRIES = {"max_attempts": 3, "mode": "standard"}
READ_TIMEOUT_S = 120  # large Describe pages from big accounts are slow
ASSUMED_ROLE_REFRESH = timedelta(minutes=5)  # renew assumed credentials this long before expiry


class ReadOnlyViolation(Exception):
    """A call outside the read allow-list on the read-only path; deliberately not a ClientError."""


def check_read_only(service: str, operation: str) -> None:
    """Raise ReadOnlyViolation unless `service:operation` is one of the read operations the product uses."""
    if (service, operation) not in READ_OPERATIONS:
        raise ReadOnlyViolation(f"{service}:{operation} refused on the read-only AWS path (not in the read allow-list)")


def _guard(model, **_kwargs) -> None:
    check_read_only(model.service_model.service_name, model.name)


class AwsSettings(BaseModel):
    """Where and as whom to call AWS: an Airflow connection (`conn_id`), or explicit values (devstack, tests)."""

    model_config = ConfigDict(frozen=True)

    region_name: str
    endpoint_url: str | None = None
    conn_id: str | None = None  # set: the provider's session factory builds the session from this connection
    role_arn: str | None = None  # what the connection assumes (shown by doctor; the provider does the assuming)
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    member_role_name: str | None = None  # from the connection extra; None: the customer's, else DEFAULT_MEMBER_ROLE

    @classmethod
    def from_connection(cls, conn_id: str = "aws_default") -> AwsSettings:
        """Read the connection as the Amazon provider does (extra: role_arn, region_name, endpoint_url, ...)."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        wrapper = AwsBaseHook(aws_conn_id=conn_id, client_type="sts").conn_config
        extra = wrapper.extra_dejson
        return cls(
            conn_id=conn_id,
            region_name=wrapper.region_name or "us-east-1",
            endpoint_url=wrapper.endpoint_url,
            role_arn=wrapper.role_arn,
            member_role_name=extra.get("member_role_name") or None,
        )

    def credentials(self) -> dict[str, str | None]:
        return {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
        }


_sessions: dict[tuple[str | None, bool], boto3.Session] = {}
_sessions_lock = threading.Lock()


def session_for(settings: AwsSettings, *, read_only: bool) -> boto3.Session:
    """The process's session for this connection (explicit credentials share one per mode); the read-only
    one is guarded before any client is made from it."""
    with _sessions_lock:
        key = (settings.conn_id, read_only)
        if key not in _sessions:
            if settings.conn_id:
                from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

                session = AwsBaseHook(aws_conn_id=settings.conn_id).get_session(region_name=settings.region_name)
            else:
                session = boto3.Session()
            if read_only:
                session.events.register("before-parameter-build", _guard, unique_id="itsm-read-only-guard")
            _sessions[key] = session
        return _sessions[key]


class AwsAccess:
    """Clients for one principal (a connection, or a member-account hop from it) with a per-operation
    call counter shared by its hops."""

    def __init__(
        self,
        settings: AwsSettings,
        *,
        read_only: bool = True,
        member_role_name: str | None = None,
        credentials: dict[str, str | None] | None = None,
        api_calls: Counter | None = None,
        account_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        default = DEFAULT_MEMBER_ROLE if read_only else DEFAULT_OPERATIONS_MEMBER_ROLE
        self.member_role_name = settings.member_role_name or member_role_name or default
        self.account_id = account_id  # None: the connection's own account (asked of STS when needed)
        self._credentials = credentials or settings.credentials()
        self.api_calls: Counter[str] = api_calls if api_calls is not None else Counter()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], object] = {}
        self._members: dict[str, tuple[AwsAccess, datetime]] = {}
        self._home_account: str | None = account_id
        self._config = Config(retries=RETRIES, read_timeout=READ_TIMEOUT_S)

    def client(self, service: str, region: str | None = None):
        """A cached client; `api_calls` counts each operation it sends as `service:Operation`."""
        region = region or self.settings.region_name
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                client = session_for(self.settings, read_only=self.read_only).client(
                    service,
                    region_name=region,
                    endpoint_url=self.settings.endpoint_url,
                    config=self._config,
                    **self._credentials,
                )
                client.meta.events.register("before-call", self._count)
                self._clients[key] = client
            return self._clients[key]

    def _count(self, model, **_kwargs) -> None:
        self.api_calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def home_account(self) -> str:
        """The account this principal lives in (STS GetCallerIdentity, asked once)."""
        if self._home_account is None:
            self._home_account = self.client("sts").get_caller_identity()["Account"]
        return self._home_account

    def member_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.member_role_name}"

    def assume_member(self, account_id: str, session_name: str = "itsm-readonly") -> AwsAccess:
        """Access to a member account through the member role; credentials cached until near expiry."""
        with self._lock:
            cached = self._members.get(account_id)
        if cached and cached[1] - ASSUMED_ROLE_REFRESH > datetime.now(UTC):
            return cached[0]
        creds = self.client("sts").assume_role(RoleArn=self.member_role_arn(account_id), RoleSessionName=session_name)[
            "Credentials"
        ]
        member = AwsAccess(
            self.settings,
            read_only=self.read_only,
            member_role_name=self.member_role_name,
            api_calls=self.api_calls,
            account_id=account_id,
            credentials={
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
        )
        with self._lock:
            self._members[account_id] = (member, creds["Expiration"])
        return member

    def in_account(self, account_id: str, session_name: str = "itsm-readonly") -> AwsAccess:
        """This principal in its own account, else the member-role hop into `account_id`."""
        return self if account_id == self.home_account() else self.assume_member(account_id, session_name)
