"""Which steps and gates a ticket goes through (docs/architecture.md §5 and §7)."""

import pytest

from include.itsm.core.change_policy import ChangePolicy
from include.itsm.lifecycle.plan import ALL_STEPS, approvers, plan_for, validate_selection


def _gates(plan):
    return [g.name for g in plan.gates]


def test_the_step_matrix_per_ticket_type():
    assert plan_for("OPS-1", "incident").steps == ["intake", "discover", "classify", "cross-validate", "pir"]
    assert plan_for("OPS-1", "incident").default_steps == ["intake", "discover", "classify", "cross-validate"]
    assert plan_for("OPS-1", "problem").steps == ["intake", "discover", "classify", "cross-validate"]
    assert plan_for("OPS-1", "service_request").steps == ["intake", "discover", "classify"]
    assert plan_for("OPS-1", "change", "normal").steps == [s for s in ALL_STEPS if s != "pir"]


def test_gates_per_change_type():
    common = [
        "labels",
        "evidence",
        "go_no_go_business",
        "go_no_go_security",
        "go_no_go_engineering",
        "window",
        "change",
    ]
    assert _gates(plan_for("OPS-1", "change", "normal")) == common + ["cab_1", "cab_2", "alarms", "governance"]
    assert _gates(plan_for("OPS-1", "change", "emergency")) == common + ["cab_1", "alarms", "governance"]
    assert _gates(plan_for("OPS-1", "change", "standard")) == common + ["alarms", "governance"]
    assert _gates(plan_for("OPS-1", "incident")) == ["labels", "evidence", "pir"]


def test_independent_votes_open_together_and_cab_reviews_the_created_change():
    gates = {g.name: g for g in plan_for("OPS-1", "change", "normal").gates}
    assert gates["go_no_go_business"].reviews_task == "decide"
    assert gates["go_no_go_security"].reviews_task == gates["go_no_go_engineering"].reviews_task == "decide"
    assert gates["window"].reviews_task == "gate_go_no_go_engineering"
    assert gates["cab_1"].reviews_task == "apply_change" and gates["cab_2"].reviews_task == "apply_change"
    assert {gates[g].apply_task for g in ("go_no_go_business", "window")} == {"apply_window"}


def test_selection_is_ordered_and_checked():
    plan = plan_for("OPS-9", "incident")
    assert validate_selection(plan, ["cross-validate", "classify"]) == ["classify", "cross-validate"]
    with pytest.raises(ValueError, match="do not apply to a incident"):
        validate_selection(plan, ["decide"])
    with pytest.raises(ValueError, match="not lifecycle steps"):
        validate_selection(plan, ["deploy"])
    with pytest.raises(ValueError, match="no step selected"):
        validate_selection(plan, [])


def test_unknown_ticket_type_is_refused():
    with pytest.raises(ValueError, match="OPS-3: ticket_type 'task'"):
        plan_for("OPS-3", "task")


def test_approvers_come_from_configuration():
    policy = ChangePolicy()
    gates = {g.name: g for g in plan_for("OPS-1", "change", "normal").gates}
    assert approvers(policy, gates["go_no_go_security"]) == list(policy.approvers.go_no_go["security"])
    assert approvers(policy, gates["cab_2"]) == list(policy.approvers.cab)
