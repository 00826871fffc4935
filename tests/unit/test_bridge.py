"""Pattern bridge rules: window edges (day 89/90/91), P0, MTTR > 3x SLA, stable ids, scrubbing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from include.itsm.bridge.domain import detect, draft_stories
from include.itsm.bridge.report import build_report, fmt, to_csv, to_html
from include.itsm.core import adf
from include.itsm.core.inventory import AccountInfo
from include.itsm.core.policy import SlaPolicy
from include.itsm.scrub.domain import registers_for

SLA = SlaPolicy().resolve_within
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _incident(
    key, days, *, service="compute", rca="config-drift", priority="P3", mttr_h=1.0, summary="x", status="Resolved"
):
    created = T0 + timedelta(days=days) if isinstance(days, (int, float)) else T0 + days
    return {
        "key": key,
        "created": created,
        "resolved": created + timedelta(hours=mttr_h),
        "priority": priority,
        "service": f"service:{service}",
        "rca": f"rca:{rca}",
        "summary": summary,
        "status": status,
    }


def _recurring(rows):
    return [p for p in detect(pd.DataFrame(rows), SLA).pattern_ids if p.startswith("recurring:")]


@pytest.mark.parametrize(
    "span, fires",
    [
        (timedelta(days=89), True),
        (timedelta(days=90), True),  # closed window: exactly 90 days after the first is inside
        (timedelta(days=90, milliseconds=1), False),
        (timedelta(days=91), False),
    ],
)
def test_window_edges(span, fires):
    rows = [_incident("OPS-1", 0), _incident("OPS-2", span / 2), _incident("OPS-3", span)]
    assert _recurring(rows) == (["recurring:compute:config-drift"] if fires else [])


def test_any_window_counts_not_only_the_last_90_days():
    # 3 incidents long ago (within 30 days of each other), nothing recent: still a pattern
    rows = [_incident(f"OPS-{i}", d) for i, d in enumerate((0, 10, 30))] + [_incident("OPS-9", 170, rca="code-defect")]
    assert _recurring(rows) == ["recurring:compute:config-drift"]


def test_two_in_window_and_one_outside_is_no_pattern():
    rows = [_incident("OPS-1", 0), _incident("OPS-2", 2), _incident("OPS-3", 93)]
    assert _recurring(rows) == []


def test_pairs_are_separate_and_placeholders_never_recur():
    rows = [_incident("OPS-1", 0), _incident("OPS-2", 1, service="network"), _incident("OPS-3", 2)]
    rows += [_incident(f"OPS-{10 + i}", i, rca="unknown") for i in range(5)]
    assert _recurring(rows) == []


def test_members_are_the_union_of_qualifying_windows_and_ids_are_stable():
    rows = [_incident(f"OPS-{i}", d) for i, d in enumerate((0, 5, 10, 200, 205, 400))]
    detection = detect(pd.DataFrame(rows), SLA)
    members = detection.members
    assert members[members["kind"] == "recurring"]["key"].tolist() == ["OPS-0", "OPS-1", "OPS-2"]
    assert detection.pattern_ids == ["recurring:compute:config-drift"]  # one id per pair, however many windows
    again = detect(pd.DataFrame(list(reversed(rows)) + rows[:2]), SLA)  # re-run, shuffled, duplicated keys
    assert again.pattern_ids == detection.pattern_ids


def test_p0_is_a_story_at_once_even_unresolved():
    row = _incident("OPS-5", 0, priority="P0", mttr_h=0.1)
    row["resolved"] = None
    assert detect(pd.DataFrame([row]), SLA).pattern_ids == ["p0:OPS-5"]


@pytest.mark.parametrize(
    "priority, mttr_h, fires",
    [
        ("P2", 12.0, False),
        ("P2", 12.01, True),
        ("P2", 15, True),
        ("P0", 0.75, False),
        ("P0", 0.8, True),
        ("P4", 360, False),
    ],
)
def test_mttr_beyond_three_times_sla(priority, mttr_h, fires):
    ids = detect(pd.DataFrame([_incident("OPS-7", 0, priority=priority, mttr_h=mttr_h)]), SLA).pattern_ids
    assert ("mttr:OPS-7" in ids) is fires


def test_a_p0_breaching_mttr_gives_two_distinct_ids():
    ids = detect(pd.DataFrame([_incident("OPS-8", 0, priority="P0", mttr_h=2)]), SLA).pattern_ids
    assert ids == ["p0:OPS-8", "mttr:OPS-8"]


PLANTED = ("Kiwi Freight Ltd", "Hemi Walker", "318274650011", "10.20.30.40", "hemi.walker@kiwifreight.co.nz")


def _registers():
    return registers_for(
        {"id": "kiwi", "name": "Kiwi Freight Ltd", "scrub": {"people": ["Hemi Walker"]}},
        accounts=[AccountInfo(account_id="318274650011", name="prod-core", tags={"env": "prod"})],
    )


def test_drafts_are_scrubbed_and_render_as_adf_and_markdown():
    text = (
        "Kiwi Freight Ltd reports drift in 318274650011; Hemi Walker (hemi.walker@kiwifreight.co.nz) "
        "saw 10.20.30.40 fail"
    )
    rows = [_incident(f"OPS-{i}", d, summary=text) for i, d in enumerate((0, 3, 6))]
    rows.append(_incident("OPS-9", 8, priority="P0", summary=text, mttr_h=0.5))
    drafts = draft_stories(detect(pd.DataFrame(rows), SLA), _registers())
    assert [d.pattern_id for d in drafts] == ["recurring:compute:config-drift", "p0:OPS-9"]
    for draft in drafts:
        rendered = draft.model_dump_json() + draft.to_markdown() + adf.to_plain_text(draft.to_adf())
        for planted in PLANTED:
            assert planted not in rendered, planted
        assert "OPS-" in rendered and draft.acceptance_criteria
    assert drafts[0].idempotency_key == "itsm-bridge:recurring:compute:config-drift"
    assert drafts[0].max_in_window == 4  # the P0 shares the pair


def test_report_figures_match_between_csv_and_html():
    rows = [_incident(f"OPS-{i}", d) for i, d in enumerate((60, 63, 66))]
    rows.append(_incident("OPS-9", 70, priority="P1", status="Pending PIR", mttr_h=5))
    df = pd.DataFrame(rows)
    from include.itsm.bridge.domain import normalise

    incidents = normalise(df)
    detection = detect(incidents, SLA, normalised=True)
    drafts = draft_stories(detection, _registers())
    report = build_report(
        incidents, detection, drafts, run_id="r", mode="preview", as_of=T0 + timedelta(days=80), sla=SLA
    )
    csv_rows = to_csv(report).strip().splitlines()[1:]
    page = to_html(report)
    assert len(csv_rows) == len(report.points) == page.count('<g class="bar"')
    for p in report.points:
        assert f'data-value="{fmt(p.value)}"' in page
    assert {p.category for p in report.points if p.chart == "reviews" and p.value} == {"overdue"}


def test_the_mttr_chart_is_on_a_log_scale_so_p0_minutes_show_next_to_p4_days():
    """Linear bars would make a P0's 20 minutes a 2 px stub beside a P4's 5 days; on log10(1 + hours)
    each keeps a readable length and the printed value stays exact."""
    from include.itsm.bridge.report import ChartPoint, _svg_chart

    points = [
        ChartPoint(chart="mttr_vs_sla", series="mttr", category="P0", value=0.33, unit="h"),
        ChartPoint(chart="mttr_vs_sla", series="mttr", category="P4", value=120.0, unit="h"),
    ]
    svg = _svg_chart("mttr_vs_sla", points)
    widths = [float(w) for w in __import__("re").findall(r'class="bar-rect" x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert 'data-scale="log"' in svg and widths[0] / widths[1] > 0.05  # linear: 0.33 / 120 = 0.003
    assert 'data-value="0.33"' in svg and 'data-value="120"' in svg
    linear = _svg_chart("stories", [p.model_copy(update={"chart": "stories"}) for p in points])
    assert 'data-scale="log"' not in linear
