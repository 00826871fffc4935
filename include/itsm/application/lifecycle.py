"""The per-ticket lifecycle as data: which steps apply, their gates, and what unlocks what.

DESIGN section 6's matrix gives the steps per ticket type; section 4 the gates. The lifecycle
DAG, its approvals DAG and `itsm lifecycle` are all built from `plan_for(...)`, so the three can
never disagree about the order of steps and gates.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pydantic import BaseModel, Field

ALL_STEPS = ("intake", "discover", "classify", "cross-validate", "decide", "implement", "operate", "govern", "pir")
# Steps a run includes only when selected (the PIR is for resolved P0/P1 incidents in Pending PIR).
ON_REQUEST_STEPS = ("pir",)

# DESIGN section 6: the steps that apply per ticket type (incidents/problems: a fix is a linked
# Change with its own lifecycle; service requests are fulfilled through the catalogue).
STEPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "incident": ("intake", "discover", "classify", "cross-validate", "pir"),
    "problem": ("intake", "discover", "classify", "cross-validate"),
    "change": ALL_STEPS[:-1],
    "service_request": ("intake", "discover", "classify"),
}


def lifecycle_dag_id(key: str) -> str:
    from include.itsm.domain.ticket import validate_ticket_key

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
    """A step's gates in the order they are asked; each later gate reviews after the one before it
    (sequential votes end cleanly: a rejection fails every gate still to come)."""
    def chain(first_reviews: str, names_keys: list[tuple[str, str]], apply_task: str) -> list[Gate]:
        gates, reviews = [], first_reviews
        for name, approvers_key in names_keys:
            gates.append(Gate(name=name, step=step, approvers_key=approvers_key, reviews_task=reviews,
                              apply_task=apply_task))
            reviews = f"gate_{name}"
        return gates

    if step == "classify":
        return chain("classify", [("labels", "labels")], "apply_labels")
    if step == "cross-validate":
        return chain("cross-validate", [("evidence", "evidence")], "apply_evidence")
    if step == "decide":
        parties = [(f"go_no_go_{p}", f"go_no_go.{p}") for p in ("business", "security", "engineering")]
        return chain("decide", parties + [("window", "window")], "apply_window")
    if step == "implement":
        cab_members = {"normal": 2, "emergency": 1}.get(change_type or "", 0)
        cab = chain("apply_change", [(f"cab_{n}", "cab") for n in range(1, cab_members + 1)], "apply_cab")
        return chain("implement", [("change", "change")], "apply_change") + cab
    if step == "operate":
        return chain("operate", [("alarms", "alarms")], "apply_alarms")
    if step == "govern":
        return chain("govern", [("governance", "governance")], "apply_governance")
    if step == "pir":
        return chain("pir", [("pir", "pir")], "apply_pir")
    return []


def plan_for(key: str, ticket_type: str, change_type: str | None = None) -> Plan:
    """Every step and gate a ticket of this type can go through (a run selects a subset)."""
    if ticket_type not in STEPS_BY_TYPE:
        raise ValueError(f"{key}: ticket_type {ticket_type!r} is not one of {sorted(STEPS_BY_TYPE)}")
    steps = list(STEPS_BY_TYPE[ticket_type])
    return Plan(key=key, ticket_type=ticket_type, change_type=change_type, steps=steps,
                gates=[gate for step in steps for gate in _gates(step, change_type)])


def validate_selection(plan: Plan, selected: list[str]) -> list[str]:
    """The selected steps in lifecycle order; a step the ticket type does not have is an error."""
    unknown = [s for s in selected if s not in ALL_STEPS]
    if unknown:
        raise ValueError(f"{plan.key}: steps {unknown} are not lifecycle steps ({', '.join(ALL_STEPS)})")
    not_applicable = [s for s in selected if s not in plan.steps]
    if not_applicable:
        raise ValueError(f"{plan.key}: steps {not_applicable} do not apply to a {plan.ticket_type} "
                         f"(its steps: {', '.join(plan.steps)})")
    if not selected:
        raise ValueError(f"{plan.key}: no step selected")
    return [s for s in plan.steps if s in selected]


def step_module(step: str) -> ModuleType:
    """`include.itsm.application.steps.<step>`: run / brief / apply (see that package's contract)."""
    return importlib.import_module(f"include.itsm.application.steps.{step.replace('-', '_')}")


def approvers(policy_change, gate: Gate) -> list[str]:
    """The Airflow user ids allowed to answer `gate` (configuration)."""
    holder = policy_change.approvers
    if "." in gate.approvers_key:
        group, party = gate.approvers_key.split(".", 1)
        return list(getattr(holder, group)[party])
    return list(getattr(holder, gate.approvers_key))
