"""OPS-180, the worked example, through every gate under the real scheduler, approved over REST
by the right people (tests/e2e/conftest.py's `ops180_full_run`), and a preview run that writes
nothing. Wrong answers to its gates: test_gate_answers_e2e.py."""

from __future__ import annotations

import json

import pytest

from include.itsm.adapters.evidence import run_segment
from include.itsm.lifecycle.plan import lifecycle_dag_id
from tests.e2e.lifecycle_helpers import APPROVER_OF, OPS180, approve, labels, trigger

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
KEY = OPS180


def _issue(board, key: str) -> dict:
    return board.http.get(f"{board.url}/rest/api/3/issue/{key}", timeout=10).json()


def test_ops180_runs_through_every_gate_to_success(ops180_full_run, live_airflow):
    run_id, state = ops180_full_run
    states = {t["task_id"]: t["state"] for t in live_airflow.client().task_instances(lifecycle_dag_id(KEY), run_id)}
    assert state == "success", states
    outcome = json.loads(
        (live_airflow.config_dir / "evidence" / KEY / run_segment(run_id) / "lifecycle.json").read_text()
    )
    assert outcome["outcome"] == "completed"
    assert {gate: d["user_id"] for gate, d in outcome["decisions"].items()} == APPROVER_OF


def test_the_board_holds_labels_5w1h_change_record_and_cab_subtask(ops180_full_run, demo_board):
    issue = _issue(demo_board, KEY)
    # the seed's labels: env and tier from the demo's service catalogue (the scheduler is a production service)
    canonical = {"service:compute", "env:prod", "tier:important", "cr:normal", "itsm-type:change"}
    assert canonical <= labels(demo_board, KEY)
    assert not {"service:ec2", "blast:multi-service"} & labels(demo_board, KEY)
    description = json.dumps(issue["fields"]["description"])
    assert description.count("5W1H") >= 1 and '"panel"' in description
    links = issue["fields"]["issuelinks"]
    change_keys = [(link.get("outwardIssue") or link.get("inwardIssue"))["key"] for link in links]
    changes = [
        _issue(demo_board, k) for k in change_keys if _issue(demo_board, k)["fields"]["issuetype"]["name"] == "Change"
    ]
    assert len(changes) == 1
    subtasks = changes[0]["fields"]["subtasks"]
    assert len(subtasks) >= 1 and all(s["fields"]["issuetype"]["name"] == "Sub-task" for s in subtasks)


def test_the_evidence_folder_has_every_step_with_the_worked_example_numbers(ops180_full_run, live_airflow):
    run_id, _ = ops180_full_run
    folder = live_airflow.config_dir / "evidence" / KEY / run_segment(run_id)
    for step in ("intake", "discover", "classify", "cross-validate", "decide", "implement", "operate", "govern"):
        assert (folder / f"{step}.json").exists(), step
    text = (folder / "cross-validate.json").read_text()
    for figure in ("110", "117", "94"):
        assert figure in text
    assert "2400" in (folder / "decide.json").read_text().replace(",", "").replace(".0", "")


def test_a_preview_run_sends_no_write_to_the_board(ops180_full_run, live_airflow, demo_board):
    demo_board.clear_requests()
    run_id = trigger(live_airflow, KEY, {"execute": False, "steps": ["classify", "cross-validate"]})
    approve(live_airflow, KEY, run_id, "labels", "sre-lead")
    approve(live_airflow, KEY, run_id, "evidence", "qa-engineer")
    assert live_airflow.client().wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "success"
    writes = [
        (r["method"], r["path"])
        for r in demo_board.requests()
        if r["method"] in ("PUT", "DELETE") or (r["method"] == "POST" and r["path"] != "/rest/api/3/search/jql")
    ]
    assert writes == []
