"""Post-Incident Review (PIR): the seed's structure, its quality gate, and its renderings.

A PIR is drafted by the machine (incident facts, a timeline reconstructed from the ticket's
changelog, alarm state changes and linked change records) and completed by people: the 5 Whys,
the root cause, the rca label and the action items. Nothing here ever writes a why: a missing
why is a problem `validate` reports, never something to fill in.

Pure: pydantic models and functions over them; no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.core.policy import KnownError, LabelTaxonomy
from include.itsm.core.ticket import Ticket
from include.itsm.core.vocab import Priority

PIR_PRIORITIES = ("P0", "P1")
PENDING_PIR = "Pending PIR"
WHY_COUNT = 5
CAUSE_KINDS = ("process", "system")
# The seed's prompts, one per level; the answers are the people's.
WHY_PROMPTS = (
    "Why did the service fail?",
    "Why did that occur?",
    "Why did that cause exist?",
    "Why wasn't it detected?",
    "Why wasn't the gap closed?",
)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|\bTBD\b|\bTODO\b", re.IGNORECASE)


class TimelineRow(BaseModel):
    at: datetime  # UTC
    event: str
    source: str


class Why(BaseModel):
    text: str
    cause_kind: Literal["process", "system"] | None = None  # required on the 5th why


class ActionItem(BaseModel):
    action: str
    owner: str
    due: date | None = None
    ticket_key: str | None = None  # the OPS ticket, once created

    def idempotency_key(self, incident_key: str) -> str:
        return f"pir-action:{incident_key}:{_norm(self.action)}"


class LinkedChange(BaseModel):
    """A change record linked to the incident, as the timeline shows it."""

    key: str
    summary: str = ""
    at: datetime
    status: str = ""


class AlarmState(BaseModel):
    at: datetime
    alarm_name: str
    old_state: str = ""
    new_state: str


class PirInput(BaseModel):
    """What people give: from `itsm create-pir --input pir.yaml` or the pir gate's entry form."""

    whys: list[Why] = Field(default_factory=list)
    root_cause: str = ""
    rca: str = ""  # "rca:config-drift" or "config-drift"
    action_items: list[ActionItem] = Field(default_factory=list)
    source: str = ""  # "yaml:<file>" | "form:<user>"

    def is_empty(self) -> bool:
        return not (self.whys or self.root_cause or self.rca or self.action_items)


class PirInputArtifact(Artifact):
    """`pir-input.json` in the evidence store: the YAML input handed to a lifecycle run."""

    step: str = "pir-input"
    input: PirInput


class Pir(BaseModel):
    incident: str  # ticket key
    title: str
    start: datetime
    resolved: datetime | None = None
    severity: Priority  # P0 or P1: only they get a PIR
    blast: str = ""  # blast label value, e.g. org-wide
    timeline: list[TimelineRow] = Field(default_factory=list)
    whys: list[Why] = Field(default_factory=list)
    root_cause: str = ""
    rca: str = ""  # taxonomy value without the prefix
    action_items: list[ActionItem] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)  # linked artifacts (links, cross-validation, ...)

    @property
    def duration_minutes(self) -> int | None:
        if self.resolved is None:
            return None
        return int((self.resolved - self.start).total_seconds() // 60)

    @property
    def page_title(self) -> str:
        return f"PIR {self.incident}: {self.title}"[:255]


class PirArtifact(Artifact):
    step: str = "pir"
    pir: Pir
    problems: list[str] = Field(default_factory=list)
    input_source: str = ""
    markdown: str = ""


# --- drafting --------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _norm(value: str) -> str:
    return re.sub(r"\s+", " ", value or "").strip().lower()


def draft_timeline(
    ticket: Ticket, alarm_states: Iterable[AlarmState | Any] = (), linked_changes: Iterable[LinkedChange] = ()
) -> list[TimelineRow]:
    """The incident's timeline (UTC, oldest first) from the ticket and the systems around it.

    Status transitions and priority changes come from the ticket's changelog; alarm state
    changes from CloudWatch; mitigation from linked change records.
    """
    rows: list[TimelineRow] = []
    if ticket.created:
        rows.append(TimelineRow(at=_utc(ticket.created), event=f"{ticket.key} opened: {ticket.summary}", source="Jira"))
    first_alarm = True
    for state in sorted(alarm_states, key=lambda s: _utc(s.at)):
        event = f"Alarm {state.alarm_name}: {state.old_state or '?'} -> {state.new_state}"
        if state.new_state == "ALARM" and first_alarm:
            event, first_alarm = f"Detection: {event}", False
        rows.append(TimelineRow(at=_utc(state.at), event=event, source="CloudWatch alarm"))
    for item in ticket.changelog:
        if item.field == "status":
            event = f"Status {item.from_value or '-'} -> {item.to_value or '-'}"
            if item.to_value == "In Progress":
                event = f"Escalation: {event}"
            elif item.to_value in (PENDING_PIR, "Resolved"):
                event = f"Service restored: {event}"
            rows.append(TimelineRow(at=_utc(item.created), event=event, source="Jira changelog"))
        elif item.field == "priority":
            rows.append(
                TimelineRow(
                    at=_utc(item.created),
                    event=f"Priority {item.from_value or '-'} -> {item.to_value or '-'}",
                    source="Jira changelog",
                )
            )
    for change in linked_changes:
        rows.append(
            TimelineRow(
                at=_utc(change.at),
                event=f"Mitigation: change {change.key} {change.summary}"
                + (f" ({change.status})" if change.status else ""),
                source="Change record",
            )
        )
    if ticket.resolved and not any(r.event.startswith("Service restored") for r in rows):
        rows.append(
            TimelineRow(at=_utc(ticket.resolved), event="Service restored (resolution recorded)", source="Jira")
        )
    return sorted(rows, key=lambda r: r.at)


def label_value(labels: Sequence[str], prefix: str) -> str:
    return next((label.split(":", 1)[1] for label in labels if label.startswith(prefix + ":")), "")


def draft(ticket: Ticket, timeline: list[TimelineRow], evidence: Sequence[str] = ()) -> Pir:
    """The machine's part of the PIR: facts only; whys, root cause and actions stay empty."""
    start = ticket.created or (timeline[0].at if timeline else datetime.now(UTC))
    return Pir(
        incident=ticket.key,
        title=ticket.summary,
        start=_utc(start),
        resolved=_utc(ticket.resolved) if ticket.resolved else None,
        severity=ticket.priority or "",
        blast=label_value(ticket.labels, "blast"),
        timeline=timeline,
        evidence=list(evidence),
    )


def merge(pir: Pir, people: PirInput | None) -> Pir:
    """The draft with the people's input; never invents what they did not give."""
    if people is None:
        return pir
    rca = people.rca.strip()
    rca = rca.split(":", 1)[1].strip() if rca.startswith("rca:") else rca
    return pir.model_copy(
        update={
            "whys": list(people.whys),
            "root_cause": people.root_cause.strip(),
            "rca": rca,
            "action_items": list(people.action_items),
        }
    )


# --- the entry form's text fields --------------------------------------------------------------


def parse_whys(text: str) -> list[Why]:
    """One why per non-empty line; a `process:` / `system:` prefix sets the cause kind."""
    whys = []
    for line in (text or "").splitlines():
        line = re.sub(r"^\s*(\d+[.)]\s*)?", "", line).strip()
        if not line:
            continue
        kind = None
        match = re.match(r"^(process|system)\s*:\s*(.*)$", line, re.IGNORECASE)
        if match:
            kind, line = match.group(1).lower(), match.group(2).strip()
        whys.append(Why(text=line, cause_kind=kind))
    return whys


def parse_action_items(text: str) -> list[ActionItem]:
    """One action per non-empty line: `action | owner | YYYY-MM-DD` (a bad date is left empty and reported)."""
    items = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")] + ["", ""]
        try:
            due = date.fromisoformat(parts[2]) if parts[2] else None
        except ValueError:
            due = None
        items.append(ActionItem(action=parts[0], owner=parts[1], due=due))
    return items


def input_from_mapping(data: dict, source: str = "") -> PirInput:
    """A YAML/JSON document: whys as strings (`process:`/`system:` prefix allowed) or {text, cause_kind};
    action items as {action, owner, due} or `action | owner | YYYY-MM-DD` strings."""
    if not isinstance(data, dict):
        raise ValueError("PIR input must be a mapping with whys, root_cause, rca and action_items")
    unknown = sorted(set(data) - {"whys", "root_cause", "rca", "action_items"})
    if unknown:
        raise ValueError(f"PIR input: unknown keys {unknown} (expected whys, root_cause, rca, action_items)")
    whys = []
    for why in data.get("whys") or []:
        whys += parse_whys(why) if isinstance(why, str) else [Why.model_validate(why)]
    items = []
    for item in data.get("action_items") or []:
        items += parse_action_items(item) if isinstance(item, str) else [ActionItem.model_validate(item)]
    return PirInput(
        whys=whys,
        root_cause=str(data.get("root_cause") or ""),
        rca=str(data.get("rca") or ""),
        action_items=items,
        source=source,
    )


def input_from_form(params: dict, user: str | None = None) -> PirInput:
    return PirInput(
        whys=parse_whys(str(params.get("whys") or "")),
        root_cause=str(params.get("root_cause") or ""),
        rca=str(params.get("rca") or ""),
        action_items=parse_action_items(str(params.get("action_items") or "")),
        source=f"form:{user or 'unknown'}",
    )


# --- the quality gate --------------------------------------------------------------------------


def _placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value or ""))


def validate(pir: Pir, taxonomy: LabelTaxonomy | None = None) -> list[str]:
    """Every way this PIR fails the seed's quality gate, in words a reviewer can act on."""
    taxonomy = taxonomy or LabelTaxonomy()
    problems: list[str] = []
    whys = pir.whys
    if len(whys) != WHY_COUNT:
        problems.append(
            f"5 Whys: {len(whys)} given, exactly {WHY_COUNT} required (they come from people, never generated)"
        )
    seen: dict[str, int] = {}
    for n, why in enumerate(whys, 1):
        text = _norm(why.text)
        if not text:
            problems.append(f"why {n} is empty")
            continue
        if _placeholder(why.text):
            problems.append(f"why {n} holds a placeholder ({why.text!r})")
        if n > 1 and text == _norm(whys[n - 2].text):
            problems.append(f"why {n} repeats why {n - 1}: each why must go one level deeper than the previous")
        elif text in seen:
            problems.append(f"why {n} repeats why {seen[text]}: the 5 whys must be distinct")
        seen.setdefault(text, n)
    if len(whys) == WHY_COUNT and whys[-1].cause_kind not in CAUSE_KINDS:
        problems.append(
            "why 5 must name a process or system cause (cause_kind: process|system, or prefix the "
            "line with 'process:' / 'system:'), not stop at a symptom"
        )
    if not pir.root_cause.strip():
        problems.append("root cause is empty")
    elif _placeholder(pir.root_cause):
        problems.append(f"root cause holds a placeholder ({pir.root_cause!r})")
    allowed = taxonomy.values.get("rca", ())
    placeholders = taxonomy.placeholders.get("rca", ())
    if not pir.rca:
        problems.append(f"rca label missing: one of {', '.join('rca:' + v for v in allowed)}")
    elif pir.rca in placeholders:
        problems.append(f"rca:{pir.rca} is a placeholder: name the concrete rca label ({', '.join(allowed)})")
    elif pir.rca not in allowed:
        problems.append(f"rca:{pir.rca} is not in the taxonomy ({', '.join(allowed)})")
    if not pir.action_items:
        problems.append("no action items: a PIR without actions changes nothing")
    resolved_day = (pir.resolved or pir.start).date()
    for n, item in enumerate(pir.action_items, 1):
        name = f"action item {n} ({item.action[:40] or 'unnamed'})"
        if not item.action.strip():
            problems.append(f"action item {n} has no action")
        elif _placeholder(item.action):
            problems.append(f"{name} holds a placeholder")
        if not item.owner.strip():
            problems.append(f"{name} has no owner")
        elif _placeholder(item.owner):
            problems.append(f"{name}: owner is a placeholder ({item.owner!r})")
        if item.due is None:
            problems.append(f"{name} has no due date (YYYY-MM-DD)")
        elif item.due <= resolved_day:
            problems.append(
                f"{name}: due date {item.due.isoformat()} is not after the incident's resolution "
                f"({resolved_day.isoformat()})"
            )
    return problems


def missing(pir: Pir, taxonomy: LabelTaxonomy | None = None) -> list[str]:
    return validate(pir, taxonomy)


def known_error(pir: Pir, service: str, number: int) -> KnownError:
    """The PIR's entry for the known-error register (matched by the incident's own summary)."""
    return KnownError(
        id=f"{number:04d}",
        service=service or "unknown",
        rca=pir.rca or "unknown",
        title=f"{pir.incident}: {pir.root_cause}"[:200],
        patterns=(re.escape(pir.title.strip().lower())[:200],),
    )


# --- renderings --------------------------------------------------------------------------------


def _fmt(at: datetime | None) -> str:
    return _utc(at).strftime("%Y-%m-%d %H:%M") if at else "-"


def _why_line(n: int, why: Why) -> str:
    kind = f" ({why.cause_kind} cause)" if why.cause_kind else ""
    return f"{WHY_PROMPTS[n - 1] if n <= len(WHY_PROMPTS) else 'Why?'} -> {why.text}{kind}"


def _md_cell(value: str) -> str:
    return (value or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(pir: Pir) -> str:
    """The seed's layout."""
    minutes = pir.duration_minutes
    lines = [
        f"## Post-Incident Review: {pir.incident}",
        "",
        f"**Incident**: {pir.title}",
        f"**Duration**: {_fmt(pir.start)} UTC → {_fmt(pir.resolved)} UTC "
        f"({minutes if minutes is not None else '?'} minutes)",
        f"**Severity**: {pir.severity} | Impact: blast:{pir.blast or 'unknown'}",
        "",
        "## Timeline",
        "| Time (UTC) | Event | Source |",
        "|------------|-------|--------|",
    ]
    lines += [f"| {_fmt(r.at)} | {_md_cell(r.event)} | {_md_cell(r.source)} |" for r in pir.timeline]
    lines += ["", "## 5-Why Root Cause Analysis"]
    lines += [f"{n}. {_why_line(n, why)}" for n, why in enumerate(pir.whys, 1)] or [
        "(the 5 Whys are still to come from the responders)"
    ]
    lines += [
        "",
        f"**Root Cause**: {pir.root_cause or '(missing)'}",
        f"**rca: label**: {'rca:' + pir.rca if pir.rca else '(missing)'}",
        "",
        "## Action Items",
        "| Action | Owner | Due Date | JIRA Ticket |",
        "|--------|-------|---------|-------------|",
    ]
    lines += [
        f"| {_md_cell(a.action)} | {_md_cell(a.owner)} | {a.due.isoformat() if a.due else '-'} | "
        f"{a.ticket_key or '-'} |"
        for a in pir.action_items
    ]
    if pir.evidence:
        lines += ["", "## Evidence"] + [f"- {e}" for e in pir.evidence]
    return "\n".join(lines) + "\n"


def _x(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_x(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_x(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def render_storage(pir: Pir) -> str:
    """Confluence storage format (XHTML) of the page."""
    minutes = pir.duration_minutes
    parts = [
        f"<h2>Post-Incident Review: {_x(pir.incident)}</h2>",
        f"<p><strong>Incident</strong>: {_x(pir.title)}<br/>"
        f"<strong>Duration</strong>: {_x(_fmt(pir.start))} UTC → {_x(_fmt(pir.resolved))} UTC "
        f"({_x(minutes if minutes is not None else '?')} minutes)<br/>"
        f"<strong>Severity</strong>: {_x(pir.severity)} | Impact: blast:{_x(pir.blast or 'unknown')}</p>",
        "<h2>Timeline</h2>",
        _table(("Time (UTC)", "Event", "Source"), ((_fmt(r.at), r.event, r.source) for r in pir.timeline)),
        "<h2>5-Why Root Cause Analysis</h2>",
        "<ol>" + "".join(f"<li>{_x(_why_line(n, w))}</li>" for n, w in enumerate(pir.whys, 1)) + "</ol>",
        f"<p><strong>Root Cause</strong>: {_x(pir.root_cause)}<br/><strong>rca: label</strong>: rca:{_x(pir.rca)}</p>",
        "<h2>Action Items</h2>",
        _table(
            ("Action", "Owner", "Due Date", "JIRA Ticket"),
            ((a.action, a.owner, a.due.isoformat() if a.due else "-", a.ticket_key or "-") for a in pir.action_items),
        ),
    ]
    if pir.evidence:
        parts += ["<h2>Evidence</h2>", "<ul>" + "".join(f"<li>{_x(e)}</li>" for e in pir.evidence) + "</ul>"]
    return "".join(parts)


def render_adf(pir: Pir) -> dict:
    """ADF of the page (Confluence atlas_doc_format, or a Jira comment)."""
    minutes = pir.duration_minutes
    nodes = [
        adf.heading(f"Post-Incident Review: {pir.incident}", 2),
        adf.paragraph(
            f"Incident: {pir.title}\nDuration: {_fmt(pir.start)} UTC → {_fmt(pir.resolved)} UTC "
            f"({minutes if minutes is not None else '?'} minutes)\nSeverity: {pir.severity} | Impact: "
            f"blast:{pir.blast or 'unknown'}"
        ),
        adf.heading("Timeline", 2),
        adf.table(("Time (UTC)", "Event", "Source"), [(_fmt(r.at), r.event, r.source) for r in pir.timeline]),
        adf.heading("5-Why Root Cause Analysis", 2),
    ]
    if pir.whys:
        nodes.append(
            {
                "type": "orderedList",
                "content": [
                    {"type": "listItem", "content": [adf.paragraph(_why_line(n, w))]} for n, w in enumerate(pir.whys, 1)
                ],
            }
        )
    nodes += [
        adf.paragraph(
            f"Root Cause: {pir.root_cause or '(missing)'}\nrca: label: {'rca:' + pir.rca if pir.rca else '(missing)'}"
        ),
        adf.heading("Action Items", 2),
        adf.table(
            ("Action", "Owner", "Due Date", "JIRA Ticket"),
            [
                (a.action or "-", a.owner or "-", a.due.isoformat() if a.due else "-", a.ticket_key or "-")
                for a in pir.action_items
            ],
        ),
    ]
    return adf.doc(nodes)
