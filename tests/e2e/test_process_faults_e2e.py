"""Process faults under the real scheduler, on the production topology (tests/e2e/conftest.py's
`production_topology`, shared with test_production_topology.py): the first customer's OPS-180,
started from a laptop, executed through every gate while

- the Celery worker creating the change record, and later the one creating the CAB sub-task, is
  killed (SIGKILL) after the board has carried the write out but before it answered: the scheduler
  declares the task dead when its heartbeats stop, the retry finds the issue by its idempotency
  label, and the board ends with exactly one of each;
- the scheduler is restarted while the alarms gate waits for its approver: the gate is still
  answerable and the run completes;
- the worker creating the pattern bridge's first SPM story is killed the same way: one story per
  pattern.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from include.itsm.core.ticket import idempotency_label
from include.itsm.lifecycle.plan import lifecycle_dag_id, plan_for
from include.itsm.steps.implement.service import change_idempotency_key
from tests.e2e.lifecycle_helpers import (
    APPROVER_OF,
    ROLLBACK_EVIDENCE,
    approve,
    start_from_laptop,
    wait_for_gate,
    wait_for_hitl,
)
from tests.e2e.topology import KIWI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
KEY = "OPS-180"
CREATE_ISSUE = "^/rest/api/3/issue$"
# Longer than the kill takes to follow the write; the board's thread then answers a dead client.
LATE_ANSWER_S = 45
# The worker is killed while these tasks wait for the board's answer to their create.
KILLED_AT = {"change": "apply_change", "cab_2": "apply_cab"}


BRIDGE_DAG_ID = f"itsm_pattern_bridge__{KIWI}"


def _running_on(
    airflow, board, run_id: str, task_id: str, dag_id: str = lifecycle_dag_id(KEY), timeout_s: float = 120
) -> str:
    """The worker running `task_id` once the board has logged its create (the write is done)."""
    client, deadline = airflow.client(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        created = [r for r in board.requests() if r["method"] == "POST" and r["path"] == "/rest/api/3/issue"]
        ti = next(t for t in client.task_instances(dag_id, run_id) if t["task_id"] == task_id)
        if created and ti["state"] == "running" and ti["hostname"]:
            return ti["hostname"]
        time.sleep(0.5)
    raise AssertionError(f"{task_id} never reached its create: {ti['state']}, {len(created)} creates")


def _issues_labelled(board, label: str) -> list[dict]:
    return [i for i in board.store.all_issues() if label in i["labels"]]


@pytest.fixture(scope="module")
def faulted_run(production_topology, topology_laptop):
    airflow, board = production_topology.airflow, production_topology.tenants[KIWI].board
    reason = "process faults: worker killed, scheduler restarted"
    run_id = start_from_laptop(airflow, KEY, KIWI, topology_laptop, reason)["run_id"]
    killed = {}
    for gate in (g.name for g in plan_for(KEY, "change", "normal").gates):
        if gate == "alarms":
            wait_for_gate(airflow, KEY, run_id, gate)
            airflow.restart_scheduler()
        if gate in KILLED_AT:
            wait_for_gate(airflow, KEY, run_id, gate)
            board.clear_requests()
            board.fault(delay_s=LATE_ANSWER_S, delay_after=True, path_regex=CREATE_ISSUE, method="POST")
        approve(
            airflow,
            KEY,
            run_id,
            gate,
            APPROVER_OF[gate],
            evidence=ROLLBACK_EVIDENCE if gate == "go_no_go_engineering" else "",
        )
        if gate in KILLED_AT:
            worker = _running_on(airflow, board, run_id, KILLED_AT[gate])
            airflow.kill_worker(worker)
            airflow.start_worker(worker)  # as a supervisor would: the retry may land on either worker
            killed[KILLED_AT[gate]] = worker
    state = airflow.client().wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=420)
    tis = {t["task_id"]: t for t in airflow.client().task_instances(lifecycle_dag_id(KEY), run_id)}
    return state, tis, killed


def test_the_run_completes_after_the_kills_and_the_restart(faulted_run):
    state, tis, killed = faulted_run
    assert state == "success", {t: ti["state"] for t, ti in tis.items()}
    assert set(killed) == set(KILLED_AT.values())
    assert tis["record_outcome"]["state"] == "success"
    for task_id in killed:  # each killed task was declared dead and retried, not left running
        assert tis[task_id]["state"] == "success" and tis[task_id]["try_number"] >= 2, tis[task_id]


def test_the_board_holds_exactly_one_change_record_and_one_cab_subtask(faulted_run, production_topology):
    board = production_topology.tenants[KIWI].board
    changes = _issues_labelled(board, idempotency_label(change_idempotency_key(KEY)))
    assert len(changes) == 1, [c["key"] for c in changes]
    change = board.http.get(f"{board.url}/rest/api/3/issue/{changes[0]['key']}", timeout=10).json()
    subtasks = change["fields"]["subtasks"]
    assert len(subtasks) == 1, [s["key"] for s in subtasks]
    ops180 = board.http.get(f"{board.url}/rest/api/3/issue/{KEY}", timeout=10).json()
    linked = [(link.get("outwardIssue") or link.get("inwardIssue"))["key"] for link in ops180["fields"]["issuelinks"]]
    assert linked.count(changes[0]["key"]) == 1


@pytest.fixture(scope="module")
def faulted_bridge(production_topology, faulted_run):
    """After the lifecycle (one fault at a time): the bridge's story create killed once."""
    airflow, board = production_topology.airflow, production_topology.tenants[KIWI].board
    client = airflow.client()
    client.wait_for_dag(BRIDGE_DAG_ID)
    now = datetime.now(UTC)
    run_id = f"faults-bridge__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(BRIDGE_DAG_ID, run_id, now, conf={"execute": True})
    wait_for_hitl(airflow, BRIDGE_DAG_ID, run_id, "stories")
    board.clear_requests()
    board.fault(delay_s=LATE_ANSWER_S, delay_after=True, path_regex=CREATE_ISSUE, method="POST")
    airflow.client("product-owner").respond(BRIDGE_DAG_ID, run_id, "stories", approve=True)
    worker = _running_on(airflow, board, run_id, "create_stories", dag_id=BRIDGE_DAG_ID)
    airflow.kill_worker(worker)
    airflow.start_worker(worker)
    state = client.wait_for_run(BRIDGE_DAG_ID, run_id, timeout_s=420)
    tis = {t["task_id"]: t for t in client.task_instances(BRIDGE_DAG_ID, run_id)}
    return state, tis


def test_a_worker_killed_while_creating_a_story_leaves_one_story_per_pattern(faulted_bridge, production_topology):
    state, tis = faulted_bridge
    assert state == "success", {t: ti["state"] for t, ti in tis.items()}
    assert tis["create_stories"]["try_number"] >= 2, tis["create_stories"]
    stories = [
        i
        for i in production_topology.tenants[KIWI].board.store.all_issues()
        if i["project"] == "SPM" and "itsm-bridge" in i["labels"]
    ]
    keys = [tuple(sorted(label for label in s["labels"] if label.startswith("itsm-key-"))) for s in stories]
    assert stories and all(keys) and len(keys) == len(set(keys)), keys
