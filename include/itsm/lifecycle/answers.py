"""Checks on a gate's answer at the moment it is given.

Airflow accepts any answer from an assigned approver; these rules decide whether the lifecycle
may act on it. A refused answer is recorded and the gate is asked again (it never fails the run,
and nothing is written because of it); the apply steps keep their own checks as a second line.

- separation of duties: whoever triggered the run (drafted the change) never approves its gates;
  one person holds at most one go/no-go party and one CAB slot of a change;
- required evidence: Engineering's go/no-go approval carries the rollback test (a link or an
  attestation, not a placeholder);
- the reviewed verdict: an artifact whose step says it cannot be approved (a cross-validation
  that did not pass) can only be rejected;
- a rejection states why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from include.itsm.lifecycle.plan import PARTIES
from include.itsm.steps import GateDecision
from include.itsm.steps.decide.domain import placeholder_in

PARTY_GATES = tuple(f"go_no_go_{party}" for party in PARTIES)
ROLLBACK_EVIDENCE_GATE = "go_no_go_engineering"


def is_cab_slot(gate: str) -> bool:
    return gate.startswith("cab_")


def exclusive_siblings(gate: str, gates: list[str]) -> list[str]:
    """The other gates of `gates` one person may not also answer (parties among parties, CAB among CAB)."""
    if gate in PARTY_GATES:
        return [g for g in gates if g in PARTY_GATES and g != gate]
    if is_cab_slot(gate):
        return [g for g in gates if is_cab_slot(g) and g != gate]
    return []


def _answered_before(other: GateDecision, answer: GateDecision) -> bool:
    """Of two answers by one person, the later is refused (same instant: the gate named later); so two
    answers checked at the same time, each seeing the other, still keep exactly one."""
    return (other.at or datetime.min.replace(tzinfo=UTC), other.gate) < (
        answer.at or datetime.min.replace(tzinfo=UTC),
        answer.gate,
    )


def answer_problems(
    answer: GateDecision,
    *,
    drafter: str | None,
    siblings: Mapping[str, GateDecision],
    approval_blocked: str | None = None,
) -> list[str]:
    """Why `answer` to its gate cannot be acted on (empty: it stands).

    `siblings` are the answers recorded on the gate's exclusive siblings in this run (only those
    given before this one count);
    `approval_blocked` is the reviewed step's reason the artifact cannot be approved, if any."""
    user = answer.user_id or answer.user_name or "?"
    if not answer.approved:
        return [] if answer.reason.strip() else [f"{user} rejected {answer.gate} without a reason: say why"]
    problems = []
    if drafter and user == drafter:
        problems.append(
            f"self-approval: {user} triggered this run (drafted the change) and may not approve {answer.gate}"
        )
    problems += [
        f"{user} already answered {gate}: one person holds at most one "
        f"{'go/no-go party' if gate in PARTY_GATES else 'CAB slot'} of a change"
        for gate, other in sorted(siblings.items())
        if (other.user_id or other.user_name) == user and _answered_before(other, answer)
    ]
    if answer.gate == ROLLBACK_EVIDENCE_GATE and (found := placeholder_in(answer.evidence)):
        problems.append(
            f"Engineering's approval needs rollback-test evidence (a link or attestation), got {found}: "
            "fill in Evidence"
        )
    if approval_blocked:
        problems.append(f"{answer.gate} cannot be approved: {approval_blocked}; reject it (with a reason) instead")
    return problems
