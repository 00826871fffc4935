"""Post-resolution: the Post-Incident Review of a P0/P1 incident, and the `pir` gate.

`run` drafts what the machine knows (incident facts, a timeline from the ticket's changelog,
CloudWatch alarm state changes and linked change records, the evidence already gathered) and
merges what people wrote: the 5 Whys, the root cause, the rca label and the action items come
from a YAML file (`itsm create-pir KEY --input pir.yaml`; with `--execute` it travels in the run's conf
and the pir task stores it on the Airflow side as the `pir-input` artifact) or
from the pir gate's entry form. The machine never writes a why.

The incident manager approves at gate `pir`; only then does `apply` publish the page to the
Confluence OPS space (found by title, updated in place), create each action item as a linked OPS
ticket (once), add the PIR's known error to the register, and move the ticket Pending PIR ->
Resolved (docs/architecture.md §5: never Resolved before the PIR is approved).

Known-error register: policy's `known_errors` (configuration) merged with the evidence store's
register artifact `_org/<run>/known-errors.json` (`KnownErrorRegister`, newest wins), which
approved PIRs append to; `known_error_register(ctx)` gives the merged view.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field, ValidationError

from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.core.policy import KnownError
from include.itsm.core.ticket import Ticket
from include.itsm.ports import EvidenceError
from include.itsm.steps import GateBrief, GateDecision
from include.itsm.steps.pir import domain as P

STEP = "pir"
GATES = ("pir",)
INPUT_STEP = "pir-input"
SPACE_KEY = "OPS"
REGISTER_KEY, REGISTER_STEP = "_org", "known-errors"
ACTION_ITEM_ISSUE_TYPE = "Story"
ACTION_ITEM_LINK = "Relates"
CHANGE_TYPES = ("Change",)
ALARM_WINDOW = timedelta(days=1)  # alarm state changes this close to the incident belong on its timeline


class KnownErrorRegister(Artifact):
    """The known errors approved PIRs added (policy's own list is configuration, merged in)."""

    step: str = REGISTER_STEP
    entries: list[KnownError] = Field(default_factory=list)


class PirApplied(Artifact):
    """What an approved PIR's apply did (or, in preview, would do)."""

    step: str = "pir-applied"
    page: dict = Field(default_factory=dict)
    action_items: list[P.ActionItem] = Field(default_factory=list)
    known_error: KnownError | None = None
    transitioned: bool = False
    approved_by: str | None = None


# --- eligibility and inputs ----------------------------------------------------------------------


def check_eligible(ticket: Ticket, *, allow_resolved: bool = False) -> None:
    """A PIR is for a P0/P1 incident waiting in Pending PIR; anything else is refused, by name."""
    problems = []
    if ticket.issue_type.lower() != "incident":
        problems.append(f"it is a {ticket.issue_type or 'ticket of unknown type'}, not an Incident")
    if ticket.priority not in P.PIR_PRIORITIES:
        problems.append(f"its priority is {ticket.priority or 'unset'}, a PIR is for P0/P1 incidents")
    statuses = (P.PENDING_PIR, "Resolved") if allow_resolved else (P.PENDING_PIR,)
    if ticket.status not in statuses:
        problems.append(f"its status is {ticket.status!r}, not {P.PENDING_PIR!r} (resolve the incident first)")
    if problems:
        raise ValueError(f"{ticket.key}: no PIR: " + "; ".join(problems))


def people_input(ctx: RunContext, key: str) -> P.PirInput | None:
    """The newest `pir-input` artifact (the YAML handed to `itsm create-pir`), if any; a preview may
    hand its input to this run only instead (`ctx.step_inputs["pir_input"]`), so that it leaves nothing for
    later runs."""
    if "pir_input" in ctx.step_inputs:
        return ctx.step_inputs["pir_input"]
    try:
        found = ctx.evidence.latest(key, INPUT_STEP, P.PirInputArtifact).input
    except EvidenceError:
        return None
    return None if found.is_empty() else found


def receive_input(ctx: RunContext, key: str, handed: dict) -> str:
    """Store what `itsm create-pir --input --execute` handed the run (its conf) as this run's input."""
    try:
        people = P.PirInput.model_validate(handed)
    except ValidationError as exc:
        raise ValueError(f"{key}: the PIR input handed to run {ctx.run_id} is invalid: {exc}") from exc
    return write_input(ctx, key, people)


def write_input(ctx: RunContext, key: str, people: P.PirInput) -> str:
    return ctx.evidence.write(
        key, ctx.run_id, INPUT_STEP, P.PirInputArtifact(key=key, run_id=ctx.run_id, mode=ctx.mode, input=people)
    )


def form_input(decision: GateDecision | None) -> P.PirInput | None:
    """The pir gate's entry form, when the approver filled it in."""
    if decision is None or not any(str(v or "").strip() for v in decision.inputs.values()):
        return None
    return P.input_from_form(decision.inputs, decision.user_id)


# --- drafting ------------------------------------------------------------------------------------


def _alarm_states(ctx: RunContext, key: str, ticket: Ticket) -> tuple[list[P.AlarmState], str | None]:
    """CloudWatch alarm state changes near the incident, for the resources discovery found."""
    from include.itsm.steps.cross_validate import sources as src
    from include.itsm.steps.discover.domain import Discovery

    try:
        discovery = ctx.evidence.latest(key, "discover", Discovery)
    except EvidenceError:
        return [], None
    start = (ticket.created or datetime.now(UTC)) - ALARM_WINDOW
    end = (ticket.resolved or datetime.now(UTC)) + ALARM_WINDOW
    try:
        pairs = src.read_alarms(ctx, discovery)
    except Exception as exc:  # evidence is best effort: the gap is named on the PIR, never hidden
        return [], f"CloudWatch alarms unreadable: {exc}"
    states = []
    for _, alarm in pairs:
        at = alarm.get("StateUpdatedTimestamp")
        if at and start <= P._utc(at) <= end:
            states.append(
                P.AlarmState(at=at, alarm_name=alarm["AlarmName"], new_state=alarm.get("StateValue", ""), old_state="")
            )
    return states, None


def _linked(ctx: RunContext, ticket: Ticket) -> tuple[list[P.LinkedChange], list[str]]:
    changes, evidence = [], []
    for link in ticket.links:
        try:
            other = ctx.jira.get_ticket(link.key)
        except Exception as exc:  # noqa: BLE001 - a missing link is named, not fatal
            evidence.append(f"{link.key} ({link.link_type}): unreadable ({exc})")
            continue
        evidence.append(f"{other.key} ({link.link_type}, {other.issue_type}, {other.status}): {other.summary}")
        if other.issue_type in CHANGE_TYPES:
            changes.append(
                P.LinkedChange(
                    key=other.key,
                    summary=other.summary,
                    status=other.status,
                    at=other.resolved or other.created or datetime.now(UTC),
                )
            )
    return changes, evidence


def _cross_validation(ctx: RunContext, key: str) -> str | None:
    from include.itsm.steps.cross_validate.domain import CrossValidation

    try:
        cv = ctx.evidence.latest(key, "cross-validate", CrossValidation)
    except EvidenceError:
        return None
    return (
        f"cross-validation run {cv.run_id}: verdict {cv.verdict}, {cv.union_instances} instances in "
        f"{cv.union_accounts} accounts"
    )


def draft(ctx: RunContext, key: str, ticket: Ticket) -> P.Pir:
    alarms, gap = _alarm_states(ctx, key, ticket)
    changes, evidence = _linked(ctx, ticket)
    if (cv := _cross_validation(ctx, key)) is not None:
        evidence.append(cv)
    evidence += [f"attachment {a.filename}" for a in ticket.attachments]
    if gap:
        evidence.append(gap)
    return P.draft(ticket, P.draft_timeline(ticket, alarms, changes), evidence)


# --- the contract --------------------------------------------------------------------------------


def _refuse(key: str, problems: list[str]) -> ValueError:
    return ValueError(f"{key}: the PIR fails its quality gate: " + "; ".join(problems))


def run(ctx: RunContext, key: str) -> dict:
    ticket = ctx.jira.get_ticket(key)
    check_eligible(ticket)
    people = people_input(ctx, key)
    pir = P.merge(draft(ctx, key, ticket), people)
    problems = P.validate(pir, ctx.settings.policy.taxonomy)
    if people is not None and problems:
        raise _refuse(key, problems)
    artifact = P.PirArtifact(
        key=key,
        run_id=ctx.run_id,
        mode=ctx.mode,
        pir=pir,
        problems=problems,
        input_source=people.source if people else "",
        markdown=P.render_markdown(pir),
    )
    ctx.evidence.write(key, ctx.run_id, STEP, artifact)
    ctx.evidence.write_text(key, ctx.run_id, "pir.md", artifact.markdown)
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "input": artifact.input_source or "none (entry form at the gate)",
            "problems": len(problems),
            "timeline_rows": len(pir.timeline),
        },
    )
    return {
        "key": key,
        "severity": pir.severity,
        "duration_minutes": pir.duration_minutes,
        "timeline_rows": len(pir.timeline),
        "input": artifact.input_source,
        "missing": problems,
    }


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    artifact = ctx.evidence.latest(key, STEP, P.PirArtifact)
    pir = artifact.pir
    lines = [artifact.markdown, ""]
    if artifact.problems:
        lines += [
            "### Still missing (fill in the entry form: whys one per line, the 5th prefixed `process:` or "
            "`system:`; action items `action | owner | YYYY-MM-DD`)"
        ]
        lines += [f"- {p}" for p in artifact.problems]
    else:
        lines += [f"Input from {artifact.input_source}: passes the quality gate."]
    lines += [
        "",
        f"On approval: publish the page to Confluence {SPACE_KEY}, create {len(pir.action_items)} action "
        "item ticket(s), add the known error to the register, transition Pending PIR -> Resolved.",
    ]
    return GateBrief(
        subject=f"{key}: approve the PIR ({pir.severity}, {pir.duration_minutes} min)", body="\n".join(lines)
    )


def known_error_register(ctx: RunContext) -> list[KnownError]:
    """Policy's known errors merged with the evidence store's register (the register wins on an id)."""
    merged = {e.id: e for e in ctx.settings.policy.known_errors}
    try:
        merged.update({e.id: e for e in ctx.evidence.latest(REGISTER_KEY, REGISTER_STEP, KnownErrorRegister).entries})
    except EvidenceError:
        pass
    return list(merged.values())


def _register_entry(ctx: RunContext, pir: P.Pir, service: str) -> tuple[KnownError, list[KnownError]]:
    """The PIR's known error (the same id on a re-run) and the register's entries with it."""
    try:
        entries = list(ctx.evidence.latest(REGISTER_KEY, REGISTER_STEP, KnownErrorRegister).entries)
    except EvidenceError:
        entries = []
    mine = next((e for e in entries if e.title.startswith(f"{pir.incident}:")), None)
    if mine is None:
        numbers = [int(e.id) for e in known_error_register(ctx) if e.id.isdigit()]
        entry = P.known_error(pir, service, max(numbers, default=0) + 1)
    else:
        entry = P.known_error(pir, service, int(mine.id))
    return entry, [e for e in entries if e.id != entry.id] + [entry]


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    """After the incident manager's approval: publish, create actions, register, resolve."""
    decision = decisions.get(gate)
    if decision is None or not decision.approved:
        raise PermissionError(
            f"{key}: the PIR is not approved: nothing is published and the ticket stays {P.PENDING_PIR}"
        )
    artifact = ctx.evidence.latest(key, STEP, P.PirArtifact)
    ticket = ctx.jira.get_ticket(key)
    previously = _applied(ctx, key)
    check_eligible(ticket, allow_resolved=previously is not None)
    people = form_input(decision)
    pir = P.merge(artifact.pir, people) if people else artifact.pir
    problems = P.validate(pir, ctx.settings.policy.taxonomy)
    if problems:
        raise _refuse(key, problems)
    before = len(ctx.jira.planned)

    items = []
    for item in pir.action_items:
        created = ctx.jira.create_linked_issue(
            key,
            project=key.split("-", 1)[0],
            issue_type=ACTION_ITEM_ISSUE_TYPE,
            link_type=ACTION_ITEM_LINK,
            summary=f"PIR {key} action: {item.action}"[:250],
            idempotency_key=item.idempotency_key(key),
            description_adf=adf.doc(
                [
                    adf.paragraph(
                        f"Action item of the PIR of {key} ({pir.title}).\n"
                        f"Owner: {item.owner}\nDue: {item.due.isoformat()}"
                    )
                ]
            ),
            labels=["pir-action"],
        )
        items.append(item.model_copy(update={"ticket_key": created}))
    pir = pir.model_copy(update={"action_items": items})

    page = ctx.confluence.publish_page(SPACE_KEY, pir.page_title, P.render_storage(pir))
    entry, entries = _register_entry(ctx, pir, P.label_value(ticket.labels, "service"))
    if ctx.execute:
        ctx.evidence.write(
            REGISTER_KEY,
            ctx.run_id,
            REGISTER_STEP,
            KnownErrorRegister(key=REGISTER_KEY, run_id=ctx.run_id, mode=ctx.mode, entries=entries),
        )
    link = f" Page: {page['url']}" if page.get("url") else ""
    ctx.jira.upsert_step_comment(
        key,
        STEP,
        adf.doc(
            [
                adf.heading("Post-Incident Review approved", 3),
                adf.paragraph(
                    f"Approved by {decision.user_name or decision.user_id}. Root cause: {pir.root_cause} "
                    f"(rca:{pir.rca}). Known error {entry.id}.{link}"
                ),
                adf.bullet_list(
                    [
                        f"{a.action} - {a.owner}, due {a.due.isoformat()}"
                        + (f" ({a.ticket_key})" if a.ticket_key else "")
                        for a in items
                    ]
                ),
            ]
        ),
    )
    transitioned = ctx.jira.transition(key, "Resolved")  # last: only once everything above is in place
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]

    final = P.PirArtifact(
        key=key,
        run_id=ctx.run_id,
        mode=ctx.mode,
        pir=pir,
        problems=[],
        input_source=people.source if people else artifact.input_source,
        markdown=P.render_markdown(pir),
    )
    ctx.evidence.write(key, ctx.run_id, STEP, final)
    ctx.evidence.write_text(key, ctx.run_id, "pir.md", final.markdown)
    if ctx.execute:
        ctx.evidence.write(
            key,
            ctx.run_id,
            "pir-applied",
            PirApplied(
                key=key,
                run_id=ctx.run_id,
                mode=ctx.mode,
                page=page,
                action_items=items,
                known_error=entry,
                transitioned=transitioned,
                approved_by=decision.user_id,
            ),
        )
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="write" if ctx.execute else "preview",
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "approved_by": decision.user_id,
            "page": page,
            "action_items": [a.ticket_key for a in items],
            "known_error": entry.id,
            "resolved": transitioned,
            "planned": len(planned),
        },
    )
    return {
        "key": key,
        "page": page,
        "action_items": [a.model_dump(mode="json") for a in items],
        "known_error": entry.model_dump(mode="json"),
        "transitioned": transitioned,
        "planned": planned,
    }


def _applied(ctx: RunContext, key: str) -> PirApplied | None:
    try:
        return ctx.evidence.latest(key, "pir-applied", PirApplied)
    except EvidenceError:
        return None
