"""Answers checked when given (include/itsm/lifecycle/answers.py): what is refused and why."""

from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.lifecycle.answers import answer_problems, exclusive_siblings
from include.itsm.lifecycle.plan import plan_for
from include.itsm.steps import GateDecision

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)
GATES = [g.name for g in plan_for("OPS-180", "change", "normal").gates]


def answer(gate: str, user: str, approved: bool = True, at: datetime = T0, **fields) -> GateDecision:
    return GateDecision(
        gate=gate, approved=approved, outcome="approved" if approved else "rejected", user_id=user, at=at, **fields
    )


def test_a_plain_approval_stands():
    assert answer_problems(answer("labels", "sre-lead"), drafter="change-manager", siblings={}) == []


def test_the_drafter_may_not_approve_but_may_reject_with_a_reason():
    problems = answer_problems(answer("change", "change-manager"), drafter="change-manager", siblings={})
    assert problems and "self-approval" in problems[0] and "change-manager" in problems[0]
    rejected = answer("change", "change-manager", approved=False, reason="I drafted it")
    assert answer_problems(rejected, drafter="change-manager", siblings={}) == []


def test_a_rejection_needs_a_reason():
    problems = answer_problems(answer("labels", "sre-lead", approved=False, reason="  "), drafter=None, siblings={})
    assert problems == ["sre-lead rejected labels without a reason: say why"]


def test_one_person_holds_one_party_the_later_answer_is_refused():
    first = answer("go_no_go_business", "dual-delegate", at=T0)
    second = answer("go_no_go_security", "dual-delegate", at=T0 + timedelta(seconds=3))
    refused = answer_problems(second, drafter=None, siblings={"go_no_go_business": first})
    assert refused and "already answered go_no_go_business" in refused[0] and "go/no-go party" in refused[0]
    # checked at the same moment, the first answer sees the second and still stands: exactly one is kept
    assert answer_problems(first, drafter=None, siblings={"go_no_go_security": second}) == []


def test_same_instant_answers_keep_exactly_one():
    a, b = answer("cab_1", "cab-1"), answer("cab_2", "cab-1")
    kept = [x for x, other in ((a, b), (b, a)) if not answer_problems(x, drafter=None, siblings={other.gate: other})]
    assert kept == [a]


def test_different_people_on_parties_and_cab_stand():
    siblings = {"go_no_go_business": answer("go_no_go_business", "cfo-delegate")}
    later = answer("go_no_go_security", "cso-delegate", at=T0 + timedelta(seconds=1))
    assert answer_problems(later, drafter="change-manager", siblings=siblings) == []


@pytest.mark.parametrize("evidence", ["", "TBD", "[link]", "n/a"])
def test_engineering_needs_rollback_evidence(evidence):
    problems = answer_problems(
        answer("go_no_go_engineering", "cto-delegate", evidence=evidence), drafter=None, siblings={}
    )
    assert len(problems) == 1 and "rollback-test evidence" in problems[0]


def test_engineering_with_an_attestation_stands():
    attested = answer("go_no_go_engineering", "cto-delegate", evidence="rehearsed in sandbox 2026-11-20 (RB-42)")
    assert answer_problems(attested, drafter=None, siblings={}) == []


def test_a_blocked_artifact_can_only_be_rejected():
    blocked = "the cross-validation verdict is refused"
    problems = answer_problems(answer("evidence", "qa-engineer"), drafter=None, siblings={}, approval_blocked=blocked)
    assert problems == [f"evidence cannot be approved: {blocked}; reject it (with a reason) instead"]
    rejected = answer("evidence", "qa-engineer", approved=False, reason="inventory gaps")
    assert answer_problems(rejected, drafter=None, siblings={}, approval_blocked=blocked) == []


def test_exclusive_siblings():
    assert exclusive_siblings("go_no_go_security", GATES) == ["go_no_go_business", "go_no_go_engineering"]
    assert exclusive_siblings("cab_2", GATES) == ["cab_1"]
    assert exclusive_siblings("window", GATES) == [] and exclusive_siblings("labels", GATES) == []
