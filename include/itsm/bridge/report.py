"""The daily pattern-bridge report: figures, then HTML (inline SVG charts), CSV and JSON.

Pure: the application hands in the normalised incident frame, the detection, the scrubbed
drafts and which drafts already have a story on the SPM board. Every figure is one
`ChartPoint`; the CSV is exactly those points and every SVG bar carries the same point in
`data-*` attributes and as its printed value, so the page and the CSV can be compared.
Charts are inline SVG (no script, no network); every bar is at least 2 px long, so a zero
is still a visible, measurable element. Text on the page is scrubbed drafts, labels, keys,
dates and numbers only: no incident free text.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import pandas as pd
from pydantic import BaseModel, Field

from include.itsm.bridge.domain import KINDS, Detection, StoryDraft
from include.itsm.core.artifact import Artifact
from include.itsm.core.policy import DEFAULT_BRIDGE_RULES, BridgeRules
from include.itsm.core.vocab import ReviewState, StoryState

CHARTS = {
    "incidents_by_service_rca": "Incidents by service x rca (last {window} days)",
    "recurring_patterns": "Recurring patterns (service:rca): incidents and most in one {window}-day window",
    "stories": "Stories drafted and on the SPM board, by rule",
    "mttr_vs_sla": "MTTR against SLA by priority, hours, log scale (last {window} days)",
    "reviews": "Post-incident reviews (P0/P1): due, overdue, done",
}


class ChartPoint(BaseModel):
    chart: str
    series: str
    category: str
    value: float
    unit: str = "count"


class PatternRow(BaseModel):
    pattern_id: str
    kind: str
    incidents: int
    title: str  # scrubbed
    incident_keys: list[str]
    story_key: str | None = None  # the SPM story when it exists
    state: StoryState = StoryState.DRAFTED


class ReviewRow(BaseModel):
    key: str
    priority: str
    status: str
    resolved: datetime | None = None
    due: datetime | None = None
    state: ReviewState


class BridgeReport(Artifact):
    date: str
    as_of: datetime
    window_days: int
    lookback_days: int
    incidents_loaded: int
    incidents_in_window: int
    points: list[ChartPoint] = Field(default_factory=list)
    patterns: list[PatternRow] = Field(default_factory=list)
    reviews: list[ReviewRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def fmt(value: float) -> str:
    """How a figure is printed on the page and in the CSV (the same string in both)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def build_report(
    incidents: pd.DataFrame,
    detection: Detection,
    drafts: Sequence[StoryDraft],
    *,
    run_id: str,
    mode: str,
    as_of: datetime,
    sla: Mapping[str, timedelta],
    story_keys: Mapping[str, str] | None = None,
    created_now: Sequence[str] = (),
    rules: BridgeRules = DEFAULT_BRIDGE_RULES,
) -> BridgeReport:
    """The report's figures from a `normalise`d incident frame (see the module doc)."""
    story_keys = dict(story_keys or {})
    window_start = pd.Timestamp(as_of) - pd.Timedelta(days=rules.window_days)
    recent = incidents[(incidents["created"] >= window_start).to_numpy()]
    points: list[ChartPoint] = []

    pairs = (
        recent["service"].astype(object).fillna("unlabelled").astype(str)
        + ":"
        + recent["rca"].astype(object).fillna("unlabelled").astype(str)
    )
    for pair, count in sorted(pairs.value_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        points.append(ChartPoint(chart="incidents_by_service_rca", series="incidents", category=pair, value=count))

    rec = detection.patterns[detection.patterns["kind"] == "recurring"]
    for p in rec.to_dict("records"):
        category = f"{p['service']}:{p['rca']}"
        points.append(
            ChartPoint(chart="recurring_patterns", series="incidents", category=category, value=p["incidents"])
        )
        points.append(
            ChartPoint(
                chart="recurring_patterns", series="most in one window", category=category, value=p["max_in_window"]
            )
        )

    for kind in KINDS:
        of_kind = [d for d in drafts if d.kind == kind]
        points.append(ChartPoint(chart="stories", series="drafted", category=kind, value=len(of_kind)))
        points.append(
            ChartPoint(
                chart="stories",
                series="on SPM board",
                category=kind,
                value=sum(1 for d in of_kind if d.pattern_id in story_keys),
            )
        )

    resolved = recent[recent["resolved"].notna().to_numpy()]
    mttr_h = (resolved["resolved"] - resolved["created"]).dt.total_seconds() / 3600
    by_priority = mttr_h.groupby(resolved["priority"].astype(object).fillna("none").to_numpy())
    for priority, values in sorted(by_priority, key=lambda kv: kv[0]):
        sla_h = sla[priority].total_seconds() / 3600 if priority in sla else None
        points.append(
            ChartPoint(
                chart="mttr_vs_sla",
                series="median MTTR",
                category=priority,
                value=round(float(values.median()), 2),
                unit="hours",
            )
        )
        points.append(
            ChartPoint(
                chart="mttr_vs_sla",
                series="max MTTR",
                category=priority,
                value=round(float(values.max()), 2),
                unit="hours",
            )
        )
        if sla_h is not None:
            points.append(
                ChartPoint(chart="mttr_vs_sla", series="SLA", category=priority, value=round(sla_h, 2), unit="hours")
            )
            points.append(
                ChartPoint(
                    chart="mttr_vs_sla",
                    series=f"SLA x{rules.mttr_factor:g}",
                    category=priority,
                    value=round(sla_h * rules.mttr_factor, 2),
                    unit="hours",
                )
            )

    reviews = _reviews(incidents, as_of, rules)
    for state in ("due", "overdue", "done"):
        points.append(
            ChartPoint(chart="reviews", series="PIR", category=state, value=sum(1 for r in reviews if r.state == state))
        )

    patterns = [
        PatternRow(
            pattern_id=d.pattern_id,
            kind=d.kind,
            incidents=len(d.evidence),
            title=d.title,
            incident_keys=d.incident_keys,
            story_key=story_keys.get(d.pattern_id),
            state=(
                "created" if d.pattern_id in created_now else "on board" if d.pattern_id in story_keys else "drafted"
            ),
        )
        for d in drafts
    ]
    notes = [
        "Post-implementation reviews of changes are not in this report: the bridge reads incidents only "
        "(emergency-change PIRs are tracked by the change lifecycle)."
    ]
    return BridgeReport(
        key="_bridge",
        step="pattern-bridge",
        run_id=run_id,
        mode=mode,
        date=pd.Timestamp(as_of).strftime("%Y-%m-%d"),
        as_of=as_of,
        window_days=rules.window_days,
        lookback_days=rules.lookback_days,
        incidents_loaded=len(incidents),
        incidents_in_window=len(recent),
        points=points,
        patterns=patterns,
        reviews=reviews,
        notes=notes,
    )


def _reviews(incidents: pd.DataFrame, as_of: datetime, rules: BridgeRules) -> list[ReviewRow]:
    """P0/P1 incidents: `Pending PIR` is due (overdue after `pir_due_days`), resolved/closed is done."""
    pir = incidents[
        incidents["priority"].astype(object).isin(list(rules.pir_priorities)).to_numpy()
        & incidents["resolved"].notna().to_numpy()
    ]
    out = []
    for r in pir.sort_values("created").to_dict("records"):
        status = "" if pd.isna(r["status"]) else str(r["status"])
        resolved = pd.Timestamp(r["resolved"]).to_pydatetime()
        due = resolved + timedelta(days=rules.pir_due_days)
        if status.lower() == "pending pir":
            state = "overdue" if pd.Timestamp(as_of) > pd.Timestamp(due) else "due"
        else:
            state = "done"
        out.append(
            ReviewRow(
                key=str(r["key"]),
                priority=str(r["priority"]),
                status=status or "-",
                resolved=resolved,
                due=due,
                state=state,
            )
        )
    return out


# --- renderers ---------------------------------------------------------------------------------


def to_csv(report: BridgeReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["chart", "series", "category", "value", "unit"])
    for p in report.points:
        writer.writerow([p.chart, p.series, p.category, fmt(p.value), p.unit])
    return buffer.getvalue()


_PALETTE = ("#2f6fba", "#e08a1e", "#3a9b5c", "#b8443d", "#7b5ea7", "#5f7d8c")
_BAR_H, _GAP, _LABEL_W, _PLOT_W, _VALUE_W = 16, 6, 260, 420, 70


# Charts whose values span orders of magnitude (P0's minutes next to P4's days): bar length on a log scale.
LOG_CHARTS = {"mttr_vs_sla"}


def _length(value: float, top: float, log: bool) -> float:
    if log:
        return math.log10(1 + value) / math.log10(1 + top) * _PLOT_W if top > 0 else 0.0
    return value / top * _PLOT_W


def _svg_chart(chart: str, points: list[ChartPoint]) -> str:
    """A horizontal bar chart: one row per (category, series), length proportional (log10(1 + value)
    for LOG_CHARTS), 2 px floor; the value is printed beside every bar."""
    if not points:
        return '<p class="empty">No data.</p>'
    series = list(dict.fromkeys(p.series for p in points))
    top = max(p.value for p in points) or 1.0
    log = chart in LOG_CHARTS
    scale = ' data-scale="log"' if log else ""
    height = len(points) * (_BAR_H + _GAP) + _GAP
    width = _LABEL_W + _PLOT_W + _VALUE_W
    e = html.escape
    parts = [
        f'<svg class="chart" data-chart="{e(chart)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{e(chart)}"'
        f"{scale}>"
    ]
    for i, p in enumerate(points):
        y = _GAP + i * (_BAR_H + _GAP)
        length = max(2.0, _length(p.value, top, log))
        color = _PALETTE[series.index(p.series) % len(_PALETTE)]
        label = f"{p.category} - {p.series}"
        parts.append(
            f'<g class="bar" data-chart="{e(chart)}" data-series="{e(p.series)}" data-category="{e(p.category)}" '
            f'data-value="{fmt(p.value)}" data-unit="{e(p.unit)}">'
            f'<text class="label" x="{_LABEL_W - 6}" y="{y + _BAR_H - 4}" text-anchor="end">{e(label)}</text>'
            f'<rect class="bar-rect" x="{_LABEL_W}" y="{y}" width="{length:.1f}" height="{_BAR_H}" fill="{color}">'
            f"<title>{e(label)}: {fmt(p.value)} {e(p.unit)}</title></rect>"
            f'<text class="value" x="{_LABEL_W + length + 4:.1f}" y="{y + _BAR_H - 4}">{fmt(p.value)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], css: str) -> str:
    e = html.escape
    if not rows:
        return '<p class="empty">None.</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def to_html(report: BridgeReport) -> str:
    e = html.escape
    sections = []
    for chart, title in CHARTS.items():
        points = [p for p in report.points if p.chart == chart]
        sections.append(
            f"<section><h2>{e(title.format(window=report.window_days))}</h2>{_svg_chart(chart, points)}</section>"
        )
    patterns = _table(
        ["Pattern", "Rule", "Incidents", "Story", "State", "Title"],
        [
            [p.pattern_id, p.kind, ", ".join(p.incident_keys), p.story_key or "-", p.state, p.title]
            for p in report.patterns
        ],
        "patterns",
    )
    reviews = _table(
        ["Incident", "Priority", "Status", "Resolved (UTC)", "PIR due (UTC)", "State"],
        [[r.key, r.priority, r.status, _t(r.resolved), _t(r.due), r.state] for r in report.reviews],
        "reviews",
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in report.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ITSM pattern bridge {e(report.date)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2733; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.05rem; margin-top: 1.6rem; }}
svg.chart text {{ font-size: 11px; fill: #1d2733; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }} td, th {{ border: 1px solid #c9d1da; padding: 3px 6px; text-align: left; }}
.meta {{ color: #5b6b7b; font-size: 0.85rem; }}
</style></head><body>
<h1>ITSM pattern bridge: daily report {e(report.date)}</h1>
<p class="meta">As of {e(_t(report.as_of))} UTC; run {e(report.run_id)} ({e(report.mode)}); {report.incidents_loaded} incidents
loaded ({report.lookback_days}-day lookback), {report.incidents_in_window} in the last {report.window_days} days.
Incident details are PII-scrubbed; figures also in report.csv and report.json.</p>
{"".join(sections)}
<section><h2>Patterns and SPM stories</h2>{patterns}</section>
<section><h2>Post-incident reviews</h2>{reviews}</section>
<section><h2>Notes</h2><ul>{notes}</ul></section>
</body></html>
"""


def _t(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
