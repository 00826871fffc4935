"""The pattern bridge (OPS -> SPM): recurring incidents become scrubbed product-story drafts.

Pure: pandas/numpy and pydantic only (no Airflow, no I/O). Three rules (the seed's "Bridge
Conditions", docs/architecture.md §7):

- **recurring**: 3+ incidents with the same `service:` and `rca:` labels inside ANY 90-day
  window (a sliding window over the incidents' `created` times, not only "the last 90 days
  from now"). Window edges, precisely: a set of incidents lies in one window when
  `last.created - first.created <= window_days` days, measured on the UTC timestamps (to the
  millisecond). The window is the closed interval `[t, t + 90 days]`: an incident created
  exactly 90 days after the first is inside (day 90 counts), 90 days and 1 ms after is not
  (so day 89 in, day 90 in, day 91 out). `rca:unknown` / `rca:not-applicable` are
  placeholders, not causes, and never form a pattern.
- **p0**: any P0 incident -> a story at once (resolved or not).
- **mttr**: MTTR (`resolved - created`) strictly greater than SLA x 3 -> SRE capacity story.

Pattern ids are stable, so a re-run finds the same story and never duplicates it:
`recurring:<service>:<rca>` (one story per pair, however many windows fire),
`p0:<incident key>`, `mttr:<incident key>` (the kind prefix keeps a P0 that also breached
its MTTR budget from colliding with itself).

Detection is vectorised (benchmarked on 1M incidents): the pair is factorised into one
integer group code, rows are sorted once by (group, created), and for each incident the end
of its window is found with one `searchsorted` over a combined (group, time) key; members of
qualifying windows are marked with a difference array. No Python loop per row or per group.

Drafting scrubs every free-text field (titles, problem statements, incident summaries,
acceptance criteria) with `include.itsm.scrub.domain.scrub` and the caller's registers before
it is stored or rendered (ADF for Jira, Markdown for people): PII and credentials alike (a key
pasted into an incident summary becomes `{aws_access_key}` in the story).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from include.itsm.core import adf
from include.itsm.core.policy import DEFAULT_BRIDGE_RULES, BridgeRules
from include.itsm.scrub.domain import ScrubRegisters

Kind = Literal["recurring", "p0", "mttr"]
KINDS: tuple[Kind, ...] = ("recurring", "p0", "mttr")
COLUMNS = ("key", "created", "resolved", "priority", "service", "rca", "summary", "status")
BRIDGE_LABEL = "itsm-bridge"
_MS_PER_DAY = 86_400_000


# --- input -------------------------------------------------------------------------------------


def _clean_labels(values: pd.Series, prefix: str) -> pd.Categorical:
    """Bare lower-case label values as a Categorical; cleaned per distinct value, not per row."""
    codes, uniques = pd.factorize(values, sort=False)
    cleaned = [str(u).removeprefix(prefix).strip().lower() for u in uniques]
    cleaned = [c if c and c not in ("nan", "<na>", "none") else None for c in cleaned]
    cat_codes, categories = pd.factorize(pd.Series(cleaned, dtype=object), sort=True)
    cat_codes = np.append(cat_codes, -1)  # index -1 (a missing value) stays missing
    return pd.Categorical.from_codes(cat_codes[codes], categories=categories)


def normalise(incidents: pd.DataFrame) -> pd.DataFrame:
    """The incident frame with every column present, UTC datetimes, bare `service`/`rca` values.

    Accepts `service`/`rca` with or without their label prefix (`service:compute` or `compute`);
    label columns become Categoricals (cheap to group at 1M rows). Rows without `created` are
    dropped; a key given twice keeps its last row.
    """
    df = pd.DataFrame(index=incidents.index)
    for column in COLUMNS:
        df[column] = incidents[column] if column in incidents else pd.Series(pd.NA, index=incidents.index, dtype=object)
    for column in ("created", "resolved"):
        df[column] = pd.to_datetime(df[column], utc=True, errors="coerce")
    df["service"] = _clean_labels(df["service"], "service:")
    df["rca"] = _clean_labels(df["rca"], "rca:")
    df["priority"] = _clean_labels(df["priority"], "").rename_categories(str.upper)
    if df["key"].isna().any():
        raise ValueError("every incident needs a key")
    df = df[df["created"].notna().to_numpy()]
    if df["key"].duplicated(keep="last").any():
        df = df.drop_duplicates("key", keep="last")
    return df.reset_index(drop=True)


def sla_seconds(sla: Mapping[str, timedelta]) -> dict[str, float]:
    return {priority: within.total_seconds() for priority, within in sla.items()}


# --- detection ---------------------------------------------------------------------------------


@dataclass
class Detection:
    """What detection found, as frames (cheap at 1M rows; drafts are built from these).

    `members`: one row per (pattern, incident): pattern_id, kind and the incident's columns
    plus `mttr_s` and `sla_s`, grouped by pattern (recurring, then p0, then mttr), each
    pattern's incidents oldest first. `patterns`: one row per pattern: pattern_id, kind,
    service, rca, incidents, first, last, max_in_window, window_start, window_end (the
    densest window's first and last incident times; the earliest such window on ties).
    """

    members: pd.DataFrame
    patterns: pd.DataFrame

    @property
    def pattern_ids(self) -> list[str]:
        return self.patterns["pattern_id"].astype(str).tolist()


@dataclass
class Recurring:
    rows: np.ndarray  # positions (in the normalised frame) of member incidents, by (pattern, created)
    member_pattern: np.ndarray  # index into `patterns` per member
    patterns: pd.DataFrame


def _dt64(values: pd.Series) -> np.ndarray:
    """UTC datetime64[ns] without per-element Timestamp objects (tz-aware to_numpy() makes objects)."""
    return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _times_ms(created: pd.Series) -> np.ndarray:
    return _dt64(created).astype("datetime64[ms]").astype(np.int64)


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return cat.cat.codes.to_numpy(), [str(c) for c in cat.cat.categories]


def recurring_windows(df: pd.DataFrame, rules: BridgeRules = DEFAULT_BRIDGE_RULES) -> Recurring:
    """Incidents of a (service, rca) pair that lie in a window of `window_days` (closed) holding
    `min_incidents` or more incidents of that pair. `df` is a `normalise`d frame."""
    s_codes, services = _codes(df["service"])
    r_codes, rcas = _codes(df["rca"])
    excluded = np.array([r in rules.excluded_rca for r in rcas] + [True], dtype=bool)  # [-1] = missing
    usable = (s_codes >= 0) & ~excluded[r_codes]
    positions = np.flatnonzero(usable)
    empty = Recurring(np.empty(0, np.int64), np.empty(0, np.int64), _summary_frame([]))
    if positions.size == 0:
        return empty
    group = s_codes[positions].astype(np.int64) * len(rcas) + r_codes[positions]
    t = _times_ms(df["created"].iloc[positions])
    t = t - t.min()
    window = rules.window_days * _MS_PER_DAY
    stride = int(t.max()) + window + 1
    if (len(services) * len(rcas)) * stride >= 2**62:  # 1e5 pairs x 100 years still fits; be explicit
        raise ValueError("too many label pairs over too long a history for one combined sort key")
    combined = group * stride + t
    order = np.argsort(combined, kind="stable")
    key = combined[order]
    n = key.size
    start = np.arange(n)
    # closed window [t_i, t_i + window]: side="right" keeps an incident exactly `window` later
    end = np.searchsorted(key, key + window, side="right")
    count = end - start
    qualifies = count >= rules.min_incidents
    if not qualifies.any():
        return empty
    # union of the qualifying windows [i, end_i): +1 at each start, -1 at each end, running sum > 0
    depth = np.cumsum(
        np.bincount(start[qualifies], minlength=n + 1)[:n] - np.bincount(end[qualifies], minlength=n + 1)[:n]
    )
    member = depth > 0
    sorted_group = group[order]
    member_group = sorted_group[member]
    pattern_groups, first_index, sizes = np.unique(member_group, return_index=True, return_counts=True)
    member_pattern = np.repeat(np.arange(pattern_groups.size), sizes)
    rows = positions[order[member]]
    created = _dt64(df["created"])
    # densest window per pattern: the largest count, the earliest start on ties
    q_pos = np.flatnonzero(qualifies)
    q_group = sorted_group[q_pos]
    q_count = count[q_pos]
    g_start = np.flatnonzero(np.r_[True, q_group[1:] != q_group[:-1]])
    g_max = np.maximum.reduceat(q_count, g_start)
    g_index = np.repeat(np.arange(g_start.size), np.diff(np.r_[g_start, q_pos.size]))
    best = q_pos[q_count == g_max[g_index]]
    best_group = sorted_group[best]
    _, best_first = np.unique(best_group, return_index=True)
    best = best[best_first]
    win_start = created[positions[order[best]]]
    win_end = created[positions[order[end[best] - 1]]]
    member_rows_first = rows[first_index]
    member_rows_last = rows[first_index + sizes - 1]
    summary = pd.DataFrame(
        {
            "pattern_id": [f"recurring:{services[g // len(rcas)]}:{rcas[g % len(rcas)]}" for g in pattern_groups],
            "kind": "recurring",
            "service": [services[g // len(rcas)] for g in pattern_groups],
            "rca": [rcas[g % len(rcas)] for g in pattern_groups],
            "incidents": sizes,
            "first": created[member_rows_first],
            "last": created[member_rows_last],
            "max_in_window": g_max,
            "window_start": win_start,
            "window_end": win_end,
        }
    )
    return Recurring(rows, member_pattern, _summary_frame([summary]))


_SUMMARY_COLUMNS = [
    "pattern_id",
    "kind",
    "service",
    "rca",
    "incidents",
    "first",
    "last",
    "max_in_window",
    "window_start",
    "window_end",
]


def _summary_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in _SUMMARY_COLUMNS})
    else:
        out = pd.concat(parts, ignore_index=True)
    for column in ("first", "last", "window_start", "window_end"):
        out[column] = pd.to_datetime(out[column], utc=True)
    out["incidents"] = out["incidents"].astype(int)
    out["max_in_window"] = out["max_in_window"].astype(int)
    return out[_SUMMARY_COLUMNS].reset_index(drop=True)


def _single(df: pd.DataFrame, rows: np.ndarray, kind: str) -> pd.DataFrame:
    """One pattern per incident (p0, mttr): id `<kind>:<key>`."""
    sub = df.iloc[rows]
    return pd.DataFrame(
        {
            "pattern_id": (kind + ":" + sub["key"].astype(str)).to_numpy(),
            "kind": kind,
            "service": sub["service"].astype(object).to_numpy(),
            "rca": sub["rca"].astype(object).to_numpy(),
            "incidents": 1,
            "first": _dt64(sub["created"]),
            "last": _dt64(sub["created"]),
            "max_in_window": 0,
            "window_start": pd.NaT,
            "window_end": pd.NaT,
        }
    )


def detect(
    incidents: pd.DataFrame,
    sla: Mapping[str, timedelta],
    rules: BridgeRules = DEFAULT_BRIDGE_RULES,
    *,
    normalised: bool = False,
) -> Detection:
    """All patterns of the three rules in `incidents` (see the module doc for the rules)."""
    df = incidents if normalised else normalise(incidents)
    p_codes, priorities = _codes(df["priority"])
    sla_by_code = np.array([sla_seconds(sla).get(p, np.nan) for p in priorities] + [np.nan])
    sla_s = sla_by_code[p_codes]
    mttr_s = (_dt64(df["resolved"]) - _dt64(df["created"])).astype("timedelta64[ms]").astype(np.float64) / 1000
    mttr_s[np.isnat(_dt64(df["resolved"]))] = np.nan

    recurring = recurring_windows(df, rules)
    p0_code = priorities.index("P0") if "P0" in priorities else -2
    p0_rows = np.flatnonzero(p_codes == p0_code)
    with np.errstate(invalid="ignore"):
        mttr_rows = np.flatnonzero(mttr_s > sla_s * rules.mttr_factor)
    p0_rows = p0_rows[np.argsort(_dt64(df["created"])[p0_rows], kind="stable")]
    mttr_rows = mttr_rows[np.argsort(_dt64(df["created"])[mttr_rows], kind="stable")]

    patterns = _summary_frame([recurring.patterns, _single(df, p0_rows, "p0"), _single(df, mttr_rows, "mttr")])
    n_rec = len(recurring.patterns)
    rows = np.concatenate([recurring.rows, p0_rows, mttr_rows]).astype(np.int64)
    pattern_index = np.concatenate(
        [recurring.member_pattern, n_rec + np.arange(p0_rows.size), n_rec + p0_rows.size + np.arange(mttr_rows.size)]
    ).astype(np.int64)
    members = df.iloc[rows].reset_index(drop=True)
    members.insert(
        0,
        "kind",
        pd.Categorical.from_codes(
            np.searchsorted(np.array([n_rec, n_rec + p0_rows.size]), pattern_index, side="right"), categories=KINDS
        ),
    )
    members.insert(0, "pattern_id", pd.Categorical.from_codes(pattern_index, categories=patterns["pattern_id"]))
    members["mttr_s"] = mttr_s[rows]
    members["sla_s"] = sla_s[rows]
    return Detection(members=members, patterns=patterns)


# --- story drafts ------------------------------------------------------------------------------


class EvidenceRow(BaseModel):
    key: str
    created: datetime
    resolved: datetime | None = None
    priority: str | None = None
    status: str | None = None
    mttr_hours: float | None = None
    sla_hours: float | None = None
    summary: str = ""  # scrubbed


class StoryDraft(BaseModel):
    """One SPM story per pattern; every text field already scrubbed."""

    pattern_id: str
    kind: Kind
    service: str | None = None
    rca: str | None = None
    idempotency_key: str
    title: str
    problem_statement: str
    evidence: list[EvidenceRow]
    acceptance_criteria: list[str]
    labels: list[str]
    window_days: int = 90
    window_start: datetime | None = None
    window_end: datetime | None = None
    max_in_window: int = 0

    @property
    def incident_keys(self) -> list[str]:
        return [row.key for row in self.evidence]

    def _evidence_cells(self) -> tuple[list[str], list[list[str]]]:
        headers = ["Incident", "Created (UTC)", "Resolved (UTC)", "Priority", "MTTR (h)", "SLA (h)", "Summary"]
        rows = [
            [
                r.key,
                _fmt_time(r.created),
                _fmt_time(r.resolved),
                r.priority or "-",
                _fmt_hours(r.mttr_hours),
                _fmt_hours(r.sla_hours),
                r.summary or "-",
            ]
            for r in self.evidence
        ]
        return headers, rows

    def to_adf(self) -> dict:
        """The story description (Jira Cloud v3 ADF)."""
        headers, rows = self._evidence_cells()
        return adf.doc(
            adf.heading("Problem statement", 2),
            adf.paragraph(self.problem_statement),
            adf.heading("Evidence", 2),
            adf.table(headers, rows),
            adf.heading("Suggested acceptance criteria", 2),
            adf.bullet_list(self.acceptance_criteria),
            adf.paragraph(
                f"Drafted by the ITSM pattern bridge (pattern {self.pattern_id}); incident details "
                f"are PII-scrubbed. One-way: nothing on this story flows back to OPS."
            ),
        )

    def to_markdown(self) -> str:
        headers, rows = self._evidence_cells()
        cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = [
            f"# {self.title}",
            "",
            f"Pattern `{self.pattern_id}`",
            "",
            "## Problem statement",
            "",
            self.problem_statement,
            "",
            "## Evidence",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
        lines += ["", "## Suggested acceptance criteria", ""]
        lines += [f"- [ ] {item}" for item in self.acceptance_criteria]
        return "\n".join(lines) + "\n"


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _fmt_hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def _ts(value) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def idempotency_key(pattern_id: str) -> str:
    """What the Jira adapter hashes into the story's idempotency label (stable per pattern)."""
    return f"itsm-bridge:{pattern_id}"


def _template(kind: str, p: dict, rows: list[EvidenceRow], rules: BridgeRules) -> tuple[str, str, list[str]]:
    keys = ", ".join(r.key for r in rows)
    if kind == "recurring":
        service, rca = p["service"], p["rca"]
        start, end = _fmt_time(_ts(p["window_start"])), _fmt_time(_ts(p["window_end"]))
        title = f"Recurring {rca} incidents in {service}: {p['max_in_window']} within {rules.window_days} days"
        problem = (
            f"{len(rows)} incidents labelled service:{service} and rca:{rca} ({keys}) recur: "
            f"{p['max_in_window']} of them fall within one {rules.window_days}-day window ({start} to {end}), "
            f"at or above the bridge threshold of {rules.min_incidents}. Incidents that keep recurring "
            f"with the same root-cause category have a cause that belongs in the product backlog, "
            f"not the operations queue."
        )
        criteria = [
            f"The shared {rca} root cause behind {keys} is identified with a 5-Why analysis and documented on this story.",
            f"A preventive change (code, configuration baseline or automation) removes that cause for {service}; "
            "it is tested in non-production before release.",
            "Drift or recurrence is detected automatically (alarm or compliance check) before a customer reports it.",
            f"No new incident labelled service:{service} and rca:{rca} for {rules.window_days} days after the release.",
            "The runbook and known-error entry are updated (or retired) to match the fix.",
        ]
        return title, problem, criteria
    row = rows[0]
    if kind == "p0":
        title = f"P0 follow-up: {row.summary or row.key}"
        problem = (
            f"{row.key} was a P0 (platform-wide, high impact and urgency), created {_fmt_time(row.created)}"
            + (
                f", restored after {_fmt_hours(row.mttr_hours)} h against a {_fmt_hours(row.sla_hours)} h SLA"
                if row.mttr_hours is not None
                else ", not yet resolved"
            )
            + ". Any P0 drafts a product story at once: a platform-wide failure mode needs an engineering "
            "fix, not only an operational workaround."
        )
        criteria = [
            f"The post-incident review of {row.key} is complete and its action items are linked to this story.",
            "The single point of failure behind the outage is removed or has a tested fallback (break-glass, failover).",
            "The failure mode is rehearsed (game day) and detection fires within the P0 SLA.",
            "Blast radius of a recurrence is reduced below platform-wide (documented and verified).",
        ]
        return title, problem, criteria
    factor = (row.mttr_hours or 0) / row.sla_hours if row.sla_hours else 0.0
    title = f"SRE capacity: {row.key} took {_fmt_hours(row.mttr_hours)} h to restore against a {_fmt_hours(row.sla_hours)} h SLA"
    problem = (
        f"{row.key} ({row.priority}) was resolved {factor:.1f}x beyond its SLA "
        f"({_fmt_hours(row.mttr_hours)} h against {_fmt_hours(row.sla_hours)} h; the bridge threshold is "
        f"{rules.mttr_factor:g}x). Incidents that exceed the MTTR budget this far point at missing SRE capacity, "
        f"tooling or runbooks. Incident: {row.summary or '-'}"
    )
    criteria = [
        f"The time to restore of {row.key} is broken down (detection, escalation, diagnosis, repair, verification) "
        "and the dominant phase is named.",
        "Automation or a runbook brings the restore time for this failure mode within "
        f"{rules.mttr_factor:g}x the {row.priority} SLA, verified in a drill.",
        "On-call capacity and skills for this service are reviewed; gaps have owners and due dates.",
    ]
    return title, problem, criteria


def draft_stories(
    detection: Detection,
    registers: ScrubRegisters,
    rules: BridgeRules = DEFAULT_BRIDGE_RULES,
    *,
    scrubber: Callable[[str], str] | None = None,
) -> list[StoryDraft]:
    """One scrubbed StoryDraft per pattern, in pattern-id order.

    Every free-text field passes through `scrub(text, registers).text` (each distinct text
    once); `scrubber` replaces that function (tests only).
    """
    clean = scrubber or _scrub_with(registers)
    members = detection.members
    by_pattern = {pid: frame for pid, frame in members.groupby("pattern_id", sort=False, observed=True)}
    drafts = []
    for p in detection.patterns.to_dict("records"):
        frame = by_pattern[p["pattern_id"]]
        rows = [
            EvidenceRow(
                key=str(r["key"]),
                created=_ts(r["created"]),
                resolved=_ts(r["resolved"]),
                priority=_text(r["priority"]) or None,
                status=_text(r["status"]) or None,
                mttr_hours=None if _num(r["mttr_s"]) is None else round(r["mttr_s"] / 3600, 2),
                sla_hours=None if _num(r["sla_s"]) is None else round(r["sla_s"] / 3600, 2),
                summary=clean(_text(r["summary"])),
            )
            for r in frame.to_dict("records")
        ]
        title, problem, criteria = _template(p["kind"], p, rows, rules)
        labels = [BRIDGE_LABEL, f"bridge-{p['kind']}"]
        if p["kind"] == "recurring":
            labels += [f"service:{p['service']}", f"rca:{p['rca']}"]
        drafts.append(
            StoryDraft(
                pattern_id=p["pattern_id"],
                kind=p["kind"],
                service=_text(p["service"]) or None,
                rca=_text(p["rca"]) or None,
                idempotency_key=idempotency_key(p["pattern_id"]),
                title=clean(title)[:250],
                problem_statement=clean(problem),
                evidence=rows,
                acceptance_criteria=[clean(c) for c in criteria],
                labels=labels,
                window_days=rules.window_days,
                window_start=_ts(p["window_start"]) if p["kind"] == "recurring" else None,
                window_end=_ts(p["window_end"]) if p["kind"] == "recurring" else None,
                max_in_window=int(p["max_in_window"] or 0),
            )
        )
    return drafts


def _scrub_with(registers: ScrubRegisters) -> Callable[[str], str]:
    from include.itsm.scrub.domain import scrub  # imported when drafting: its patterns compile at import

    cache: dict[str, str] = {}

    def clean(value: str) -> str:
        if not value:
            return value
        if value not in cache:
            cache[value] = scrub(value, registers).text
        return cache[value]

    return clean


def pattern_ids(drafts: Iterable[StoryDraft]) -> list[str]:
    return [d.pattern_id for d in drafts]
