"""Driving lifecycle runs in the end-to-end tests: manifest, trigger, wait for a gate, read the board."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from include.itsm.adapters.airflow_api import AirflowApiError
from include.itsm.lifecycle.manifest import ManifestEntry, read_manifest, write_manifest
from include.itsm.lifecycle.plan import approvals_dag_id, lifecycle_dag_id

SETTLE_SECONDS = 8  # see wait_for_hitl
OPS180 = "OPS-180"  # the worked example
# Who answers each of OPS-180's gates in the end-to-end runs (tests/e2e/conftest.py's E2E_POLICY).
APPROVER_OF = {
    "labels": "sre-lead",
    "evidence": "qa-engineer",
    "go_no_go_business": "cfo-delegate",
    "go_no_go_security": "cso-delegate",
    "go_no_go_engineering": "cto-delegate",
    "window": "change-manager",
    "change": "change-manager",
    "cab_1": "cab-1",
    "cab_2": "cab-2",
    "alarms": "service-owner",
    "governance": "governance",
}
ROLLBACK_EVIDENCE = "rollback rehearsed in sandbox 2026-11-20: disable cron + force-start, 14 min (runbook RB-42)"


def add_to_manifest(live_airflow, key: str, ticket_type: str, change_type: str | None = None) -> None:
    path = live_airflow.config_dir / "manifest.json"
    manifest = read_manifest(path)
    manifest.tickets[key] = ManifestEntry(
        key=key,
        ticket_type=ticket_type,
        change_type=change_type,
        summary=key,
        on_demand=True,
        updated=datetime.now(UTC),
    )
    write_manifest(path, manifest)


def trigger(live_airflow, key: str, conf: dict, user: str = "engineer") -> str:
    client = live_airflow.client(user)
    client.wait_for_dag(lifecycle_dag_id(key))
    client.wait_for_dag(approvals_dag_id(key))
    now = datetime.now(UTC)
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
    live_airflow.client(user).respond(
        approvals_dag_id(key),
        run_id,
        gate,
        approve=approve,
        params={"reason": params.get("reason", ""), "evidence": params.get("evidence", "")},
    )


def wait_for_refusal(live_airflow, key: str, run_id: str, gate: str, count: int = 1) -> dict:
    """Until the gate has refused `count` answers; the newest refusal ({user, approved, problems}).
    The gate is then asked again: answer it after `wait_for_gate`."""
    client = live_airflow.client()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        refusals = client.xcom(approvals_dag_id(key), run_id, gate, "refusals") or []
        if len(refusals) >= count:
            return refusals[-1]
        time.sleep(1)
    raise AssertionError(f"{gate} refused no answer within 180 s")


def laptop_config(live_airflow, directory: Path) -> Path:
    """The Airflow's configuration with a manifest and an evidence store of the laptop's own, as an
    operator's copy would be: nothing the CLI writes there reaches the Airflow side."""
    config = yaml.safe_load(Path(live_airflow.env()["ITSM_CONFIG"]).read_text())
    config["runtime"] |= {
        "manifest_path": str(directory / "manifest.json"),
        "evidence_root": f"file://{directory / 'evidence'}",
        "audit_anchor_root": f"file://{directory / 'audit-anchors'}",
    }
    path = directory / "itsm.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def itsm(live_airflow, user: str, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    """The `itsm` command as `user` would run it against this Airflow (their own login)."""
    env = live_airflow.env() | {
        "ITSM_AIRFLOW_URL": live_airflow.url,
        "ITSM_AIRFLOW_USER": user,
        "ITSM_AIRFLOW_PASSWORD": live_airflow.users[user][0],
    }
    if config is not None:
        env["ITSM_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", *args], env=env, capture_output=True, text=True, timeout=300
    )


def start_from_laptop(live_airflow, key: str, customer: str, laptop: Path, reason: str) -> dict:
    """`itsm lifecycle KEY --execute --customer C` as the engineer: the ticket registered on the Airflow
    side, its run triggered; the command's JSON (run_id, steps, gates)."""
    started = itsm(
        live_airflow,
        "engineer",
        "lifecycle",
        key,
        "--execute",
        "--customer",
        customer,
        "--json",
        "--reason",
        reason,
        config=laptop,
    )
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def labels(demo_board, key: str) -> set[str]:
    return set(demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{key}", timeout=10).json()["fields"]["labels"])
