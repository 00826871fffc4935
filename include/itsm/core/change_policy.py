"""Policy for Steps 4-8: who approves, when changes may run, what they cost, how they are watched.

Pydantic models whose defaults are the seed's values (the "ITSM Lifecycle Golden Path",
docs/architecture.md §5, §7 and §7b). The configuration owner mounts `ChangePolicy` as
`Policy.change`; the domain reads only these models, so tuning policy never means changing code.
A misspelt key fails at start (extra="forbid").
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CHANGE_TYPES = ("standard", "normal", "emergency")
GO_NO_GO_PARTIES = ("business", "security", "engineering")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateApprovers(_Strict):
    """Airflow user names allowed to answer each gate (docs/architecture.md §5); go/no-go per party."""

    labels: tuple[str, ...] = ("sre-lead",)
    evidence: tuple[str, ...] = ("qa-engineer",)
    go_no_go: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "business": ("cfo-delegate",),
            "security": ("cso-delegate",),
            "engineering": ("cto-delegate",),
        }
    )
    window: tuple[str, ...] = ("change-manager",)
    change: tuple[str, ...] = ("change-manager",)
    cab: tuple[str, ...] = ("cab-1", "cab-2")
    alarms: tuple[str, ...] = ("service-owner",)
    governance: tuple[str, ...] = ("governance",)
    pir: tuple[str, ...] = ("incident-manager",)
    stories: tuple[str, ...] = ("product-owner",)  # the pattern bridge's SPM stories

    def everyone(self) -> list[str]:
        """Every user name some gate assigns, sorted (the users `itsm approvers sync` creates)."""
        names = set()
        for group in self.model_dump().values():
            for users in group.values() if isinstance(group, dict) else [group]:
                names.update(users)
        return sorted(names)

    @field_validator("go_no_go")
    @classmethod
    def _three_parties(cls, parties: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if set(parties) != set(GO_NO_GO_PARTIES):
            raise ValueError(f"go_no_go needs exactly the parties {GO_NO_GO_PARTIES}, got {sorted(parties)}")
        return parties


class CabRule(_Strict):
    """What one change type needs before its window opens (seed, Step 6B table)."""

    requires_cab: bool
    notice: timedelta  # minimum time between the request and the window start
    expedited: bool = False  # the window is the HITL-approved expedited one, not the weekly slot
    approvers: int = Field(ge=0)  # CAB quorum: distinct approvers, none of them the drafter
    evidence_stages: tuple[str, ...] = ()  # B = cross-validation evidence, C = change record
    full_plan: bool = False  # all 7 sections of the change record
    min_rollback_steps: int = Field(default=1, ge=1)
    test_stages: tuple[str, ...] = ("pre", "post")
    post_review_within: timedelta | None = None  # post-implementation review sub-task due


class CabRules(_Strict):
    standard: CabRule = CabRule(requires_cab=False, notice=timedelta(0), approvers=0)
    normal: CabRule = CabRule(
        requires_cab=True, notice=timedelta(hours=48), approvers=2, evidence_stages=("B", "C"), full_plan=True
    )
    emergency: CabRule = CabRule(
        requires_cab=True,
        notice=timedelta(0),
        expedited=True,
        approvers=1,
        evidence_stages=("B",),
        min_rollback_steps=3,
        test_stages=("post",),
        post_review_within=timedelta(hours=24),
    )

    def for_type(self, change_type: str) -> CabRule:
        if change_type not in CHANGE_TYPES:
            raise ValueError(f"change type {change_type!r} is not one of {CHANGE_TYPES}")
        return getattr(self, change_type)


class BlackoutWindow(_Strict):
    """A change freeze (quarter end, peak trading, ...): no window may overlap it."""

    start: datetime
    end: datetime
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> BlackoutWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("blackout windows need time zone aware start and end")
        if self.end <= self.start:
            raise ValueError(f"blackout window {self.reason!r} ends before it starts")
        return self


class MaintenanceWindowPreference(_Strict):
    """The customer's preferred slot, in the customer's own time zone (seed: Tuesday 22:00-00:00 NZT)."""

    time_zone: str = "Pacific/Auckland"
    weekday: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = "Tuesday"
    start: time = time(22, 0)
    duration: timedelta = timedelta(hours=2)
    batch_percent: int = Field(default=50, gt=0, le=100)  # share of active instances per batch
    search_weeks: int = Field(default=26, ge=1)  # how far ahead a free slot is looked for

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name


class MonitoringFootprint(_Strict):
    """What a change's monitoring consumes per month besides its alarms (demo figures; a deployment sets
    its own). The alarms are counted from the operate step's plan for the change's resources."""

    log_ingestion_gb: float = 350.0
    dashboards: int = 1


class CostAssumptions(_Strict):
    """Unit costs (USD). Monitoring/month = planned alarms x alarm + GB x log + dashboards x dashboard.

    Demo (OPS-180's pilot: 16 instance alarms and 1 rollback-trigger alarm):
    17 x $0.10 + 350 GB x $0.50 + 1 x $3.00 = $1.70 + $175.00 + $3.00 = $179.70 (the seed rounds it to $180).
    """

    instance_month_usd: float = 150.0  # avoided spend per scheduled instance-month (seed)
    alarm_month_usd: float = 0.10  # CloudWatch standard-resolution alarm
    log_ingestion_usd_per_gb: float = 0.50  # CloudWatch Logs ingestion
    dashboard_month_usd: float = 3.00
    hours_per_month: float = 730.0  # AWS pricing month, for pro-rating
    monitoring: MonitoringFootprint = MonitoringFootprint()


class EscalationTargets(_Strict):
    pagerduty_service: str = "cloudops-oncall"
    slack_channel: str = "#ops-oncall"
    on_call_owner: str = "on-call SRE"
    # Where alarms notify; {region}, {account_id} and {key} are filled per alarm.
    sns_topic_arn_pattern: str = "arn:aws:sns:{region}:{account_id}:itsm-{key}-alarms"


class AlarmTemplate(_Strict):
    """One CloudWatch alarm per matching resource (scope=resource) or per account (scope=account).

    Dimension values name Resource fields in braces: {resource_id}, {account_id}, {region}.
    """

    name: str  # suffix of the alarm name: itsm-<key>-<scope id>-<name>
    namespace: str
    metric_name: str
    statistic: Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount"]
    comparison: Literal[
        "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
    ]
    threshold: float
    period_seconds: int = Field(gt=0)
    evaluation_periods: int = Field(default=1, ge=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    scope: Literal["resource", "account"] = "resource"
    description: str = ""


class RollbackTrigger(_Strict):
    """A condition that reverts the change; watched by an alarm of the same name."""

    description: str
    alarm: AlarmTemplate


class ReviewMilestone(_Strict):
    name: str
    purpose: str
    days: int = Field(default=0, ge=0)
    months: int = Field(default=0, ge=0)


class CrossValidationRules(_Strict):
    required_sources: int = Field(default=4, ge=2)
    unexplained_tolerance: float = Field(default=0.005, ge=0, lt=1)  # the 99.5 % accuracy gate
    # The billed share is a consistency check against inventory x unit cost; unit costs are
    # averages, so it is allowed a relative deviation rather than the set tolerance.
    billing_relative_tolerance: float = Field(default=0.10, ge=0, lt=1)
    inactive_states: tuple[str, ...] = ("stopped", "stopping", "terminated", "shutting-down")


class EnvTagRules(_Strict):
    key: str = "env"
    standard_values: tuple[str, ...] = ("prod", "staging", "dev", "dr", "preprod", "sit")


class ComplianceControls(_Strict):
    apra_cps_234: tuple[str, ...] = ()
    apra_cps_230: tuple[str, ...] = ()
    nist_csf_2: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return self.apra_cps_234 + self.apra_cps_230 + self.nist_csf_2


def _default_controls() -> dict[str, ComplianceControls]:
    """Per step (the seed's Regulatory Compliance table). CPS 234 by paragraph, CPS 230 by
    requirement area, NIST CSF 2.0 by subcategory: defaults for the customer's compliance
    owner to confirm against the ADLC Governance Rules the seed refers to."""
    c = ComplianceControls
    return {
        "intake": c(
            apra_cps_234=("CPS234-23",),
            apra_cps_230=("CPS230-incident-management",),
            nist_csf_2=("DE.AE-06", "RS.MA-01"),
        ),
        "discover": c(
            apra_cps_234=("CPS234-20",),
            apra_cps_230=("CPS230-operational-risk-profile",),
            nist_csf_2=("ID.AM-01", "ID.AM-02"),
        ),
        "classify": c(
            apra_cps_234=("CPS234-20",),
            apra_cps_230=("CPS230-critical-operations",),
            nist_csf_2=("ID.AM-05", "RS.MA-03"),
        ),
        "cross-validate": c(
            apra_cps_234=("CPS234-27",),
            apra_cps_230=("CPS230-control-testing",),
            nist_csf_2=("DE.AE-02", "DE.AE-03", "RS.AN-03"),
        ),
        "decide": c(
            apra_cps_234=("CPS234-21",), apra_cps_230=("CPS230-change-management",), nist_csf_2=("ID.RA-07", "GV.RR-02")
        ),
        "implement": c(
            apra_cps_234=("CPS234-21",), apra_cps_230=("CPS230-change-management",), nist_csf_2=("ID.RA-07", "PR.PS-01")
        ),
        "operate": c(
            apra_cps_234=("CPS234-23",), apra_cps_230=("CPS230-monitoring",), nist_csf_2=("DE.CM-01", "DE.CM-09")
        ),
        "govern": c(
            apra_cps_234=("CPS234-30",), apra_cps_230=("CPS230-board-reporting",), nist_csf_2=("PR.PS-04", "GV.OV-02")
        ),
        "pir": c(
            apra_cps_234=("CPS234-25",),
            apra_cps_230=("CPS230-incident-management",),
            nist_csf_2=("ID.IM-03", "RS.AN-03"),
        ),
        "pattern-bridge": c(
            apra_cps_234=("CPS234-25",), apra_cps_230=("CPS230-operational-risk-profile",), nist_csf_2=("ID.IM-03",)
        ),
    }


def _ec2_alarms() -> tuple[AlarmTemplate, ...]:
    return (
        AlarmTemplate(
            name="status-check-failed",
            namespace="AWS/EC2",
            metric_name="StatusCheckFailed",
            statistic="Maximum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            period_seconds=300,
            evaluation_periods=2,
            dimensions={"InstanceId": "{resource_id}"},
            description="instance or system status check failing",
        ),
    )


def _failed_starts() -> RollbackTrigger:
    return RollbackTrigger(
        description="more than 5 failed start operations in 1 hour",
        alarm=AlarmTemplate(
            name="scheduler-failed-starts",
            namespace="ITSM/InstanceScheduler",
            metric_name="FailedStartOperations",
            statistic="Sum",
            comparison="GreaterThanThreshold",
            threshold=5,
            period_seconds=3600,
            evaluation_periods=1,
            dimensions={"AccountId": "{account_id}"},
            scope="account",
            description="StartInstances calls by the scheduler that returned an error (CloudTrail metric filter)",
        ),
    )


class ChangePolicy(_Strict):
    """Root of the Steps 4-8 policy (mounted as `Policy.change`)."""

    approvers: GateApprovers = GateApprovers()
    cab: CabRules = CabRules()
    freeze: tuple[BlackoutWindow, ...] = ()
    window: MaintenanceWindowPreference = MaintenanceWindowPreference()
    costs: CostAssumptions = CostAssumptions()
    escalation: EscalationTargets = EscalationTargets()
    alarm_templates: dict[str, tuple[AlarmTemplate, ...]] = Field(
        default_factory=lambda: {"AWS::EC2::Instance": _ec2_alarms()}
    )
    rollback_triggers: tuple[RollbackTrigger, ...] = Field(default_factory=lambda: (_failed_starts(),))
    reviews: tuple[ReviewMilestone, ...] = (
        ReviewMilestone(name="Day 1", purpose="spot-check", days=1),
        ReviewMilestone(name="Week 1", purpose="full reconciliation", days=7),
        ReviewMilestone(name="Month 1", purpose="savings report", months=1),
        ReviewMilestone(name="30-day review", purpose="cost and alarm review", days=30),
        ReviewMilestone(name="60-day review", purpose="cost and alarm review", days=60),
        ReviewMilestone(name="90-day review", purpose="cost, alarm and exception-list review", days=90),
    )
    cross_validation: CrossValidationRules = CrossValidationRules()
    env_tag: EnvTagRules = EnvTagRules()
    compliance: dict[str, ComplianceControls] = Field(default_factory=_default_controls)
