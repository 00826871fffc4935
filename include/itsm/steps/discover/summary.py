"""What classification needs from Step 2 discovery, and nothing more.

Discovery produces this from its inventory; classify reads it so that blast radius, tier and
priority rest on discovered state, not on the ticket's wording (TEMPLATE_NOT_EXECUTION).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DiscoverySummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_count: int = Field(ge=0)
    account_count: int = Field(ge=0)
    org_account_count: int = Field(ge=0)  # accounts in the organisation, for the org-wide share
    prod_resources: bool = False  # any in-scope resource is tagged/owned as production
    services: list[str] = Field(default_factory=list)  # service types found (compute, storage, ...)
    resource_types: list[str] = Field(default_factory=list)  # e.g. AWS::EC2::Instance
    as_of: datetime
