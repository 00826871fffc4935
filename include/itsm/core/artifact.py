"""What every evidence artifact carries: whose it is, which step wrote it, and provenance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from include.itsm.core.vocab import Mode

# The seed's "Regulatory Compliance" table: the compliance area each step's evidence serves.
COMPLIANCE_AREAS: dict[str, str] = {
    "intake": "Incident logging and timeliness",
    "discover": "Asset inventory and cross-account scope",
    "classify": "Asset identification and criticality assessment",
    "cross-validate": "Control testing and evidence gathering (99.5% accuracy gate)",
    "decide": "Material change approval (3-Party gate)",
    "implement": "Change management proportional to risk + CAB review",
    "operate": "Monitoring controls and alert responsiveness",
    "govern": "Audit trail completeness and evidence preservation",
    "pir": "Systematic review and continuous improvement",
    "pattern-bridge": "Recurring issue escalation to product backlog",
}


class Provenance(BaseModel):
    """Where a figure came from: enough for an auditor to ask the same question again."""

    source: str  # e.g. "aws:config:SelectAggregateResourceConfig", "jira:attachment"
    query: str | None = None
    as_of: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Artifact(BaseModel):
    """Base of every step's artifact; a step's model adds its own fields."""

    key: str  # ticket key, or "_org" / "_sweep" for org-wide artifacts
    step: str
    run_id: str
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    mode: Mode = Mode.PREVIEW
    compliance_area: str = ""

    def model_post_init(self, __context: Any) -> None:
        if not self.compliance_area:
            self.compliance_area = COMPLIANCE_AREAS.get(self.step, "")
