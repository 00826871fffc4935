"""Step 6A/6B: OPS-180 change record, placeholder rejection per section, INCOMPLETE_EVIDENCE, CAB sub-task rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.core import adf
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.devstack.demo import org
from include.itsm.steps.decide.domain import RollbackPlan, RollbackStep, blast_radius, propose_window
from include.itsm.steps.implement.domain import (
    DECISION_GATE_QUESTIONS,
    INCOMPLETE_EVIDENCE,
    PLACEHOLDER,
    AsIsState,
    CabApproval,
    ChangeDraft,
    ChangeRefused,
    Phase,
    RiskRating,
    RunbookStep,
    ValidationCheck,
    cab_subtask,
    cab_subtask_problems,
    draft_change_record,
    render_adf,
    render_markdown,
)
from tests.unit.test_cross_validate import ops180_sources, run
from tests.unit.test_decide import INVENTORY, demo_resources

POLICY = ChangePolicy()
REQUESTED = datetime(2026, 10, 19, 0, 0, tzinfo=UTC)
PILOT = org.PILOT_ACCOUNT


def ops180_draft(**update) -> ChangeDraft:
    pilot = [r for r in demo_resources() if r.account_id == PILOT.account_id]
    scheduled = [a for a in org.ACCOUNTS if a.scheduled]
    draft = ChangeDraft(
        change_type="normal",
        drafter="sre-engineer",
        summary="Extend the NZ office-hours instance schedule to the sandbox account (Phase 1 pilot)",
        impact="Sandbox EC2 instances stop 20:00-08:00 NZT on weekdays.",
        blast_radius=blast_radius(pilot, INVENTORY, services=["compute"]),
        risk=RiskRating(
            level="Low", justification="Non-production account; scheduler is managed code with a tested revert"
        ),
        rollback=RollbackPlan(
            tested_in="sandbox",
            steps=[
                RollbackStep(
                    action="Disable the schedule (remove the cron)",
                    command="aws events disable-rule --name nz-office-hours",
                    minutes=5,
                ),
                RollbackStep(
                    action="Force-start stopped instances",
                    command="aws ec2 start-instances --instance-ids <stopped ids>",
                    minutes=10,
                ),
                RollbackStep(
                    action="Remove the Schedule tag",
                    command="aws ec2 delete-tags --resources <ids> --tags Key=Schedule",
                    minutes=5,
                ),
            ],
        ),
        test_plan=[
            ValidationCheck(
                stage="pre",
                command="aws ec2 describe-instances --filters Name=tag:Schedule,Values=nz-office-hours",
                expected="16 sandbox instances tagged",
            ),
            ValidationCheck(
                stage="post",
                command="aws ec2 describe-instance-status --include-all-instances",
                expected="16 instances stopped after 20:00 NZT, running after 08:00 NZT",
            ),
        ],
        implementation=[
            RunbookStep(
                action="Tag the pilot instances",
                command="aws ec2 create-tags --resources <ids> --tags Key=Schedule,Value=nz-office-hours",
            ),
            RunbookStep(
                action="Verify the next stop run",
                command="aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=StopInstances",
            ),
        ],
        approval=CabApproval(reviewers=["cab-1", "cab-2"]),
        window=propose_window(REQUESTED, "normal", POLICY, account_ids=[PILOT.account_id]),
        as_is=AsIsState(
            scheduled_accounts=[a.name for a in scheduled],
            tags=sorted({a.env_tag for a in scheduled}) + [f"{org.SCHEDULER_TAG_KEY}={org.SCHEDULER_TAG_VALUE}"],
            window="20:00-08:00 NZT Monday-Friday",
        ),
        expansion_candidates=list(org.EXPANSION_CANDIDATES),
        phases=[
            Phase(number=1, scope="pilot", account_ids=[PILOT.account_id], instances=PILOT.instances),
            Phase(
                number=2,
                scope="remaining candidates",
                account_ids=[org.account_by_name(n).account_id for n in org.EXPANSION_CANDIDATES[1:]],
                instances=9,
                requires_cab_update=True,
            ),
        ],
        prerequisites=["Normalise the env tags of legacy-apps and integration-test (13 instances) before adding them"],
        cab_conditions=["Customer submits the always-on exception list before the pilot window opens"],
    )
    return draft.model_copy(update=update)


def test_ops180_record_drafts_and_renders() -> None:
    record = draft_change_record(ops180_draft(), run(ops180_sources()), POLICY, key="OPS-180", run_id="r1")
    c = record.change
    assert len(c.as_is.scheduled_accounts) == 8 and c.as_is.tags == [
        "dev",
        "preprod",
        "sit",
        "staging",
        "Schedule=nz-office-hours",
    ]
    assert c.expansion_candidates == ["sandbox", "shared-services", "datalake-dev"]
    assert [p.requires_cab_update for p in c.phases] == [False, True] and c.phases[0].instances == 16
    assert list(c.decision_gate) == list(DECISION_GATE_QUESTIONS)
    assert [s.name for s in record.evidence][:3] == [
        "customer spreadsheet",
        "org-wide resource search",
        "env-tagged inventory",
    ]
    md = render_markdown(record)
    for section in (
        "1. Summary",
        "2. Impact Assessment",
        "3. Risk Rating",
        "4. Rollback Plan",
        "5. Test Plan",
        "6. Implementation Steps",
        "7. Approval",
    ):
        assert f"## {section}" in md
    assert "Tuesday 2026-10-27 22:00-00:00 NZDT" in md and "Total 20 minutes; tested in sandbox." in md
    assert "| Which account should be the Phase 1 pilot? | awaiting customer |" in md
    document = render_adf(record)
    assert adf.to_plain_text(document).count("awaiting customer") == 3
    assert record.compliance_area.startswith("Change management")


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"summary": "TBD"}, "1. Summary: TBD"),
        ({"impact": "   "}, "2. Impact Assessment: empty"),
        ({"risk": RiskRating(level="High", justification="N/A")}, "3. Risk Rating: N/A"),
        ({"rollback": RollbackPlan()}, "4. Rollback Plan: rollback plan missing"),
        (
            {"test_plan": [ValidationCheck(stage="pre", command="echo", expected="{expected output}")]},
            "5. Test Plan: {expected output}",
        ),
        ({"implementation": []}, "6. Implementation Steps: empty"),
        ({"implementation": [RunbookStep(action="TODO", command="x")]}, "6. Implementation Steps: TODO"),
        ({"approval": CabApproval(reviewers=["[CAB reviewer]"])}, "7. Approval: [CAB reviewer]"),
        ({"approval": None}, "7. Approval: empty"),
    ],
)
def test_placeholders_rejected_naming_the_section(update: dict, problem: str) -> None:
    with pytest.raises(ChangeRefused) as refused:
        draft_change_record(ops180_draft(**update), run(ops180_sources()), POLICY, key="OPS-180", run_id="r1")
    assert refused.value.code == PLACEHOLDER and problem in refused.value.problems


def test_missing_post_test_rejected() -> None:
    draft = ops180_draft()
    with pytest.raises(ChangeRefused, match="5. Test Plan: no post-implementation check"):
        draft_change_record(
            draft.model_copy(update={"test_plan": draft.test_plan[:1]}),
            run(ops180_sources()),
            POLICY,
            key="OPS-180",
            run_id="r1",
        )


def test_incomplete_evidence_refused() -> None:
    sources = ops180_sources()
    for evidence in (
        run(sources[:3]),
        run([sources[0], sources[1], sources[2], sources[1].model_copy(update={"name": "x"})]),
    ):
        with pytest.raises(ChangeRefused) as refused:
            draft_change_record(ops180_draft(), evidence, POLICY, key="OPS-180", run_id="r1")
        assert refused.value.code == INCOMPLETE_EVIDENCE
    failing = sources[0].model_copy(update={"resources": sources[0].resources[1:]})
    with pytest.raises(ChangeRefused, match="INCOMPLETE_EVIDENCE: cross-validation verdict is fail: 1 unexplained"):
        draft_change_record(ops180_draft(), run([failing, *sources[1:]]), POLICY, key="OPS-180", run_id="r1")


def test_cab_subtask_normal_and_emergency() -> None:
    record = draft_change_record(ops180_draft(), run(ops180_sources()), POLICY, key="OPS-180", run_id="r1")
    task = cab_subtask(record, REQUESTED, POLICY)
    assert cab_subtask_problems(task, POLICY, drafter="sre-engineer") == [] and task.post_review_due is None
    late = task.model_copy(update={"requested_at": task.window.start - timedelta(hours=47)})
    assert cab_subtask_problems(late, POLICY, "sre-engineer") == [
        "implementation window has 1 day, 23:00:00 notice; normal changes need 2 days, 0:00:00"
    ]
    one = task.model_copy(update={"approvers": ["cab-1", "sre-engineer"], "evidence_stages": ["B"]})
    assert cab_subtask_problems(one, POLICY, "sre-engineer") == [
        "the drafter sre-engineer may not sit on the CAB",
        "1 CAB approvers assigned; 2 required",
        "evidence of stage C missing",
    ]

    at = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
    window = propose_window(
        at, "emergency", POLICY, account_ids=[PILOT.account_id], expedited_start=at + timedelta(hours=1)
    )
    emergency = draft_change_record(
        ops180_draft(change_type="emergency", window=window, approval=CabApproval(reviewers=["cab-1"])),
        run(ops180_sources()),
        POLICY,
        key="OPS-181",
        run_id="r2",
    )
    etask = cab_subtask(emergency, at, POLICY)
    assert etask.post_review_due == window.end + timedelta(hours=24)
    assert cab_subtask_problems(etask, POLICY, "sre-engineer") == ["expedited window has no HITL approval"]
    approved = etask.model_copy(
        update={
            "window": window.model_copy(update={"approved_by": "change-manager"}),
            "rollback_steps": 2,
            "post_review_due": window.end + timedelta(hours=30),
        }
    )
    assert cab_subtask_problems(approved, POLICY, "sre-engineer") == [
        "rollback plan has 2 steps; at least 3 required",
        "post-implementation review must be due within 1 day, 0:00:00 of the window",
    ]
    with pytest.raises(ValueError, match="standard changes need no CAB"):
        cab_subtask(record.model_copy(update={"change": ops180_draft(change_type="standard")}), REQUESTED, POLICY)
