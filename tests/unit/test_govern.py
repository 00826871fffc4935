"""Step 8 govern: OPS-180 pro-rated cost delta, security/trail/performance deltas, bundle hash, evidence index."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.core.artifact import Provenance
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.devstack.demo import org
from include.itsm.steps.decide.domain import estimate_cost
from include.itsm.steps.govern.domain import (
    GovernanceRecord,
    MetricDelta,
    RuleCompliance,
    TrailEvent,
    bundle_hash,
    compliance_trail,
    cost_delta,
    evidence_index,
    security_delta,
    stakeholder_email,
)

POLICY = ChangePolicy()
STOP_AT = datetime(2026, 10, 27, 9, 0, tzinfo=UTC)  # Tuesday 22:00 NZDT
PILOT = org.PILOT_ACCOUNT.account_id
CE = Provenance(source="aws:ce:GetCostAndUsage", query="DAILY sandbox EC2 compute", as_of=STOP_AT + timedelta(days=7))
TRAIL = Provenance(
    source="aws:cloudtrail:LookupEvents", query="EventName=StopInstances", as_of=STOP_AT + timedelta(days=7)
)


def stop_events() -> list[TrailEvent]:
    return [
        TrailEvent(
            event_name="StopInstances",
            event_time=STOP_AT,
            account_id=PILOT,
            resource_id=f"i-{i:02d}",
            user="instance-scheduler",
            **(
                {"error_code": "Client.UnauthorizedOperation", "error_message": "2 active user sessions"}
                if i in (4, 11)
                else {}
            ),
        )
        for i in range(16)
    ]


def ops180_cost():
    estimate = estimate_cost(16, 17, POLICY, Provenance(source="aws:config", as_of=STOP_AT))
    return cost_delta(estimate, 287.0, STOP_AT, STOP_AT + timedelta(days=7), stop_events(), POLICY, CE, TRAIL)


def test_ops180_prorated_cost_delta() -> None:
    delta = ops180_cost()
    assert (delta.stopped_instances, delta.estimated_instances, delta.observed_hours) == (14, 16, 168)
    assert delta.failed_stops == {
        "i-04": "Client.UnauthorizedOperation: 2 active user sessions",
        "i-11": "Client.UnauthorizedOperation: 2 active user sessions",
    }
    assert delta.prorated_estimate_usd == pytest.approx(2400 * 168 / 730 * 14 / 16, abs=0.005) == 483.29
    assert (delta.actual_usd, delta.unexplained_usd) == (287.0, 196.29)  # reported, not hidden
    assert delta.arithmetic == [
        "estimate $2,400.00/month x 168 h / 730 h = $552.33",
        "x 14 of 16 instances stopped (CloudTrail StopInstances; 2 failed) = $483.29",
        "actual (Cost Explorer) $287.00; unexplained $196.29 (40.6% of the pro-rated estimate)",
    ]
    assert CE in delta.provenance and TRAIL in delta.provenance


def test_a_retried_stop_that_succeeds_counts_as_stopped() -> None:
    events = stop_events() + [
        TrailEvent(
            event_name="StopInstances", event_time=STOP_AT + timedelta(hours=1), account_id=PILOT, resource_id="i-04"
        )
    ]
    estimate = estimate_cost(16, 17, POLICY, Provenance(source="aws:config"))
    delta = cost_delta(estimate, 287.0, STOP_AT, STOP_AT + timedelta(days=7), events, POLICY, CE, TRAIL)
    assert delta.stopped_instances == 15 and list(delta.failed_stops) == ["i-11"]


def record() -> GovernanceRecord:
    events = stop_events() + [
        TrailEvent(
            event_name="StartInstances", event_time=STOP_AT + timedelta(hours=10), account_id=PILOT, resource_id="i-00"
        ),
        TrailEvent(
            event_name="AttachRolePolicy",
            event_source="iam.amazonaws.com",
            user="admin",
            event_time=STOP_AT + timedelta(hours=2),
            account_id=PILOT,
        ),
        TrailEvent(
            event_name="StopInstances", event_time=STOP_AT - timedelta(days=1), account_id=PILOT, resource_id="i-99"
        ),
    ]
    hashes = {"cross-validate": "a" * 64, "decide": "b" * 64, "implement": "c" * 64, "operate": "d" * 64}
    return GovernanceRecord(
        key="OPS-180",
        run_id="r1",
        cost=ops180_cost(),
        security=security_delta(
            [
                RuleCompliance(rule="ec2-instance-managed-by-ssm", before="COMPLIANT", after="COMPLIANT"),
                RuleCompliance(rule="required-tags", before="NON_COMPLIANT", after="COMPLIANT"),
            ],
            events,
        ),
        trail=compliance_trail(events, STOP_AT, STOP_AT + timedelta(days=7)),
        performance=[MetricDelta(metric="sandbox EC2 running hours/day", before=384, after=216, unit="h")],
        evidence_index=evidence_index({step: f"OPS-180/r1/{step}.json" for step in hashes}, POLICY),
        bundle_sha256=bundle_hash(list(hashes.values())),
    )


def test_security_trail_and_performance() -> None:
    r = record()
    assert [c.rule for c in r.security.changed_rules] == ["required-tags"]
    assert r.security.iam_changes == ["2026-10-27T11:00:00+00:00 AttachRolePolicy by admin (success)"]
    assert r.trail == {
        "AttachRolePolicy": {"success": 1},
        "StartInstances": {"success": 1},
        "StopInstances": {"error:Client.UnauthorizedOperation": 2, "success": 14},
    }
    assert r.performance[0].change == -168
    assert r.compliance_area == "Audit trail completeness and evidence preservation"


def test_bundle_hash_is_order_independent_and_sensitive() -> None:
    hashes = ["b" * 64, "a" * 64]
    assert (
        bundle_hash(hashes)
        == bundle_hash(hashes[::-1])
        == hashlib.sha256(("a" * 64 + "\n" + "b" * 64).encode()).hexdigest()
    )
    assert bundle_hash(["a" * 64, "c" * 64]) != bundle_hash(hashes)


def test_evidence_index_maps_controls_to_artifacts() -> None:
    index = record().evidence_index
    assert index["DE.AE-03"] == ["OPS-180/r1/cross-validate.json"]
    assert index["ID.RA-07"] == ["OPS-180/r1/decide.json", "OPS-180/r1/implement.json"]
    assert "CPS234-27" in index and "CPS230-change-management" in index


def test_persona_summaries_and_email() -> None:
    r = record()
    email = stakeholder_email(r, "CFO", "Finance team")
    assert email.startswith("Subject: OPS-180 governance update (CFO)\n\nHello Finance team,")
    assert "Actual saving $287.00 over 168 h vs $483.29 pro-rated from $2,400.00/month; $196.29 unexplained." in email
    assert "x 14 of 16 instances stopped" in email and r.bundle_sha256 in email
    assert "14 of 16 instances stopped; failures: i-04" in stakeholder_email(r, "CTO", "CTO")
    assert "1 IAM change(s); 18 CloudTrail events" in stakeholder_email(r, "CSO", "CSO")
    with pytest.raises(ValueError):
        stakeholder_email(r, "CEO", "x")
