"""Lifecycle gates under the real scheduler: approvals through the HITL REST API, rejections stop
everything downstream, and labels reach the board only after the labels approval."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from include.itsm.adapters.airflow_api import AirflowApiError
from include.itsm.adapters.evidence import run_segment
from include.itsm.application.lifecycle import approvals_dag_id, lifecycle_dag_id
from include.itsm.application.manifest import ManifestEntry, read_manifest, write_manifest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _add_to_manifest(live_airflow, key: str, ticket_type: str, change_type: str | None = None) -> None:
    path = live_airflow.config_dir / "manifest.json"
    manifest = read_manifest(path)
    manifest.tickets[key] = ManifestEntry(key=key, ticket_type=ticket_type, change_type=change_type, summary=key,
                                          on_demand=True, updated=datetime.now(timezone.utc))
    write_manifest(path, manifest)


def _trigger(live_airflow, key: str, conf: dict, user: str = "engineer") -> str:
    client = live_airflow.client(user)
    client.wait_for_dag(lifecycle_dag_id(key))
    client.wait_for_dag(approvals_dag_id(key))
    now = datetime.now(timezone.utc)
    run_id = f"e2e__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(lifecycle_dag_id(key), run_id, now, conf=conf)
    return run_id


SETTLE_SECONDS = 3  # see _wait_for_gate


def _wait_for_gate(live_airflow, key: str, run_id: str, gate: str) -> None:
    """Until the approval task is parked awaiting input (its HITL detail exists), and settled.

    Airflow 3.3 races when a response arrives within a scheduler loop of the park: the
    executor's "workload finished" event for the parking worker is then applied to the
    already re-queued instance, which is marked failed. A person never answers that fast; the
    test waits a few seconds like one.
    """
    client = live_airflow.client()
    deadline, states = time.monotonic() + 240, {}
    while time.monotonic() < deadline:
        try:
            states = {t["task_id"]: t["state"] for t in client.task_instances(approvals_dag_id(key), run_id)}
        except AirflowApiError:  # the lifecycle has not triggered its approvals run yet
            time.sleep(1)
            continue
        if states.get(gate) in ("awaiting_input", "deferred"):
            time.sleep(SETTLE_SECONDS)
            return
        if states.get(gate) in ("failed", "upstream_failed", "skipped"):
            raise AssertionError(f"{gate} ended {states[gate]}: {states}")
        time.sleep(1)
    raise AssertionError(f"{gate} never waited for input: {states}")


def _labels(demo_board, key: str) -> set[str]:
    return set(demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{key}", timeout=10).json()["fields"]["labels"])


def test_labels_reach_the_board_only_after_the_sre_lead_approves(live_airflow, demo_board):
    key = "OPS-166"  # a service request: steps 1-3 and the labels gate
    _add_to_manifest(live_airflow, key, "service_request")
    before = _labels(demo_board, key)
    run_id = _trigger(live_airflow, key, {"execute": True, "reason": "e2e"})
    _wait_for_gate(live_airflow, key, run_id, "labels")
    assert _labels(demo_board, key) == before  # nothing written before the approval

    with pytest.raises(AirflowApiError, match="403"):  # not an assigned approver
        live_airflow.client("outsider").respond(approvals_dag_id(key), run_id, "labels", approve=True)
    live_airflow.client("sre-lead").respond(approvals_dag_id(key), run_id, "labels", approve=True,
                                            params={"reason": "taxonomy ok", "evidence": ""})
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=240) == "success"
    after = _labels(demo_board, key)
    assert {"itsm-type:service-request", "rca:not-applicable"} <= after and len(after - before) >= 6

    outcome = json.loads((live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "lifecycle.json").read_text())
    assert outcome["outcome"] == "completed"
    assert outcome["decisions"]["labels"]["user_id"] == "sre-lead"


def test_a_rejection_stops_everything_downstream_and_is_recorded(live_airflow, demo_board):
    key = "OPS-183"
    _add_to_manifest(live_airflow, key, "incident")
    before = _labels(demo_board, key)
    run_id = _trigger(live_airflow, key, {"execute": True, "steps": ["intake", "discover", "classify"]})
    _wait_for_gate(live_airflow, key, run_id, "labels")
    live_airflow.client("sre-lead").respond(approvals_dag_id(key), run_id, "labels", approve=False,
                                            params={"reason": "wrong service domain", "evidence": ""})
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(key), run_id)}
    assert states["gate_labels"] == "failed" and states["apply_labels"] == "upstream_failed"
    assert states["record_outcome"] == "failed"
    assert _labels(demo_board, key) == before

    outcome = json.loads((live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "lifecycle.json").read_text())
    assert outcome["outcome"] == "rejected"
    assert outcome["decisions"]["labels"] | {"approved": False, "user_id": "sre-lead", "reason": "wrong service domain"} \
        == outcome["decisions"]["labels"]
    comments = demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{key}/comment", timeout=10).json()["comments"]
    assert any("wrong service domain" in json.dumps(c["body"]) for c in comments)
