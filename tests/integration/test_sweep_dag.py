"""The nightly sweep DAG, run by Airflow's `dag.test()` against the demo devstack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.itsm.adapters.evidence import run_segment
from include.itsm.devstack.demo.org import totals
from include.itsm.devstack.demo.tickets import demo_tickets

REPO_ROOT = Path(__file__).resolve().parents[2]
READ_ONLY_REQUESTS = {("GET", None), ("POST", "/rest/api/3/search/jql")}


@pytest.fixture(scope="module")
def sweep_run(demo_env, demo_board, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "itsm_nightly_sweep.py"), safe_mode=False)
    assert not bag.import_errors
    demo_board.clear_requests()
    run = bag.get_dag("itsm_nightly_sweep").test(run_conf={"execute": False})
    return run, demo_env / "evidence", demo_board.requests()


def _artifact(evidence: Path, key: str, run_id: str, step: str) -> dict:
    return json.loads((evidence / key / run_segment(run_id) / f"{step}.json").read_text())


def test_sweep_succeeds_and_summarises_every_open_ticket(sweep_run):
    run, evidence, _ = sweep_run
    assert run.state == "success"
    summary = _artifact(evidence, "_sweep", run.run_id, "summary")
    open_keys = {t.key for t in demo_tickets()}
    assert summary["failed"] == 0 and summary["succeeded"] >= len(open_keys)
    assert sum(summary["by_type"].values()) == summary["succeeded"]
    for key in open_keys:
        for step in ("intake", "discover", "classify"):
            assert (evidence / key / run_segment(run.run_id) / f"{step}.json").exists(), (key, step)


def test_one_org_snapshot_per_sweep_with_its_cost(sweep_run):
    run, evidence, _ = sweep_run
    snapshot = _artifact(evidence, "_org", run.run_id, "discover")
    instances = [r for r in snapshot["resources"] if r["resource_type"] == "AWS::EC2::Instance"]
    assert len(instances) == totals()["instances"]
    assert snapshot["as_of"] and sum(snapshot["api_calls"].values()) <= 10
    assert [p["source"] for p in snapshot["provenance"]] == [
        "aws:organizations:ListAccounts",
        "aws:config:SelectAggregateResourceConfig",
    ]


def test_ops_180_is_the_worked_example(sweep_run):
    run, evidence, _ = sweep_run
    classification = _artifact(evidence, "OPS-180", run.run_id, "classify")
    c = classification["classification"]
    assert (c["ticket_type"], c["change_type"]) == ("change", "normal")
    assert "service:compute" in c["labels"] and "cr:normal" in c["labels"]
    assert {(f["label"], f["replacement"]) for f in classification["findings"]} >= {
        ("service:ec2", "service:compute"),
        ("blast:multi-service", "blast:multi-account"),
    }
    org_wide = _artifact(evidence, "OPS-180", run.run_id, "discover")["org_wide"]
    assert (org_wide["resource_count"], org_wide["account_count"]) == (117, 17)
    gap = org_wide["tag_gap"]
    assert (sum(gap["non_standard"].values()), len(gap["non_standard"])) == (13, 2)
    assert (sum(gap["missing"].values()), len(gap["missing"])) == (10, 2)


def test_a_preview_sweep_sends_no_write_to_jira(sweep_run):
    _, _, requests = sweep_run
    assert requests, "the sweep read nothing from the board"
    writes = [
        (r["method"], r["path"])
        for r in requests
        if r["method"] != "GET" and (r["method"], r["path"]) not in READ_ONLY_REQUESTS
    ]
    assert writes == []


def test_manifest_lists_the_classified_tickets(sweep_run, demo_env):
    manifest = json.loads((demo_env / "manifest.json").read_text())
    assert manifest["tickets"]["OPS-180"]["ticket_type"] == "change"
    assert {t.key for t in demo_tickets()} <= set(manifest["tickets"])


def test_a_classified_p0_signals_the_pattern_bridge(sweep_run):
    run, evidence, _ = sweep_run
    summary = _artifact(evidence, "_sweep", run.run_id, "summary")
    signal = next(ti for ti in run.get_task_instances() if ti.task_id == "signal_p0")
    assert summary["by_priority"].get("P0", 0) >= 1  # the demo has an open platform-wide outage
    assert signal.state == "success"


def test_every_swept_ticket_has_an_anchored_audit_chain(sweep_run, demo_env):
    """Airflow tasks write the audit log through the same store: keyed, and anchored outside the evidence root."""
    from include.itsm.adapters.evidence import EvidenceStore
    from include.itsm.config import settings

    run, _, _ = sweep_run
    store = EvidenceStore.from_settings(settings())
    for key in sorted(t.key for t in demo_tickets())[:5]:
        verdict = store.verify_audit(key)
        assert verdict.ok and verdict.entries == verdict.anchored_seq >= 1, verdict.summary()
        assert (demo_env / "audit-anchors" / key / f"{verdict.entries:08d}.json").exists()
        assert any(e.run_id == run.run_id for e in store.audit_entries(key))
