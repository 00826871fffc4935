"""Lifecycle gates under the real scheduler: approvals through the HITL REST API, rejections stop
everything downstream, and labels reach the board only after the labels approval."""

from __future__ import annotations

import json

import pytest

from include.itsm.adapters.airflow_api import AirflowApiError
from include.itsm.adapters.evidence import run_segment
from include.itsm.lifecycle.manifest import read_manifest
from include.itsm.lifecycle.plan import approvals_dag_id, lifecycle_dag_id
from tests.e2e.lifecycle_helpers import add_to_manifest, itsm, labels, laptop_config, trigger, wait_for_gate

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_labels_reach_the_board_only_after_the_sre_lead_approves(live_airflow, demo_board, tmp_path):
    """Started as an engineer would from a laptop: `itsm lifecycle --execute` registers the ticket on
    the Airflow side (its manifest, its evidence) and triggers the run as the engineer."""
    key = "OPS-166"  # a service request: steps 1-3 and the labels gate
    before = labels(demo_board, key)
    laptop = laptop_config(live_airflow, tmp_path)
    started = itsm(live_airflow, "engineer", "lifecycle", key, "--execute", "--json", config=laptop)
    assert started.returncode == 0, started.stderr
    triggered = json.loads(started.stdout)
    run_id = triggered["run_id"]
    assert triggered["steps"] == ["intake", "discover", "classify"] and triggered["gates"] == ["labels"]
    assert read_manifest(live_airflow.config_dir / "manifest.json").tickets[key].on_demand
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / "evidence").exists()
    wait_for_gate(live_airflow, key, run_id, "labels")
    assert labels(demo_board, key) == before  # nothing written before the approval

    with pytest.raises(AirflowApiError, match="403"):  # not an assigned approver
        live_airflow.client("outsider").respond(approvals_dag_id(key), run_id, "labels", approve=True)
    live_airflow.client("sre-lead").respond(
        approvals_dag_id(key), run_id, "labels", approve=True, params={"reason": "taxonomy ok", "evidence": ""}
    )
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=240) == "success"
    after = labels(demo_board, key)
    assert {"itsm-type:service-request", "rca:not-applicable"} <= after and len(after - before) >= 6

    outcome = json.loads(
        (live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "lifecycle.json").read_text()
    )
    assert outcome["outcome"] == "completed"
    assert outcome["decisions"]["labels"]["user_id"] == "sre-lead"


def test_a_rejection_stops_everything_downstream_and_is_recorded(live_airflow, demo_board):
    key = "OPS-183"
    add_to_manifest(live_airflow, key, "incident")
    before = labels(demo_board, key)
    run_id = trigger(live_airflow, key, {"execute": True, "steps": ["intake", "discover", "classify"]})
    wait_for_gate(live_airflow, key, run_id, "labels")
    live_airflow.client("sre-lead").respond(
        approvals_dag_id(key),
        run_id,
        "labels",
        approve=False,
        params={"reason": "wrong service domain", "evidence": ""},
    )
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(key), run_id)}
    assert states["gate_labels"] == "failed" and states["apply_labels"] == "upstream_failed"
    assert states["record_outcome"] == "failed"
    assert labels(demo_board, key) == before

    outcome = json.loads(
        (live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "lifecycle.json").read_text()
    )
    assert outcome["outcome"] == "rejected"
    assert (
        outcome["decisions"]["labels"] | {"approved": False, "user_id": "sre-lead", "reason": "wrong service domain"}
        == outcome["decisions"]["labels"]
    )
    comments = demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{key}/comment", timeout=10).json()["comments"]
    assert any("wrong service domain" in json.dumps(c["body"]) for c in comments)


def test_a_selection_the_ticket_cannot_run_is_refused_before_anything_is_registered(live_airflow, tmp_path):
    key = "OPS-166"  # a service request (the first test registered it): it has no implement step
    manifest = live_airflow.config_dir / "manifest.json"
    before = read_manifest(manifest).tickets.get(key)
    laptop = laptop_config(live_airflow, tmp_path)
    refused = itsm(live_airflow, "engineer", "lifecycle", key, "--steps", "implement", "--execute", config=laptop)
    assert refused.returncode == 2, refused.stderr
    assert f"{key}: steps ['implement'] do not apply to a service_request" in refused.stderr
    assert read_manifest(manifest).tickets.get(key) == before
