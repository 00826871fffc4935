"""Step 4, cross-validate: four independent sources must agree on scope before any change is planned.

Why here: a change record built on one system's view inherits that system's blind spots (the
customer's sheet is weeks old, env-tag rules miss untagged accounts). `run` asks four different
systems (see sources.py), lets the domain explain every difference per resource and
writes the artifact with its rendered 5W1H view and reproduce prompt; the qa-engineer accepts it
at gate "evidence"; only then does `apply` put the 5W1H panel and its tables into the ticket's
description (one marked section, replaced on re-run) and, for incidents, attach the timeline PNG.
"""

from __future__ import annotations

import json

from include.itsm.context import RunContext
from include.itsm.steps import GateBrief, GateDecision
from include.itsm.steps.classify.proposal import LabelProposal
from include.itsm.steps.cross_validate import sources as src
from include.itsm.steps.cross_validate.domain import (
    REASON_TEXT,
    TOO_FEW_SOURCES,
    CrossValidation,
    Refusal,
    cross_validate,
    render_adf,
)
from include.itsm.steps.discover.domain import Discovery
from include.itsm.steps.intake.domain import IntakeArtifact

STEP = "cross-validate"
GATES = ("evidence",)
SECTION_ID = "5W1H"
TIMELINE_PNG = "timeline.png"


def _rca(proposal: LabelProposal) -> str | None:
    return next((label for label in proposal.classification.labels if label.startswith("rca:")), None)


def run(ctx: RunContext, key: str) -> dict:
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = ctx.evidence.latest(key, "discover", Discovery)
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    ticket_type = proposal.classification.ticket_type
    if ticket_type == "service_request":
        raise ValueError(
            f"{key} is a service request: cross-validation does not apply (fulfilment hand-off "
            "through the service catalogue)"
        )
    ticket = ctx.jira.get_ticket(key)
    accounts = src.org_accounts(ctx, discovery)
    timeline, png = [], None
    if ticket_type == "change":
        sources, missing = src.change_sources(ctx, ticket, accounts)
    else:
        sources, missing, timeline, png = src.incident_sources(ctx, ticket, intake.result, discovery)
    result = cross_validate(
        ticket,
        ctx.run_id,
        sources,
        ctx.settings.policy.change,
        rca=_rca(proposal),
        accounts=accounts,
        timeline=timeline,
    )
    result.mode = ctx.mode
    if missing:  # name what could not be read: the refusal must say what to fix
        result.refusals += [
            Refusal(code=TOO_FEW_SOURCES, reason=f"source {name!r} unavailable: {why}") for name, why in missing.items()
        ]
        result.verdict = "refused"
    path = ctx.evidence.write(key, ctx.run_id, STEP, result)
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.md", render_markdown(result))
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.adf.json", json.dumps(render_adf(result), indent=2))
    if png is not None:
        ctx.evidence.write_bytes(key, ctx.run_id, TIMELINE_PNG, png)
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "verdict": result.verdict,
            "unexplained_share": result.unexplained_share,
            "sources": [s.name for s in result.sources],
            "missing": sorted(missing),
        },
    )
    return {
        "key": key,
        "step": STEP,
        "verdict": result.verdict,
        "artifact": path,
        "sources": {
            s.name: (
                {"share": round(s.share, 6)}
                if s.share is not None
                else {"instances": s.instances, "accounts": s.accounts}
            )
            for s in result.sources
        },
        "unexplained_share": result.unexplained_share,
        "refusals": [r.code for r in result.refusals],
        "timeline_png": png is not None,
    }


def _counts_table(result: CrossValidation) -> list[str]:
    lines = ["| Source | System / API | As of (UTC) | Instances | Accounts | Share |", "|---|---|---|---|---|---|"]
    for s in result.sources:
        lines.append(
            f"| {s.name} | {s.system} {s.api} | {s.as_of.isoformat()} | "
            f"{s.instances if s.instances is not None else '-'} | "
            f"{s.accounts if s.accounts is not None else '-'} | "
            f"{f'{s.share:.2%}' if s.share is not None else '-'} |"
        )
    return lines


def _name(result: CrossValidation, account_id: str) -> str:
    name = result.account_names.get(account_id)
    return f"{name} ({account_id})" if name else account_id


def render_markdown(result: CrossValidation) -> str:
    """The artifact as people read it: counts, explanations, unexplained, billing, 5W1H, reproduce."""
    lines = [f"# Cross-validation {result.key}: {result.verdict.upper()}", ""]
    lines += [f"- **{r.code}**: {r.reason}" for r in result.refusals]
    lines += ["", *_counts_table(result), ""]
    if result.explanations:
        lines += [
            "## Explained differences",
            "",
            "| Reason | Missing from | Instances | Accounts |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {REASON_TEXT[g.reason]} | {g.missing_from} | {g.instances} | "
            + ", ".join(f"{_name(result, a)}: {n}" for a, n in g.accounts.items())
            + " |"
            for g in result.explanations
        ]
        lines.append("")
    lines.append(
        f"Unexplained: {len(result.unexplained)} of {result.union_instances} "
        f"({result.unexplained_share:.2%}; tolerance {result.tolerance:.1%})."
    )
    lines += [
        f"- {d.resource_id} in {_name(result, d.account_id)}: in {', '.join(d.present_in)}, missing from "
        f"{d.missing_from}"
        for d in result.unexplained
    ]
    if result.billing:
        lines += ["", f"Billing consistency ({'pass' if result.billing.passed else 'fail'}): {result.billing.formula}"]
    if result.five_w_one_h:
        w = result.five_w_one_h
        lines += ["", "## 5W1H", ""] + [
            f"**{k}**: {v}"
            for k, v in (
                ("What", w.what),
                ("Who", w.who),
                ("When", w.when),
                ("Where", w.where),
                ("Why", w.why),
                ("How", w.how),
            )
        ]
    lines += ["", "## Provenance", ""]
    lines += [
        f"- {s.name}: {s.provenance.source}; query `{s.provenance.query}`; as of "
        f"{s.provenance.as_of.isoformat() if s.provenance.as_of else 'n/a'}"
        for s in result.sources
    ]
    lines += ["", "## Reproduce", "", "```bash", *result.reproduce, "```", ""]
    return "\n".join(lines)


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    result = ctx.evidence.latest(key, STEP, CrossValidation)
    body = [
        f"Verdict: **{result.verdict}**; unexplained {len(result.unexplained)} of {result.union_instances} "
        f"({result.unexplained_share:.2%}, tolerance {result.tolerance:.1%}).",
        "",
        *_counts_table(result),
        "",
    ]
    body += [
        f"- {g.instances} {REASON_TEXT[g.reason]} (missing from {g.missing_from}; {len(g.accounts)} accounts: "
        + ", ".join(f"{_name(result, a)} {n}" for a, n in g.accounts.items())
        + ")"
        for g in result.explanations
    ]
    body += [f"- REFUSED {r.code}: {r.reason}" for r in result.refusals]
    if result.billing:
        body.append(f"- Billing: {result.billing.formula}")
    body += ["", f"Approve to write the 5W1H panel into {key}'s description (artifact run {result.run_id})."]
    return GateBrief(
        subject=f"{key} evidence: cross-validation {result.verdict} ({result.unexplained_share:.2%} unexplained)",
        body="\n".join(body),
        approval_blocked=None
        if result.verdict == "pass"
        else f"the cross-validation verdict is {result.verdict} (fix the inventory and re-run cross-validate)",
    )


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    decision = decisions.get(gate)
    if decision is not None and not decision.approved:
        raise PermissionError(f"{key}: gate {gate} was not approved ({decision.outcome}); nothing written")
    result = ctx.evidence.latest(key, STEP, CrossValidation)
    if result.verdict != "pass":
        reasons = "; ".join(r.reason for r in result.refusals) or (
            f"{len(result.unexplained)} unexplained ({result.unexplained_share:.2%} > {result.tolerance:.1%})"
            if result.unexplained_share > result.tolerance
            else "billing inconsistent"
        )
        raise ValueError(
            f"{key}: cross-validation verdict is {result.verdict}, not pass ({reasons}); "
            "the 5W1H evidence is not written to the ticket"
        )
    before = len(ctx.jira.planned)
    changed = ctx.jira.replace_description_section(key, SECTION_ID, render_adf(result)["content"])
    attached = False
    png = ctx.evidence.read_bytes(key, result.run_id, TIMELINE_PNG)
    if png is not None:
        attached = ctx.jira.attach_file(key, f"{key}-{TIMELINE_PNG}", png)
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="apply" if ctx.execute else "preview",
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "description_changed": changed,
            "timeline_attached": attached,
            "approved_by": decision.user_id if decision else None,
            "planned_requests": len(planned),
        },
    )
    return {"key": key, "gate": gate, "description_changed": changed, "timeline_attached": attached, "planned": planned}
