"""The nightly sweep under the real scheduler: triggered through the REST API, run to success."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.itsm.adapters.evidence import run_segment
from include.itsm.devstack.demo.tickets import demo_tickets

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
DAG_ID = "itsm_nightly_sweep"


def test_sweep_triggered_through_the_api_classifies_every_demo_ticket(live_airflow, demo_board):
    client = live_airflow.client()
    dag = client.wait_for_dag(DAG_ID)
    assert not dag["is_paused"]
    demo_board.clear_requests()
    now = datetime.now(UTC)
    run_id = f"e2e__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(DAG_ID, run_id, now, conf={"execute": False})
    assert client.wait_for_run(DAG_ID, run_id, timeout_s=480) == "success"

    states = {ti["task_id"]: ti["state"] for ti in client.task_instances(DAG_ID, run_id)}
    assert set(states.values()) == {"success"}, states
    mapped = [ti for ti in client.task_instances(DAG_ID, run_id) if ti["task_id"] == "assess_batch"]
    assert 1 <= len(mapped) < len(demo_tickets())  # batches, never one task per ticket

    evidence = live_airflow.config_dir / "evidence"
    summary = json.loads((evidence / "_sweep" / run_segment(run_id) / "summary.json").read_text())
    assert summary["failed"] == 0 and summary["succeeded"] >= len(demo_tickets())
    for ticket in demo_tickets():
        assert (evidence / ticket.key / run_segment(run_id) / "classify.json").exists(), ticket.key
    ops180 = json.loads((evidence / "OPS-180" / run_segment(run_id) / "discover.json").read_text())
    assert (ops180["org_wide"]["resource_count"], ops180["org_wide"]["account_count"]) == (117, 17)

    received = demo_board.requests()
    read_paths = {r["path"] for r in received}
    # One read per ticket: the search carries every open ticket with its changelog; no ticket is
    # fetched again unless its changelog was truncated (the demo's changelogs are short).
    assert read_paths == {"/rest/api/3/search/jql"}, read_paths
    assert [
        r
        for r in received
        if r["method"] in ("PUT", "DELETE") or (r["method"] == "POST" and r["path"] != "/rest/api/3/search/jql")
    ] == []


def test_the_api_server_listens_on_loopback_only(live_airflow):
    """The demo's UI and REST API are this machine's only: nothing listens on other interfaces."""
    import psutil

    listening = {
        c.laddr.ip
        for c in psutil.net_connections(kind="inet")
        if c.status == "LISTEN" and c.laddr.port == live_airflow.port
    }
    assert listening == {"127.0.0.1"}, listening
