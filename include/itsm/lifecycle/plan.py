"""The per-ticket lifecycle as data: which steps apply, their gates, and what unlocks what.

docs/architecture.md §7's matrix gives the steps per ticket type; section 4 the gates. The lifecycle
DAG, its approvals DAG and `itsm lifecycle` are all built from `plan_for(...)`, so the three can
never disagree about the order of steps and gates.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

ALL_STEPS = ("intake", "discover", "classify", "cross-validate", "decide", "implement", "operate", "govern", "pir")
# Steps a run includes only when selected (the PIR is for resolved P0/P1 incidents in Pending PIR).
ON_REQUEST_STEPS = ("pir",)
PARTIES = ("business", "security", "engineering")  # the go/no-go's three parties, in the order they are checked

# docs/architecture.md §7: the steps that apply per ticket type (incidents/problems: a fix is a linked
# Change with its own lifecycle; service requests are fulfilled through the catalogue).
STEPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "incident": ("intake", "discover", "classify", "cross-validate", "pir"),
    "problem": ("intake", "discover", "classify", "cross-validate"),
    "change": ALL_STEPS[:-1],
    "service_request": ("intake", "discover", "classify"),
}


# `itsm lifecycle KEY --execute` first triggers this DAG (one per customer, include.itsm.tenancy):
# its task adds the ticket to the manifest on the Airflow side, or leaves a refusal under this XCom key.
REGISTER_DAG = "itsm_register_ticket"
REGISTER_TASK = "register"
REGISTER_REFUSAL = "refusal"


def lifecycle_dag_id(key: str) -> str:
    from include.itsm.core.ticket import validate_ticket_key

    return f"itsm_lifecycle__{validate_ticket_key(key)}"


def approvals_dag_id(key: str) -> str:
    return f"itsm_approvals__{key}"


class Gate(BaseModel):
    """One human gate: the approval task, the task whose artifact it reviews, the apply it unlocks."""

    name: str
    step: str
    approvers_key: str  # where the approvers live in policy.change.approvers (go_no_go.<party> for parties)
    reviews_task: str  # lifecycle task the approver waits for (its artifact is what they review)
    apply_task: str | None = None  # lifecycle task that does what the gate unlocks (after all its gates)


class Plan(BaseModel):
    key: str
    ticket_type: str
    change_type: str | None = None
    steps: list[str]
    gates: list[Gate] = Field(default_factory=list)

    @property
    def default_steps(self) -> list[str]:
        """What a run does when it selects nothing: every step but the on-request ones (pir)."""
        return [s for s in self.steps if s not in ON_REQUEST_STEPS]


def _gates(step: str, change_type: str | None) -> list[Gate]:
    """A step's gates in the order the lifecycle checks them.

    Independent votes (the three go/no-go parties, the CAB slots) all review the step's task, so
    they open together; a gate that depends on earlier answers (the window confirms the go/no-go)
    reviews the lifecycle's wait on the last of them, so it opens only once they are all answered."""

    def gate(name: str, approvers_key: str, reviews: str, apply_task: str) -> Gate:
        return Gate(name=name, step=step, approvers_key=approvers_key, reviews_task=reviews, apply_task=apply_task)

    def together(reviews: str, names_keys: list[tuple[str, str]], apply_task: str) -> list[Gate]:
        """Gates that open at once, when `reviews` has finished."""
        return [gate(name, key, reviews, apply_task) for name, key in names_keys]

    if step == "classify":
        return together("classify", [("labels", "labels")], "apply_labels")
    if step == "cross-validate":
        return together("cross-validate", [("evidence", "evidence")], "apply_evidence")
    if step == "decide":
        parties = together("decide", [(f"go_no_go_{p}", f"go_no_go.{p}") for p in PARTIES], "apply_window")
        return parties + [gate("window", "window", f"gate_{parties[-1].name}", "apply_window")]
    if step == "implement":
        cab_members = {"normal": 2, "emergency": 1}.get(change_type or "", 0)
        cab = together("apply_change", [(f"cab_{n}", "cab") for n in range(1, cab_members + 1)], "apply_cab")
        return together("implement", [("change", "change")], "apply_change") + cab
    if step == "operate":
        return together("operate", [("alarms", "alarms")], "apply_alarms")
    if step == "govern":
        return together("govern", [("governance", "governance")], "apply_governance")
    if step == "pir":
        return together("pir", [("pir", "pir")], "apply_pir")
    return []


def plan_for(key: str, ticket_type: str, change_type: str | None = None) -> Plan:
    """Every step and gate a ticket of this type can go through (a run selects a subset)."""
    if ticket_type not in STEPS_BY_TYPE:
        raise ValueError(f"{key}: ticket_type {ticket_type!r} is not one of {sorted(STEPS_BY_TYPE)}")
    steps = list(STEPS_BY_TYPE[ticket_type])
    return Plan(
        key=key,
        ticket_type=ticket_type,
        change_type=change_type,
        steps=steps,
        gates=[gate for step in steps for gate in _gates(step, change_type)],
    )


def validate_selection(plan: Plan, selected: list[str]) -> list[str]:
    """The selected steps in lifecycle order; a step the ticket type does not have is an error."""
    unknown = [s for s in selected if s not in ALL_STEPS]
    if unknown:
        raise ValueError(f"{plan.key}: steps {unknown} are not lifecycle steps ({', '.join(ALL_STEPS)})")
    not_applicable = [s for s in selected if s not in plan.steps]
    if not_applicable:
        raise ValueError(
            f"{plan.key}: steps {not_applicable} do not apply to a {plan.ticket_type} "
            f"(its steps: {', '.join(plan.steps)})"
        )
    if not selected:
        raise ValueError(f"{plan.key}: no step selected")
    return [s for s in plan.steps if s in selected]


def approvers(policy_change, gate: Gate) -> list[str]:
    """The Airflow user ids allowed to answer `gate` (configuration)."""
    holder = policy_change.approvers
    if "." in gate.approvers_key:
        group, party = gate.approvers_key.split(".", 1)
        return list(getattr(holder, group)[party])
    return list(getattr(holder, gate.approvers_key))
