"""The CLI's in-process preview audits like an Airflow task (signed, anchored) and still sends nothing to Jira."""

from __future__ import annotations

from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.cli import main
from include.itsm.config import settings

READ_ONLY_REQUESTS = {("GET", None), ("POST", "/rest/api/3/search/jql")}


def test_a_preview_is_audited_and_anchored_and_changes_nothing_in_jira(demo_env, demo_board):
    demo_board.clear_requests()
    before = EvidenceStore.from_settings(settings()).verify_audit("OPS-180")
    assert main(["classify", "OPS-180"]) == 0
    writes = [
        (r["method"], r["path"])
        for r in demo_board.requests()
        if r["method"] != "GET" and (r["method"], r["path"]) not in READ_ONLY_REQUESTS
    ]
    assert writes == []
    assert main(["audit", "verify", "OPS-180"]) == 0
    verdict = EvidenceStore.from_settings(settings()).verify_audit("OPS-180")
    assert verdict.ok and verdict.entries == verdict.anchored_seq > before.entries
    assert (demo_env / "audit-anchors" / "OPS-180" / f"{verdict.entries:08d}.json").exists()
