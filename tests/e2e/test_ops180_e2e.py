"""OPS-180, the worked example, through every gate under the real scheduler, approved over REST
by the right people; then separation of duties refusing a two-party approver and a self-approval,
and a preview run that writes nothing."""

from __future__ import annotations

import json

import pytest

from include.itsm.adapters.evidence import run_segment
from include.itsm.application.lifecycle import lifecycle_dag_id, plan_for
from tests.e2e.lifecycle_helpers import add_to_manifest, approve, labels, trigger

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
KEY = "OPS-180"
APPROVER_OF = {"labels": "sre-lead", "evidence": "qa-engineer", "go_no_go_business": "cfo-delegate",
               "go_no_go_security": "cso-delegate", "go_no_go_engineering": "cto-delegate",
               "window": "change-manager", "change": "change-manager", "cab_1": "cab-1", "cab_2": "cab-2",
               "alarms": "service-owner", "governance": "governance"}
ROLLBACK_EVIDENCE = "rollback rehearsed in sandbox 2026-11-20: disable cron + force-start, 14 min (runbook RB-42)"


def _issue(board, key: str) -> dict:
    return board.http.get(f"{board.url}/rest/api/3/issue/{key}", timeout=10).json()


@pytest.fixture(scope="module")
def full_run(live_airflow, demo_board):
    add_to_manifest(live_airflow, KEY, "change", "normal")
    run_id = trigger(live_airflow, KEY, {"execute": True, "reason": "customer request: extend the scheduler"})
    for gate in (g.name for g in plan_for(KEY, "change", "normal").gates):
        approve(live_airflow, KEY, run_id, gate, APPROVER_OF[gate],
                evidence=ROLLBACK_EVIDENCE if gate == "go_no_go_engineering" else "")
    state = live_airflow.client().wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=300)
    return run_id, state


def test_ops180_runs_through_every_gate_to_success(full_run, live_airflow):
    run_id, state = full_run
    states = {t["task_id"]: t["state"] for t in live_airflow.client().task_instances(lifecycle_dag_id(KEY), run_id)}
    assert state == "success", states
    outcome = json.loads((live_airflow.config_dir / "evidence" / KEY / run_segment(run_id) / "lifecycle.json").read_text())
    assert outcome["outcome"] == "completed"
    assert {gate: d["user_id"] for gate, d in outcome["decisions"].items()} == APPROVER_OF


def test_the_board_holds_labels_5w1h_change_record_and_cab_subtask(full_run, demo_board):
    issue = _issue(demo_board, KEY)
    assert {"service:compute", "cr:normal", "itsm-type:change"} <= labels(demo_board, KEY)
    assert not {"service:ec2", "blast:multi-service"} & labels(demo_board, KEY)
    description = json.dumps(issue["fields"]["description"])
    assert description.count("5W1H") >= 1 and '"panel"' in description
    links = issue["fields"]["issuelinks"]
    change_keys = [(link.get("outwardIssue") or link.get("inwardIssue"))["key"] for link in links]
    changes = [_issue(demo_board, k) for k in change_keys if _issue(demo_board, k)["fields"]["issuetype"]["name"] == "Change"]
    assert len(changes) == 1
    subtasks = changes[0]["fields"]["subtasks"]
    assert len(subtasks) >= 1 and all(s["fields"]["issuetype"]["name"] == "Sub-task" for s in subtasks)


def test_the_evidence_folder_has_every_step_with_the_worked_example_numbers(full_run, live_airflow):
    run_id, _ = full_run
    folder = live_airflow.config_dir / "evidence" / KEY / run_segment(run_id)
    for step in ("intake", "discover", "classify", "cross-validate", "decide", "implement", "operate", "govern"):
        assert (folder / f"{step}.json").exists(), step
    text = (folder / "cross-validate.json").read_text()
    for figure in ("110", "117", "94"):
        assert figure in text
    assert "2400" in (folder / "decide.json").read_text().replace(",", "").replace(".0", "")


def test_the_drafter_cannot_approve_their_own_change(full_run, live_airflow):
    run_id = trigger(live_airflow, KEY, {"execute": True, "steps": ["implement"], "reason": "SoD check"},
                     user="change-manager")
    approve(live_airflow, KEY, run_id, "change", "change-manager")
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(KEY), run_id)}
    assert states["apply_change"] == "failed"


def test_one_person_approving_two_parties_is_refused(full_run, live_airflow):
    """After the drafter test: this run leaves an unapproved decision as the newest one."""
    run_id = trigger(live_airflow, KEY, {"execute": True, "steps": ["decide"], "reason": "SoD check"})
    approve(live_airflow, KEY, run_id, "go_no_go_business", "dual-delegate")
    approve(live_airflow, KEY, run_id, "go_no_go_security", "dual-delegate")
    approve(live_airflow, KEY, run_id, "go_no_go_engineering", "cto-delegate", evidence=ROLLBACK_EVIDENCE)
    approve(live_airflow, KEY, run_id, "window", "change-manager")
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(KEY), run_id)}
    assert states["apply_window"] == "failed"


def test_a_preview_run_sends_no_write_to_the_board(full_run, live_airflow, demo_board):
    demo_board.clear_requests()
    run_id = trigger(live_airflow, KEY, {"execute": False, "steps": ["classify", "cross-validate"]})
    approve(live_airflow, KEY, run_id, "labels", "sre-lead")
    approve(live_airflow, KEY, run_id, "evidence", "qa-engineer")
    assert live_airflow.client().wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "success"
    writes = [(r["method"], r["path"]) for r in demo_board.requests()
              if r["method"] in ("PUT", "DELETE") or (r["method"] == "POST" and r["path"] != "/rest/api/3/search/jql")]
    assert writes == []
