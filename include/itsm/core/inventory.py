"""Discovered AWS state: the resources and accounts every later step reasons about.

One `InventorySnapshot` per sweep (org-wide, from the Config aggregator) is stored in the
evidence store; per-ticket discovery filters it and, where the org-wide path saw nothing
for a scope the ticket names, adds what the per-account fallback found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from include.itsm.core.artifact import Artifact, Provenance


class AccountInfo(BaseModel):
    account_id: str
    name: str = ""
    status: str = "ACTIVE"
    tags: dict[str, str] = Field(default_factory=dict)


class Resource(BaseModel):
    resource_id: str
    resource_type: str  # a Config resource type, e.g. AWS::EC2::Instance
    account_id: str
    region: str
    name: str | None = None
    arn: str | None = None
    state: str | None = None  # running, stopped, available, ...
    launch_time: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)  # instanceType, engine, versioning, ...


class AccountError(BaseModel):
    """A scope discovery could not see; never a silent zero."""

    account_id: str
    region: str | None = None
    operation: str
    code: str  # AccessDenied, Throttling, EndpointConnectionError, ...
    message: str


class InventorySnapshot(Artifact):
    """The org-wide inventory at one moment, with what it cost to take."""

    as_of: datetime
    accounts: list[AccountInfo] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    api_calls: dict[str, int] = Field(default_factory=dict)
    errors: list[AccountError] = Field(default_factory=list)
    provenance: list[Provenance] = Field(default_factory=list)

    def org_account_ids(self) -> set[str]:
        return {account.account_id for account in self.accounts}


class TrailEvent(BaseModel):
    """One CloudTrail event, as LookupEvents returns it (what really happened, with its error if it failed)."""

    event_name: str
    event_source: str = "ec2.amazonaws.com"
    event_time: datetime
    account_id: str
    resource_id: str | None = None
    user: str = ""
    error_code: str | None = None
    error_message: str | None = None

    @property
    def outcome(self) -> str:
        return f"error:{self.error_code}" if self.error_code else "success"
