"""Driving lifecycle runs in the end-to-end tests: manifest, trigger, wait for a gate, read the board."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from include.itsm.adapters.airflow_api import AirflowApiError
from include.itsm.application.lifecycle import approvals_dag_id, lifecycle_dag_id
from include.itsm.application.manifest import ManifestEntry, read_manifest, write_manifest

SETTLE_SECONDS = 8  # see wait_for_hitl


def add_to_manifest(live_airflow, key: str, ticket_type: str, change_type: str | None = None) -> None:
    path = live_airflow.config_dir / "manifest.json"
    manifest = read_manifest(path)
    manifest.tickets[key] = ManifestEntry(key=key, ticket_type=ticket_type, change_type=change_type, summary=key,
                                          on_demand=True, updated=datetime.now(timezone.utc))
    write_manifest(path, manifest)


def trigger(live_airflow, key: str, conf: dict, user: str = "engineer") -> str:
    client = live_airflow.client(user)
    client.wait_for_dag(lifecycle_dag_id(key))
    client.wait_for_dag(approvals_dag_id(key))
    now = datetime.now(timezone.utc)
    run_id = f"e2e__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(lifecycle_dag_id(key), run_id, now, conf=conf)
    return run_id


def wait_for_gate(live_airflow, key: str, run_id: str, gate: str) -> None:
    wait_for_hitl(live_airflow, approvals_dag_id(key), run_id, gate)


def wait_for_hitl(live_airflow, dag_id: str, run_id: str, gate: str) -> None:
    """Until the approval task is parked awaiting input (its HITL detail exists), and settled.

    Airflow 3.3 races when a response arrives before the scheduler has processed the parking
    worker's "finished" event: that stale event is then applied to the resumed instance (same
    try number), which is marked failed. Under load the scheduler can take several seconds; a
    person never answers that fast, and the test waits like one.
    """
    client = live_airflow.client()
    deadline, states = time.monotonic() + 300, {}
    while time.monotonic() < deadline:
        try:
            states = {t["task_id"]: t["state"] for t in client.task_instances(dag_id, run_id)}
        except AirflowApiError:  # the lifecycle has not triggered its approvals run yet
            time.sleep(1)
            continue
        if states.get(gate) == "awaiting_input":  # "deferred": still waiting for the task it reviews
            time.sleep(SETTLE_SECONDS)
            return
        if states.get(gate) in ("failed", "upstream_failed", "skipped"):
            raise AssertionError(f"{gate} ended {states[gate]}: {states}")
        time.sleep(1)
    raise AssertionError(f"{gate} never waited for input: {states}")


def approve(live_airflow, key: str, run_id: str, gate: str, user: str, approve: bool = True, **params) -> None:
    """Wait until the gate asks, then answer it as `user` through the HITL REST API."""
    wait_for_gate(live_airflow, key, run_id, gate)
    live_airflow.client(user).respond(approvals_dag_id(key), run_id, gate, approve=approve,
                                      params={"reason": params.get("reason", ""), "evidence": params.get("evidence", "")})


def labels(demo_board, key: str) -> set[str]:
    return set(demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{key}", timeout=10).json()["fields"]["labels"])
