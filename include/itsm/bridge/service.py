"""The pattern bridge run: OPS incidents -> scrubbed SPM story drafts -> (approved) SPM stories.

Called alike by the `itsm_pattern_bridge` DAG's tasks, `itsm bridge` and tests:

1. `detect_and_draft`: load the lookback window of OPS incidents by JQL, detect patterns
   (`include.itsm.bridge.domain`), draft one scrubbed story per pattern, look up which drafts
   already have their SPM story, write everything under `_bridge/<run>/`.
2. `create_stories` (execute only, after the `stories` gate): create each story once in SPM
   (idempotency label from the pattern id; a re-run finds it and refreshes its marked
   description section instead of creating another) and link it to its incidents.
3. `write_report`: the daily report `_bridge/<date>/report.html|.csv|.json` from the run's
   artifacts (never by re-querying Jira).

One-way, by construction. The only write that touches an OPS ticket is the issue link,
created from the SPM side (`POST /issueLink`, inward = the story, link type "Relates").
Jira shows a link on both issues; that is accepted because the link carries no text, only
the story key, so nothing of SPM's content reaches OPS (and OPS customers on a service-desk
portal do not see issue links). Nothing else is written to OPS: no comment, label, field or
status, and nothing is ever read back from SPM into OPS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
from pydantic import BaseModel, Field

from include.itsm.bridge.domain import BRIDGE_LABEL, StoryDraft, detect, draft_stories, normalise
from include.itsm.bridge.report import BridgeReport, build_report, to_csv, to_html
from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.core.policy import BridgeRules

BRIDGE_KEY = "_bridge"
SPM_PROJECT = "SPM"
STORY_TYPE = "Story"
LINK_TYPE = "Relates"
SECTION_ID = "pattern-bridge"


class IncidentRow(BaseModel):
    """What the bridge keeps of an OPS incident (no free text: summaries go only into scrubbed drafts)."""

    key: str
    created: datetime
    resolved: datetime | None = None
    priority: str | None = None
    service: str | None = None
    rca: str | None = None
    status: str | None = None


class BridgeRun(Artifact):
    """`_bridge/<run>/drafts.json`: what one run detected and drafted."""

    as_of: datetime
    jql: str
    rules: BridgeRules
    incidents: list[IncidentRow] = Field(default_factory=list)
    patterns: list[dict] = Field(default_factory=list)
    drafts: list[StoryDraft] = Field(default_factory=list)
    story_keys: dict[str, str] = Field(default_factory=dict)  # pattern id -> existing SPM story


class StoryOutcome(BaseModel):
    pattern_id: str
    story_key: str | None = None
    created: bool = False
    updated: bool = False
    linked: list[str] = Field(default_factory=list)


class StoriesResult(Artifact):
    """`_bridge/<run>/stories.json`: the SPM writes of one run (or, in preview, the planned requests)."""

    outcomes: list[StoryOutcome] = Field(default_factory=list)
    planned: list[dict] = Field(default_factory=list)


def incidents_jql(project: str, lookback_days: int) -> str:
    return f'project = "{project}" AND issuetype = Incident AND created >= -{int(lookback_days)}d ORDER BY created ASC'


def _label(labels: list[str], prefix: str) -> str | None:
    return next((label[len(prefix) :] for label in labels if label.startswith(prefix)), None)


def incidents_frame(tickets) -> pd.DataFrame:
    """Tickets as the bridge's incident frame (labels parsed: `service:` and `rca:`)."""
    rows = [
        {
            "key": t.key,
            "created": t.created,
            "resolved": t.resolved,
            "priority": t.priority,
            "service": _label(t.labels, "service:"),
            "rca": _label(t.labels, "rca:"),
            "summary": t.summary,
            "status": t.status,
        }
        for t in tickets
    ]
    columns = ["key", "created", "resolved", "priority", "service", "rca", "summary", "status"]
    return pd.DataFrame(rows, columns=columns)


def scrub_registers(ctx: RunContext):
    """The scrub registers of the run's customer: its name and scrub section from the configuration,
    account types from the newest org snapshot (`_org/<run>/discover.json`) when one exists
    (without it, every account-shaped number still becomes `{account}`)."""
    from include.itsm.core.inventory import InventorySnapshot
    from include.itsm.ports import EvidenceError
    from include.itsm.scrub.domain import registers_for

    try:
        accounts = ctx.evidence.latest("_org", "discover", InventorySnapshot).accounts
    except EvidenceError:
        accounts = []
    return registers_for(ctx.customer.model_dump(), accounts=accounts)


def existing_stories(ctx: RunContext, drafts: list[StoryDraft]) -> dict[str, str]:
    """Pattern id -> key of the SPM story already carrying the draft's idempotency label."""
    from include.itsm.core.ticket import idempotency_label

    wanted = {idempotency_label(d.idempotency_key): d.pattern_id for d in drafts}
    found: dict[str, str] = {}
    if not wanted:
        return found
    for story in ctx.jira.search(
        f'project = "{SPM_PROJECT}" AND labels = "{BRIDGE_LABEL}" ORDER BY key ASC', fields=("summary", "labels")
    ):
        for label in story.labels:
            if label in wanted and wanted[label] not in found:
                found[wanted[label]] = story.key
    return found


def detect_and_draft(
    ctx: RunContext, *, as_of: datetime | None = None, rules: BridgeRules | None = None, registers=None
) -> BridgeRun:
    """Load, detect, draft (scrubbed), look up existing stories; write `_bridge/<run>/`."""
    rules = rules or ctx.settings.policy.bridge
    as_of = (as_of or ctx.as_of).astimezone(UTC)  # the run's date: a re-run drafts and reports the same day
    jql = incidents_jql(ctx.customer.jira_project, rules.lookback_days)
    from include.itsm.tenancy import belongs_to, customer_jql

    tenant = customer_jql(ctx.settings, ctx.customer)
    if tenant:
        jql = jql.replace(" ORDER BY", f" AND ({tenant}) ORDER BY", 1)
    tickets = [t for t in ctx.jira.search(jql) if tenant or belongs_to(ctx.settings, ctx.customer, t.labels)]
    incidents = normalise(incidents_frame(tickets))
    detection = detect(incidents, ctx.settings.policy.sla.resolve_within, rules, normalised=True)
    drafts = draft_stories(detection, registers if registers is not None else scrub_registers(ctx), rules)
    if ctx.settings.runtime.evidence_per_customer:  # one story per pattern *and customer* (hashed into the label)
        drafts = [d.model_copy(update={"idempotency_key": f"{ctx.customer.id}:{d.idempotency_key}"}) for d in drafts]
    run = BridgeRun(
        key=BRIDGE_KEY,
        step="pattern-bridge",
        run_id=ctx.run_id,
        mode=ctx.mode,
        as_of=as_of,
        jql=jql,
        rules=rules,
        incidents=[
            IncidentRow(**{k: (None if pd.isna(v) else v) for k, v in row.items()})
            for row in incidents.drop(columns=["summary"]).astype(object).to_dict("records")
        ],
        patterns=json.loads(detection.patterns.to_json(orient="records", date_format="iso")),
        drafts=drafts,
        story_keys=existing_stories(ctx, drafts),
    )
    ctx.evidence.write(BRIDGE_KEY, ctx.run_id, "drafts", run)
    for draft in drafts:
        name = draft.pattern_id.replace(":", "__")
        ctx.evidence.write_text(BRIDGE_KEY, ctx.run_id, f"story-{name}.md", draft.to_markdown())
        ctx.evidence.write_text(BRIDGE_KEY, ctx.run_id, f"story-{name}.adf.json", json.dumps(draft.to_adf(), indent=2))
    ctx.evidence.audit(
        BRIDGE_KEY,
        actor=ctx.actor,
        action=f"{ctx.mode}:drafts",
        step="pattern-bridge",
        run_id=ctx.run_id,
        detail={"patterns": [d.pattern_id for d in drafts]},
    )
    return run


def load_run(ctx: RunContext, run_id: str | None = None) -> BridgeRun:
    return ctx.evidence.read(BRIDGE_KEY, run_id or ctx.run_id, "drafts", BridgeRun)


def create_stories(ctx: RunContext, drafts_run_id: str | None = None) -> StoriesResult:
    """Create (once) and link each drafted story in SPM; preview records the requests instead.

    Idempotent: the adapter finds a story by the pattern's idempotency label before creating;
    an existing story gets its marked description section refreshed (a 4th incident of a
    pattern shows up on the same story) and any missing incident links added.
    """
    run = load_run(ctx, drafts_run_id)
    outcomes = []
    for draft in run.drafts:
        body = draft.to_adf()["content"]
        description = adf.replace_section(None, SECTION_ID, body)
        existing = run.story_keys.get(draft.pattern_id)
        key = None
        for incident in draft.incident_keys:
            key = (
                ctx.jira.create_linked_issue(
                    incident,
                    project=SPM_PROJECT,
                    issue_type=ctx.customer.jira.issue_type("story"),
                    summary=draft.title,
                    description_adf=description,
                    link_type=ctx.customer.jira.link_type("relates"),
                    idempotency_key=draft.idempotency_key,
                    labels=draft.labels,
                )
                or key
            )
        created = bool(key) and existing is None and ctx.execute
        updated = False
        if key and existing:
            updated = ctx.jira.replace_description_section(key, SECTION_ID, body)
        outcomes.append(
            StoryOutcome(
                pattern_id=draft.pattern_id,
                story_key=key or existing,
                created=created,
                updated=updated,
                linked=draft.incident_keys,
            )
        )
        if ctx.execute:
            ctx.evidence.audit(
                BRIDGE_KEY,
                actor=ctx.actor,
                action="execute:story",
                step="pattern-bridge",
                run_id=ctx.run_id,
                detail={"pattern": draft.pattern_id, "story": key, "created": created, "updated": updated},
            )
    planned, seen = [], set()
    for request in getattr(ctx.jira, "planned", []):
        text = request.model_dump_json()
        if text not in seen:
            seen.add(text)
            planned.append(request.model_dump(mode="json"))
    result = StoriesResult(
        key=BRIDGE_KEY, step="pattern-bridge", run_id=ctx.run_id, mode=ctx.mode, outcomes=outcomes, planned=planned
    )
    ctx.evidence.write(BRIDGE_KEY, ctx.run_id, "stories", result)
    return result


def write_report(ctx: RunContext, drafts_run_id: str | None = None, *, publish: bool = True) -> BridgeReport:
    """The report from the run's artifacts. Published (the bridge DAG's runs): the day's report the ITSM
    Bridge page shows, `_bridge/<date>/report.html|.csv|.json`; not published (an `itsm bridge` preview
    from a terminal): under the run's own id, so a preview never replaces what governance reads."""
    from include.itsm.ports import EvidenceError

    run = load_run(ctx, drafts_run_id)
    story_keys = dict(run.story_keys)
    created_now: list[str] = []
    try:
        stories = ctx.evidence.read(BRIDGE_KEY, drafts_run_id or ctx.run_id, "stories", StoriesResult)
        if stories.mode == "execute":
            for outcome in stories.outcomes:
                if outcome.story_key:
                    story_keys[outcome.pattern_id] = outcome.story_key
                if outcome.created:
                    created_now.append(outcome.pattern_id)
    except EvidenceError:
        pass
    incidents = normalise(
        pd.DataFrame([row.model_dump() for row in run.incidents], columns=list(IncidentRow.model_fields))
    )
    detection = detect(incidents, ctx.settings.policy.sla.resolve_within, run.rules, normalised=True)
    report = build_report(
        incidents,
        detection,
        run.drafts,
        run_id=run.run_id,
        mode=ctx.mode,
        as_of=run.as_of,
        sla=ctx.settings.policy.sla.resolve_within,
        story_keys=story_keys,
        created_now=created_now,
        rules=run.rules,
    )
    folder = report.date if publish else ctx.run_id
    ctx.evidence.write_text(BRIDGE_KEY, folder, "report.json", report.model_dump_json(indent=2))
    ctx.evidence.write_text(BRIDGE_KEY, folder, "report.csv", to_csv(report))
    ctx.evidence.write_text(BRIDGE_KEY, folder, "report.html", to_html(report))
    return report


def run_bridge(ctx: RunContext, *, as_of: datetime | None = None, registers=None, publish: bool = True) -> dict:
    """The whole bridge in-process (`itsm bridge`, tests): the same functions the DAG's tasks call."""
    run = detect_and_draft(ctx, as_of=as_of, registers=registers)
    stories = create_stories(ctx)
    report = write_report(ctx, publish=publish)
    return summary(run, stories, report)


def summary(run: BridgeRun, stories: StoriesResult | None, report: BridgeReport) -> dict:
    return {
        "run_id": run.run_id,
        "mode": run.mode,
        "as_of": run.as_of.isoformat(),
        "incidents": len(run.incidents),
        "patterns": [
            {
                "pattern_id": d.pattern_id,
                "kind": d.kind,
                "title": d.title,
                "incidents": d.incident_keys,
                "story_key": (
                    run.story_keys.get(d.pattern_id)
                    or next(
                        (o.story_key for o in (stories.outcomes if stories else []) if o.pattern_id == d.pattern_id),
                        None,
                    )
                ),
            }
            for d in run.drafts
        ],
        "created": [o.story_key for o in (stories.outcomes if stories else []) if o.created],
        "planned_requests": stories.planned if stories else [],
        "report": {"date": report.date, "points": len(report.points)},
    }
