"""Product-side AWS access: one shared session per process, a read-only guard, per-account clients.

`aws_default` is read-only by construction: the guard sits on the shared session's
`before-parameter-build` event, registered before any client exists, so every client and every
presigned URL made from that session passes it, and a refused call never leaves the process.
`aws_operations` (write) gets its own unguarded session, for the approved step 7 only.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

READ_PREFIXES = ("Describe", "List", "Get", "Select", "Search", "Lookup")
# Needed by the read path though not read-prefixed: the per-account hop and "who am I".
ALLOWED_OPERATIONS = frozenset({("sts", "AssumeRole"), ("sts", "GetCallerIdentity")})
# Read-prefixed, yet they mint credentials or reveal secrets.
DENIED_OPERATIONS = frozenset({
    ("sts", "GetSessionToken"), ("sts", "GetFederationToken"),
    ("secretsmanager", "GetSecretValue"), ("secretsmanager", "BatchGetSecretValue"),
    ("secretsmanager", "GetRandomPassword"),
    ("ec2", "GetPasswordData"), ("lightsail", "GetInstanceAccessDetails"),
    ("ecr", "GetAuthorizationToken"), ("ecr-public", "GetAuthorizationToken"),
    ("codeartifact", "GetAuthorizationToken"), ("redshift", "GetClusterCredentials"),
    ("redshift", "GetClusterCredentialsWithIAM"), ("redshift-serverless", "GetCredentials"),
    ("cognito-identity", "GetCredentialsForIdentity"), ("cognito-identity", "GetOpenIdToken"),
    ("cognito-identity", "GetOpenIdTokenForDeveloperIdentity"), ("sso", "GetRoleCredentials"),
    ("kms", "GetParametersForImport"), ("iot", "GetRegistrationCode"),
})
# ssm parameters are fine as metadata but not decrypted (SecureString values are secrets).
DECRYPTING_OPERATIONS = frozenset({("ssm", "GetParameter"), ("ssm", "GetParameters"),
                                   ("ssm", "GetParametersByPath"), ("ssm", "GetParameterHistory")})
# standard mode: max_attempts 3 means 3 retries after the first try (4 requests at most).
RETRIES = {"max_attempts": 3, "mode": "standard"}
READ_TIMEOUT_S = 120  # large Describe pages from big accounts are slow
ASSUMED_ROLE_REFRESH = timedelta(minutes=5)  # renew assumed credentials this long before expiry


class ReadOnlyViolation(Exception):
    """A write (or secret-reading) call attempted on the read-only path; deliberately not a ClientError."""


def check_read_only(service: str, operation: str, params: dict | None = None) -> None:
    """Raise ReadOnlyViolation unless `service:operation` is a plain read the guard admits."""
    key = (service, operation)
    if key in ALLOWED_OPERATIONS:
        return
    if key in DENIED_OPERATIONS or not operation.startswith(READ_PREFIXES):
        raise ReadOnlyViolation(f"{service}:{operation} refused on the read-only AWS path")
    if key in DECRYPTING_OPERATIONS and (params or {}).get("WithDecryption"):
        raise ReadOnlyViolation(f"{service}:{operation} with decryption refused on the read-only AWS path")


def _guard(params, model, **_kwargs) -> None:
    check_read_only(model.service_model.service_name, model.name, params)


class AwsSettings(BaseModel):
    """Where and as whom to call AWS (from an Airflow connection or explicit values)."""

    model_config = ConfigDict(frozen=True)

    region_name: str
    endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    member_role_name: str = "OrganizationAccountAccessRole"

    @classmethod
    def from_connection(cls, conn_id: str = "aws_default") -> AwsSettings:
        """Read the connection through the Amazon provider (extra: endpoint_url, region_name)."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook  # lazy: keep airflow out of imports

        wrapper = AwsBaseHook(aws_conn_id=conn_id).conn_config
        extra = wrapper.extra_dejson
        return cls(
            region_name=wrapper.region_name or extra.get("region_name") or "us-east-1",
            endpoint_url=wrapper.endpoint_url or extra.get("endpoint_url"),
            aws_access_key_id=wrapper.aws_access_key_id,
            aws_secret_access_key=wrapper.aws_secret_access_key,
            aws_session_token=wrapper.aws_session_token,
            **({"member_role_name": extra["member_role_name"]} if extra.get("member_role_name") else {}),
        )

    def credentials(self) -> dict[str, str | None]:
        return {"aws_access_key_id": self.aws_access_key_id, "aws_secret_access_key": self.aws_secret_access_key,
                "aws_session_token": self.aws_session_token}


_sessions: dict[bool, boto3.Session] = {}
_sessions_lock = threading.Lock()


def shared_session(read_only: bool = True) -> boto3.Session:
    """The process's session (a new one costs ~0.3 s); the read-only one is guarded from birth."""
    with _sessions_lock:
        if read_only not in _sessions:
            session = boto3.Session()
            if read_only:
                session.events.register("before-parameter-build", _guard, unique_id="itsm-read-only-guard")
            _sessions[read_only] = session
        return _sessions[read_only]


class AwsAccess:
    """Clients for one connection, its per-operation call counter, and member-account hops."""

    def __init__(self, settings: AwsSettings, *, read_only: bool = True,
                 credentials: dict[str, str | None] | None = None, api_calls: Counter | None = None) -> None:
        self.settings = settings
        self.read_only = read_only
        self._credentials = credentials or settings.credentials()
        self.api_calls: Counter[str] = api_calls if api_calls is not None else Counter()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], object] = {}
        self._members: dict[str, tuple[AwsAccess, datetime]] = {}
        self._config = Config(retries=RETRIES, read_timeout=READ_TIMEOUT_S)

    @classmethod
    def from_connection(cls, conn_id: str = "aws_default") -> AwsAccess:
        return cls(AwsSettings.from_connection(conn_id))

    @classmethod
    def operations_from_connection(cls, conn_id: str = "aws_operations") -> AwsAccess:
        """The write path (step 7's alarms, after an approved gate): no guard."""
        return cls(AwsSettings.from_connection(conn_id), read_only=False)

    def client(self, service: str, region: str | None = None):
        """A cached client; `api_calls` counts each operation it sends as `service:Operation`."""
        region = region or self.settings.region_name
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                client = shared_session(self.read_only).client(
                    service, region_name=region, endpoint_url=self.settings.endpoint_url,
                    config=self._config, **self._credentials)
                client.meta.events.register("before-call", self._count)
                self._clients[key] = client
            return self._clients[key]

    def _count(self, model, **_kwargs) -> None:
        self.api_calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def assume_member(self, account_id: str, session_name: str = "itsm-readonly") -> AwsAccess:
        """Access to a member account through its member role; credentials cached until near expiry."""
        with self._lock:
            cached = self._members.get(account_id)
        if cached and cached[1] - ASSUMED_ROLE_REFRESH > datetime.now(timezone.utc):
            return cached[0]
        role = f"arn:aws:iam::{account_id}:role/{self.settings.member_role_name}"
        creds = self.client("sts").assume_role(RoleArn=role, RoleSessionName=session_name)["Credentials"]
        member = AwsAccess(self.settings, read_only=self.read_only, api_calls=self.api_calls, credentials={
            "aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]})
        with self._lock:
            self._members[account_id] = (member, creds["Expiration"])
        return member

    def select_aggregate(self, expression: str, aggregator: str, *, limit: int = 100) -> Iterator[dict]:
        """Rows of a Config aggregator query, following NextToken across pages (Limit <= 100)."""
        config = self.client("config")
        kwargs = {"Expression": expression, "ConfigurationAggregatorName": aggregator, "Limit": limit}
        while True:
            page = config.select_aggregate_resource_config(**kwargs)
            yield from (json.loads(row) for row in page.get("Results", []))
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    def instances(self, region: str | None = None, **filters) -> Iterator[dict]:
        """Every instance in this account and region (MaxResults counts reservations, so page)."""
        paginator = self.client("ec2", region).get_paginator("describe_instances")
        for page in paginator.paginate(**filters):
            for reservation in page["Reservations"]:
                yield from reservation["Instances"]
