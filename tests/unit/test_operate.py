"""Step 7 operate: alarm specs per modified resource, rollback trigger, review dates, read-back verification."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from include.itsm.core.change_policy import ChangePolicy
from include.itsm.core.inventory import Resource
from include.itsm.devstack.demo import org
from include.itsm.steps.operate.domain import plan_operations, verify_alarms
from tests.unit.test_decide import demo_resources

POLICY = ChangePolicy()
NZ = ZoneInfo("Pacific/Auckland")
WINDOW = datetime(2026, 10, 27, 22, 0, tzinfo=NZ)
PILOT = org.PILOT_ACCOUNT.account_id


def pilot_plan():
    return plan_operations("OPS-180", "r1", [r for r in demo_resources() if r.account_id == PILOT], WINDOW, POLICY)


def described(spec) -> dict:
    return {
        "AlarmName": spec.alarm_name,
        "Namespace": spec.namespace,
        "MetricName": spec.metric_name,
        "Statistic": spec.statistic,
        "ComparisonOperator": spec.comparison_operator,
        "Threshold": spec.threshold,
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "AlarmActions": spec.alarm_actions,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
    }


def test_ops180_alarms_and_rollback_trigger() -> None:
    plan = pilot_plan()
    assert len(plan.alarms) == 17  # 16 instance status checks + 1 failed-start trigger for the account
    trigger = next(a for a in plan.alarms if a.metric_name == "FailedStartOperations")
    assert (trigger.statistic, trigger.comparison_operator, trigger.threshold, trigger.period) == (
        "Sum",
        "GreaterThanThreshold",
        5,
        3600,
    )
    assert trigger.dimensions == {"AccountId": PILOT}
    assert trigger.alarm_actions == [f"arn:aws:sns:ap-southeast-2:{PILOT}:itsm-OPS-180-alarms"]
    assert plan.rollback_triggers[0].description == "more than 5 failed start operations in 1 hour"
    status = [a for a in plan.alarms if a.metric_name == "StatusCheckFailed"]
    instance = status[0].dimensions["InstanceId"]
    assert len(status) == 16 and status[0].alarm_name == f"itsm-OPS-180-{instance}-status-check-failed"
    assert plan.escalation.pagerduty_service and plan.escalation.slack_channel and plan.escalation.on_call_owner


def test_unknown_resource_type_is_an_error() -> None:
    bucket = Resource(resource_id="b", resource_type="AWS::S3::Bucket", account_id=PILOT, region="ap-southeast-2")
    with pytest.raises(ValueError, match="AWS::S3::Bucket"):
        plan_operations("OPS-180", "r1", [bucket], WINDOW, POLICY)


def test_review_dates_local_calendar_across_dst() -> None:
    reviews = {r.name: r.due for r in pilot_plan().reviews}
    assert list(reviews) == ["Day 1", "Week 1", "Month 1", "30-day review", "60-day review", "90-day review"]
    assert reviews["Day 1"] == datetime(2026, 10, 28, 22, 0, tzinfo=NZ)
    assert reviews["Week 1"] == datetime(2026, 11, 3, 22, 0, tzinfo=NZ)
    assert reviews["Month 1"] == datetime(2026, 11, 27, 22, 0, tzinfo=NZ)
    assert reviews["90-day review"] == datetime(2027, 1, 25, 22, 0, tzinfo=NZ)
    # a window in September: the 30-day review lands after the DST change, still at 22:00 local
    september = plan_operations("OPS-1", "r", [], datetime(2026, 9, 15, 22, 0, tzinfo=NZ), POLICY).reviews
    due = next(r.due for r in september if r.name == "30-day review")
    assert (due.hour, due.utcoffset()) == (22, timedelta(hours=13))


def test_verify_alarms_reports_missing_and_mismatched() -> None:
    plan = pilot_plan()
    readback = [described(s) for s in plan.alarms[1:]]
    readback[0]["Threshold"] = 10.0
    readback[1]["Dimensions"] = []
    result = verify_alarms(plan.alarms, readback)
    assert result.missing == [plan.alarms[0].alarm_name]
    assert [(m.alarm_name, m.field) for m in result.mismatched] == [
        (plan.alarms[1].alarm_name, "threshold"),
        (plan.alarms[2].alarm_name, "dimensions"),
    ]
    assert len(result.configured) == 14 and not result.ok
    assert verify_alarms(plan.alarms, [described(s) for s in plan.alarms]).ok
