"""Step 7, operate: alarms for every modified resource, escalation, rollback triggers, review dates.

Alarm specifications come from policy templates per resource type (a modified type without a
template is an error: no silent monitoring gap). Reviews are dated on the local calendar of the
customer's time zone from the window start. `verify_alarms` compares the specs with what
CloudWatch DescribeAlarms returns, so "configured" means read back, not assumed.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from include.itsm.core.artifact import Artifact
from include.itsm.core.change_policy import AlarmTemplate, ChangePolicy, EscalationTargets, RollbackTrigger
from include.itsm.core.inventory import Resource


class AlarmSpec(BaseModel):
    """One alarm as PutMetricAlarm takes it (the fields DescribeAlarms returns)."""

    alarm_name: str
    namespace: str
    metric_name: str
    statistic: str
    comparison_operator: str
    threshold: float
    period: int
    evaluation_periods: int
    dimensions: dict[str, str]
    alarm_actions: list[str]
    account_id: str
    region: str
    description: str = ""


class ReviewEntry(BaseModel):
    name: str
    purpose: str
    due: datetime  # aware, customer time zone


class OperatePlan(Artifact):
    step: str = "operate"
    alarms: list[AlarmSpec]
    escalation: EscalationTargets
    rollback_triggers: list[RollbackTrigger]
    reviews: list[ReviewEntry]


def _spec(key: str, template: AlarmTemplate, resource: Resource, policy: ChangePolicy) -> AlarmSpec:
    fields = {"resource_id": resource.resource_id, "account_id": resource.account_id, "region": resource.region}
    scope_id = resource.resource_id if template.scope == "resource" else resource.account_id
    return AlarmSpec(
        alarm_name=f"itsm-{key}-{scope_id}-{template.name}",
        namespace=template.namespace,
        metric_name=template.metric_name,
        statistic=template.statistic,
        comparison_operator=template.comparison,
        threshold=template.threshold,
        period=template.period_seconds,
        evaluation_periods=template.evaluation_periods,
        dimensions={name: value.format(**fields) for name, value in template.dimensions.items()},
        alarm_actions=[policy.escalation.sns_topic_arn_pattern.format(key=key, **fields)],
        account_id=resource.account_id,
        region=resource.region,
        description=template.description,
    )


def alarm_specs(key: str, resources: Sequence[Resource], policy: ChangePolicy) -> list[AlarmSpec]:
    """Per-resource alarms from the type's templates, plus one rollback-trigger alarm per account/region."""
    missing = sorted({r.resource_type for r in resources} - set(policy.alarm_templates))
    if missing:
        raise ValueError(f"no alarm template for modified resource types {missing}: add them to change.alarm_templates")
    specs = {}
    for resource in resources:
        templates = list(policy.alarm_templates[resource.resource_type]) + [t.alarm for t in policy.rollback_triggers]
        for template in templates:
            spec = _spec(key, template, resource, policy)
            specs.setdefault((spec.account_id, spec.region, spec.alarm_name), spec)
    return list(specs.values())


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def review_schedule(window_start: datetime, policy: ChangePolicy) -> list[ReviewEntry]:
    """Review dates on the customer's local calendar, at the window's local start time."""
    local = window_start.astimezone(ZoneInfo(policy.window.time_zone))
    return [
        ReviewEntry(
            name=m.name,
            purpose=m.purpose,
            due=datetime.combine(_add_months(local.date(), m.months) + timedelta(days=m.days), local.timetz()),
        )
        for m in policy.reviews
    ]


def plan_operations(
    key: str, run_id: str, resources: Sequence[Resource], window_start: datetime, policy: ChangePolicy
) -> OperatePlan:
    return OperatePlan(
        key=key,
        run_id=run_id,
        alarms=alarm_specs(key, resources, policy),
        escalation=policy.escalation,
        rollback_triggers=list(policy.rollback_triggers),
        reviews=review_schedule(window_start, policy),
    )


class AlarmMismatch(BaseModel):
    alarm_name: str
    field: str
    expected: object
    actual: object


class AlarmVerification(BaseModel):
    configured: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    mismatched: list[AlarmMismatch] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


# AlarmSpec field -> DescribeAlarms MetricAlarms key
_DESCRIBED = {
    "namespace": "Namespace",
    "metric_name": "MetricName",
    "statistic": "Statistic",
    "comparison_operator": "ComparisonOperator",
    "threshold": "Threshold",
    "period": "Period",
    "evaluation_periods": "EvaluationPeriods",
}


def verify_alarms(specs: Sequence[AlarmSpec], described: Sequence[Mapping]) -> AlarmVerification:
    """Compare specs with DescribeAlarms `MetricAlarms` entries: missing and mismatched alarms."""
    by_name = {a["AlarmName"]: a for a in described}
    result = AlarmVerification()
    for spec in specs:
        actual = by_name.get(spec.alarm_name)
        if actual is None:
            result.missing.append(spec.alarm_name)
            continue
        found = [
            AlarmMismatch(
                alarm_name=spec.alarm_name, field=field, expected=getattr(spec, field), actual=actual.get(key)
            )
            for field, key in _DESCRIBED.items()
            if actual.get(key) != getattr(spec, field)
        ]
        dimensions = {d["Name"]: d["Value"] for d in actual.get("Dimensions", [])}
        if dimensions != spec.dimensions:
            found.append(
                AlarmMismatch(
                    alarm_name=spec.alarm_name, field="dimensions", expected=spec.dimensions, actual=dimensions
                )
            )
        if not set(spec.alarm_actions) <= set(actual.get("AlarmActions", [])):
            found.append(
                AlarmMismatch(
                    alarm_name=spec.alarm_name,
                    field="alarm_actions",
                    expected=spec.alarm_actions,
                    actual=actual.get("AlarmActions", []),
                )
            )
        result.mismatched.extend(found)
        if not found:
            result.configured.append(spec.alarm_name)
    return result
