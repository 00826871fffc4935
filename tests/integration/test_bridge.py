"""The pattern bridge on the demo devstack: `itsm bridge --json` preview and idempotent execute."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from include.itsm.devstack.demo.history import history_incidents
from include.itsm.devstack.demo.org import ACCOUNTS, ORG_NAME
from include.itsm.devstack.demo.tickets import AROHA, GRACE, HEMI, JESS, MERE, SIONE, TOM

PEOPLE = (HEMI, GRACE, AROHA, TOM, SIONE, MERE, JESS)
SEEDED = {"recurring:compute:config-drift", "recurring:network:3rd-party"}


def _keys_by_summary() -> dict[str, str]:
    return {t.summary: t.key for t in history_incidents()}


@pytest.fixture(scope="module")
def preview(demo_env, demo_board):
    import contextlib
    import io

    from include.itsm.cli import main

    demo_board.clear_requests()
    reports = demo_env / "evidence" / "_bridge"
    published = {p: p.read_bytes() for p in reports.glob("20*/report.*")}  # the days' reports before
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bridge", "--json"]) == 0
    text = out.getvalue()
    start = text.index("{\n") if text.startswith("{\n") else text.index("\n{\n") + 1  # Airflow may log first
    assert {p: p.read_bytes() for p in reports.glob("20*/report.*")} == published  # untouched by a preview
    return json.loads(text[start:]), demo_board.requests()


def test_preview_finds_the_seeded_patterns(preview):
    result, _ = preview
    ids = {p["pattern_id"] for p in result["patterns"]}
    assert SEEDED <= ids
    by_id = {p["pattern_id"]: p for p in result["patterns"]}
    assert len(by_id["recurring:compute:config-drift"]["incidents"]) == 4
    assert len(by_id["recurring:network:3rd-party"]["incidents"]) == 3
    kinds = {p["pattern_id"].split(":")[0] for p in result["patterns"]}
    assert {"p0", "mttr"} <= kinds
    p0 = [p for p in result["patterns"] if p["pattern_id"].startswith("p0:")]
    mttr = [p for p in result["patterns"] if p["pattern_id"].startswith("mttr:")]
    keys = _keys_by_summary()
    # the history's resolved SSO outage; open demo P0s (not yet resolved) draft a story at once too
    assert [keys["Nobody can sign in to any AWS account - SSO outage"]] in [p["incidents"] for p in p0]
    assert [p["incidents"] for p in mttr] == [[keys["EBS snapshots of prod-core deleted by cleanup script"]]]
    # windowed rule: cloudops + infra-failure at days 91, 89 and 30 span 61 days, so ONE 90-day window
    # holds all three (history.py calls it an edge case only for a "last 90 days from today" reading)
    assert "recurring:cloudops:infra-failure" in {p["pattern_id"] for p in result["patterns"]}


def test_preview_writes_nothing_to_jira_and_shows_the_planned_requests(preview):
    result, requests = preview
    writes = [r for r in requests if r["method"] != "GET" and r["path"] != "/rest/api/3/search/jql"]
    assert writes == []
    planned = {(r["method"], r["path"]) for r in result["planned_requests"]}
    assert ("POST", "/rest/api/3/issue") in planned and ("POST", "/rest/api/3/issueLink") in planned
    issues = [r for r in result["planned_requests"] if r["path"] == "/rest/api/3/issue"]
    assert len(issues) == len(result["patterns"])  # one story per pattern, however many incidents


def test_preview_writes_drafts_and_its_report_beside_them_never_over_the_days_report(preview, demo_env):
    """The day's report (what the ITSM Bridge page shows) is the DAG's; a terminal preview's report is
    kept under its own run."""
    result, _ = preview
    from include.itsm.adapters.evidence import run_segment

    run_dir = demo_env / "evidence" / "_bridge" / run_segment(result["run_id"])
    drafts = json.loads((run_dir / "drafts.json").read_text())
    assert {d["pattern_id"] for d in drafts["drafts"]} == {p["pattern_id"] for p in result["patterns"]}
    for name in ("report.html", "report.csv", "report.json"):
        assert (run_dir / name).stat().st_size > 0, name


def test_no_planted_pii_leaves_in_drafts_or_report(preview, demo_env):
    result, _ = preview
    from include.itsm.adapters.evidence import run_segment

    run_dir = demo_env / "evidence" / "_bridge" / run_segment(result["run_id"])
    texts = [p.read_text() for p in run_dir.iterdir() if p.is_file()]
    texts.append(json.dumps(result["planned_requests"]))
    blob = "\n".join(texts)
    for name in (ORG_NAME, "Kiwi Freight", *PEOPLE):
        assert name not in blob, name
    for account in ACCOUNTS:
        assert account.account_id not in blob, account.account_id
    assert not re.search(r"\b(?:10|172|192)\.\d+\.\d+\.\d+\b", blob)


def test_executing_twice_creates_each_story_once(demo_env, demo_board):
    from include.itsm.adapters.jira import JiraAdapter
    from include.itsm.bridge.service import run_bridge
    from include.itsm.config import settings
    from include.itsm.wiring import run_context

    def execute(n: int) -> dict:
        ctx = run_context(settings(), f"it-bridge-{n}-{datetime.now(UTC):%H%M%S%f}", execute=True, actor="test")
        return run_bridge(ctx)

    first = execute(1)
    second = execute(2)
    assert first["created"] and second["created"] == []
    assert {p["pattern_id"]: p["story_key"] for p in first["patterns"]} == {
        p["pattern_id"]: p["story_key"] for p in second["patterns"]
    }
    board = JiraAdapter.from_credentials(demo_board.url, demo_board.user, demo_board.token)
    stories = list(board.search('project = "SPM" AND labels = "itsm-bridge"'))
    per_pattern = {}
    for story in stories:
        idem = [label for label in story.labels if label.startswith("itsm-key-")]
        per_pattern.setdefault(tuple(idem), []).append(story.key)
    assert len(stories) == len(first["patterns"]) and all(len(v) == 1 for v in per_pattern.values())
    # links live between the story and its incidents; nothing else is written on OPS
    story = board.get_ticket(
        next(p["story_key"] for p in first["patterns"] if p["pattern_id"] == "recurring:compute:config-drift")
    )
    assert {link.key for link in story.links} >= set(
        next(p["incidents"] for p in first["patterns"] if p["pattern_id"] == "recurring:compute:config-drift")
    )
    ops_writes = [
        r
        for r in demo_board.requests()
        if r["method"] in ("PUT", "POST", "DELETE") and re.match(r"^/rest/api/3/issue/OPS-", r["path"])
    ]
    assert ops_writes == []
