"""Step 5 decide: blast radius, DST-safe windows with notice/freeze/conflicts, cost, rollback, go/no-go, CAB quorum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from include.itsm.core.artifact import Provenance
from include.itsm.core.change_policy import BlackoutWindow, ChangePolicy
from include.itsm.core.inventory import Resource
from include.itsm.devstack.demo import org
from include.itsm.steps.decide.domain import (
    Approval,
    RollbackPlan,
    RollbackStep,
    ScheduledChange,
    blast_radius,
    cab_quorum,
    eligible_instances,
    estimate_cost,
    evaluate_go_no_go,
    placeholder_in,
    propose_window,
    rollback_problems,
)
from include.itsm.steps.operate.domain import alarm_specs

POLICY = ChangePolicy()
NZ = ZoneInfo("Pacific/Auckland")
PILOT = org.PILOT_ACCOUNT.account_id
INVENTORY = Provenance(source="aws:config:SelectAggregateResourceConfig", as_of=datetime(2026, 10, 20, tzinfo=UTC))
AT = datetime(2026, 10, 20, 1, 0, tzinfo=UTC)


def demo_resources() -> list[Resource]:
    return [
        Resource(
            resource_id=f"i-{a.account_id[-3:]}{i:014x}",
            resource_type="AWS::EC2::Instance",
            account_id=a.account_id,
            region=a.regions[0],
            state="running",
        )
        for a in org.ACCOUNTS
        for i in range(a.instances)
    ]


def test_ops180_blast_radius_and_cost() -> None:
    pilot = eligible_instances(demo_resources(), [PILOT])
    assert len(pilot) == org.PILOT_ACCOUNT.instances == 16
    radius = blast_radius(pilot, INVENTORY, services=["compute"])
    assert (radius.instances, radius.accounts, radius.account_ids, radius.services) == (16, 1, [PILOT], ["compute"])
    assert radius.users is None  # not known: never guessed
    alarms = alarm_specs("OPS-180", pilot, POLICY)
    assert len(alarms) == 17  # one per instance and the rollback trigger: what step 7 will create
    cost = estimate_cost(len(pilot), len(alarms), POLICY, INVENTORY)
    assert (cost.monthly_saving_usd, cost.monitoring_monthly_usd, cost.net_monthly_usd) == (2400, 179.7, 2220.3)
    assert cost.formula[0] == "saving = 16 instances x $150.00/month = $2,400.00/month"
    assert cost.formula[1] == (
        "monitoring = 17 alarms (the operate step's plan) x $0.10 + 350 GB x $0.50 + 1 dashboards x $3.00 "
        "= $179.70/month"
    )
    assert cost.provenance[0] == INVENTORY
    assert len(eligible_instances(demo_resources(), [PILOT], always_on=[pilot[0].resource_id])) == 15


def test_ops180_window_is_tuesday_22_nzdt_after_48h_notice() -> None:
    window = propose_window(datetime(2026, 10, 19, 0, 0, tzinfo=UTC), "normal", POLICY, account_ids=[PILOT])
    # Tuesday 20 Oct 22:00 NZDT is only 33 h away: the next Tuesday it is.
    assert window.start == datetime(2026, 10, 27, 22, 0, tzinfo=NZ)
    assert window.start.astimezone(UTC) == datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
    assert window.end.astimezone(NZ).strftime("%H:%M") == "00:00" and window.batch_percent == 50
    assert window.notice >= timedelta(hours=48)
    assert window.local_label().startswith("Tuesday 2026-10-27 22:00-00:00 NZDT")


def test_notice_boundary() -> None:
    slot = datetime(2026, 10, 20, 22, 0, tzinfo=NZ)
    just_enough = slot - timedelta(hours=48)
    assert propose_window(just_enough, "normal", POLICY, account_ids=[PILOT]).start == slot
    too_late = just_enough + timedelta(minutes=1)
    assert propose_window(too_late, "normal", POLICY, account_ids=[PILOT]).start == slot + timedelta(weeks=1)


@pytest.mark.parametrize(
    ("requested", "local_start", "utc_offset_h", "elapsed_since_previous_week"),
    [  # NZ clocks go forward on 27 Sep 2026 (a 167 h week) and back on 5 Apr 2026 (a 169 h week)
        (datetime(2026, 9, 22, 8, 0, tzinfo=UTC), datetime(2026, 9, 29, 22, 0), 13, timedelta(hours=167)),
        (datetime(2026, 3, 31, 8, 0, tzinfo=UTC), datetime(2026, 4, 7, 22, 0), 12, timedelta(hours=169)),
    ],
)
def test_window_stays_22_local_across_dst(
    requested: datetime, local_start: datetime, utc_offset_h: int, elapsed_since_previous_week: timedelta
) -> None:
    window = propose_window(requested, "normal", POLICY, account_ids=[PILOT])
    assert window.start.replace(tzinfo=None) == local_start
    assert window.start.utcoffset() == timedelta(hours=utc_offset_h)
    before = propose_window(requested - timedelta(weeks=1), "normal", POLICY, account_ids=[PILOT]).start
    elapsed = window.start.astimezone(UTC) - before.astimezone(UTC)
    assert (before.hour, elapsed) == (22, elapsed_since_previous_week)


def test_freeze_and_conflicts_are_skipped() -> None:
    requested = datetime(2026, 10, 19, 0, 0, tzinfo=UTC)
    frozen = POLICY.model_copy(
        update={
            "freeze": (
                BlackoutWindow(
                    start=datetime(2026, 10, 26, tzinfo=NZ),
                    end=datetime(2026, 10, 31, tzinfo=NZ),
                    reason="month-end close",
                ),
            )
        }
    )
    clash = ScheduledChange(
        key="OPS-175",
        start=datetime(2026, 11, 3, 23, 0, tzinfo=NZ),
        end=datetime(2026, 11, 4, 1, 0, tzinfo=NZ),
        account_ids={PILOT},
    )
    elsewhere = ScheduledChange(
        key="OPS-176",
        start=datetime(2026, 11, 10, 22, 0, tzinfo=NZ),
        end=datetime(2026, 11, 11, 0, 0, tzinfo=NZ),
        account_ids={"318274650011"},
    )
    window = propose_window(requested, "normal", frozen, account_ids=[PILOT], scheduled=[clash, elsewhere])
    assert window.start == datetime(2026, 11, 10, 22, 0, tzinfo=NZ)
    assert [s.reason for s in window.skipped] == [
        "change freeze: month-end close",
        f"conflicts with OPS-175 on {PILOT}",
    ]
    resource_clash = clash.model_copy(update={"account_ids": set(), "resource_ids": {"i-1"}})
    assert propose_window(
        requested, "normal", POLICY, account_ids=[PILOT], resource_ids=["i-1"], scheduled=[resource_clash]
    ).start == datetime(2026, 10, 27, 22, 0, tzinfo=NZ)
    with pytest.raises(ValueError, match="no free normal window"):
        propose_window(
            requested,
            "normal",
            POLICY.model_copy(
                update={
                    "freeze": (
                        BlackoutWindow(start=requested, end=requested + timedelta(days=400), reason="year freeze"),
                    )
                }
            ),
            account_ids=[PILOT],
        )


def test_emergency_window_is_expedited() -> None:
    start = AT + timedelta(hours=2)
    window = propose_window(AT, "emergency", POLICY, account_ids=[PILOT], expedited_start=start)
    assert window.start == start and window.notice == timedelta(hours=2)


def test_rollback_plan_rules() -> None:
    two = RollbackPlan(
        steps=[
            RollbackStep(action="Disable the schedule", command="aws ... --state DISABLED", minutes=5),
            RollbackStep(action="Force start", command="aws ec2 start-instances ...", minutes=10),
        ],
        tested_in="sandbox",
    )
    assert rollback_problems(two, "normal", POLICY) == []
    assert rollback_problems(two, "emergency", POLICY) == [
        "rollback plan has 2 steps; emergency changes need at least 3"
    ]
    assert rollback_problems(None, "normal", POLICY) == ["rollback plan missing"]
    untested = two.model_copy(update={"tested_in": "TBD"})
    assert rollback_problems(untested, "normal", POLICY) == ["rollback plan not tested in non-prod (TBD)"]
    assert two.minutes == 15
    assert placeholder_in("{rollback command}") == "{rollback command}"


def approvals(**overrides: tuple[str, str, str]) -> list[Approval]:
    parties = {
        "business": ("cfo-delegate", "approve", "ROI positive"),
        "security": ("cso-delegate", "approve", "no policy change"),
        "engineering": ("cto-delegate", "approve", "https://wiki.example/ops-180/rollback-test"),
    } | overrides
    return [Approval(party=p, user=u, decision=d, evidence=e, at=AT) for p, (u, d, e) in parties.items()]


def test_go_no_go_passes_with_three_people() -> None:
    assert evaluate_go_no_go(approvals(), drafter="sre-engineer", policy=POLICY).passed


def test_go_no_go_refusals() -> None:
    def reasons(drafter: str = "sre-engineer", **overrides) -> list[str]:
        result = evaluate_go_no_go(approvals(**overrides), drafter=drafter, policy=POLICY)
        assert not result.passed
        return result.reasons

    assert reasons(drafter="cto-delegate") == [
        "self-approval: cto-delegate drafted the change and answered engineering"
    ]
    two = POLICY.approvers.model_copy(
        update={
            "go_no_go": {
                "business": ("cfo-delegate",),
                "security": ("cso-delegate", "cfo-delegate"),
                "engineering": ("cto-delegate",),
            }
        }
    )
    doubled = evaluate_go_no_go(
        approvals(security=("cfo-delegate", "approve", "ok")),
        drafter="sre-engineer",
        policy=POLICY.model_copy(update={"approvers": two}),
    )
    assert doubled.reasons == ["one person approving two parties: cfo-delegate answered business and security"]
    assert reasons(engineering=("cto-delegate", "approve", "")) == [
        "engineering approval carries no rollback-test evidence (empty): attach a link or attestation"
    ]
    assert reasons(security=("cso-delegate", "reject", "KMS policy unchanged? needs review")) == [
        "security rejected (cso-delegate): KMS policy unchanged? needs review"
    ]
    assert reasons(business=("intern", "approve", "ok")) == ["intern is not a business approver (cfo-delegate)"]
    missing = evaluate_go_no_go(approvals()[:2], drafter="sre-engineer", policy=POLICY)
    assert missing.reasons == ["engineering has not answered"]


def test_cab_quorum_per_change_type() -> None:
    def cab(*users: str, decision: str = "approve") -> list[Approval]:
        return [Approval(party="cab", user=u, decision=decision, at=AT) for u in users]

    assert cab_quorum("normal", cab("cab-1", "cab-2"), drafter="sre-engineer", policy=POLICY).passed
    assert cab_quorum("normal", cab("cab-1"), drafter="sre-engineer", policy=POLICY).reasons == [
        "CAB quorum not reached: 1 of 2 approvers for a normal change"
    ]
    assert cab_quorum("emergency", cab("cab-1"), drafter="sre-engineer", policy=POLICY).passed
    on_cab = cab_quorum("normal", cab("cab-1", "cab-2"), drafter="cab-2", policy=POLICY)
    assert on_cab.reasons == [
        "self-approval: cab-2 drafted the change and answered cab",
        "CAB quorum not reached: 1 of 2 approvers for a normal change",
    ]
    assert cab_quorum("standard", [], drafter="sre-engineer", policy=POLICY).passed


def test_monitoring_cost_follows_the_alarms_the_plan_will_create() -> None:
    """Five more instances in scope: five more alarms to pay for (22, not a fixed count from policy)."""
    pilot = eligible_instances(demo_resources(), [PILOT])
    more = pilot + [pilot[0].model_copy(update={"resource_id": f"i-0more{n:012d}"}) for n in range(5)]
    alarms = alarm_specs("OPS-180", more, POLICY)
    assert len(alarms) == 22
    cost = estimate_cost(len(more), len(alarms), POLICY, INVENTORY)
    assert cost.monitoring_monthly_usd == round(22 * 0.10 + 350 * 0.50 + 3.00, 2)
