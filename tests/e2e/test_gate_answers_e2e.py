"""Gate answers checked when given, under the real scheduler, on OPS-180 after its full run
(tests/e2e/conftest.py's `ops180_full_run`): a self-approval through `itsm approve`, one person on
two go/no-go parties, Engineering without rollback evidence and an approval of a refused
cross-validation are refused with the reason, recorded (audit log, ticket comment), the gate is asked
again (and its approvers told again), `itsm status` shows it open, and the right answer then
completes the run (or the rejection ends it before anything is written)."""

from __future__ import annotations

import json

import pytest

from include.itsm.adapters.evidence import AUDIT_DIR
from include.itsm.commands.exit_codes import ExitCode
from include.itsm.lifecycle.plan import lifecycle_dag_id
from tests.e2e.lifecycle_helpers import (
    OPS180,
    ROLLBACK_EVIDENCE,
    add_to_manifest,
    approve,
    itsm,
    trigger,
    wait_for_gate,
    wait_for_refusal,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
KEY = OPS180


def _audit_actions(live_airflow, key: str, run_id: str) -> list[tuple[str, str | None]]:
    """(action, gate) of the run's audit entries (a gate's own entries name it in detail, record_outcome's as step)."""
    folder = live_airflow.config_dir / "evidence" / key / AUDIT_DIR
    entries = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return [
        (e["action"], (e.get("detail") or {}).get("gate") or e.get("step"))
        for e in entries
        if e.get("run_id") == run_id
    ]


def test_the_drafter_is_refused_when_approving_their_own_change(ops180_full_run, live_airflow, demo_board):
    """Through `itsm approve`, as the drafter would: refused when given (exit 5, the reason printed),
    recorded, and asked again; `itsm status` shows the gate still open; the drafter's rejection
    then ends the run before anything was written."""
    run_id = trigger(
        live_airflow, KEY, {"execute": True, "steps": ["implement"], "reason": "SoD check"}, user="change-manager"
    )
    wait_for_gate(live_airflow, KEY, run_id, "change")
    typo = itsm(live_airflow, "change-manager", "approve", KEY, "--gate", "chnage", "--run", run_id)
    assert (
        typo.returncode == ExitCode.USAGE
        and "its gates: labels, evidence" in typo.stderr
        and ", change," in typo.stderr
    ), typo.stderr
    refused = itsm(live_airflow, "change-manager", "approve", KEY, "--gate", "change", "--run", run_id)
    assert refused.returncode == ExitCode.REFUSED, (refused.stdout, refused.stderr)
    assert "refused and the gate stays open" in refused.stdout and "self-approval" in refused.stdout
    assert "open now: change (approvers: change-manager)" in refused.stdout
    assert ("answer-refused", "change") in _audit_actions(live_airflow, KEY, run_id)

    wait_for_gate(live_airflow, KEY, run_id, "change")
    status = json.loads(itsm(live_airflow, "engineer", "status", KEY, "--run", run_id, "--json").stdout)
    change = next(g for g in status["gates"] if g["gate"] == "change")
    assert change["open"] and change["approvers"] == ["change-manager"] and len(change["refusals"]) == 1
    rejected = itsm(
        live_airflow,
        "change-manager",
        "approve",
        KEY,
        "--gate",
        "change",
        "--run",
        run_id,
        "--reject",
        "--reason",
        "I drafted it",
    )
    assert rejected.returncode == ExitCode.OK, (rejected.stdout, rejected.stderr)
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(KEY), run_id)}
    assert states["apply_change"] == "upstream_failed"  # never ran: nothing written
    assert ("rejected", "change") in _audit_actions(live_airflow, KEY, run_id)
    comments = demo_board.http.get(f"{demo_board.url}/rest/api/3/issue/{KEY}/comment", timeout=10).json()["comments"]
    stopped = [json.dumps(c["body"]) for c in comments if "ITSM lifecycle stopped" in json.dumps(c["body"])]
    assert len(stopped) == 1 and "answer by change-manager refused: self-approval" in stopped[0]
    assert "change: rejected by change-manager: I drafted it" in stopped[0]
    outbox = live_airflow.config_dir / "outbox" / "kiwi-freight.jsonl"  # the customer's notice channel
    notices = [json.loads(line) for line in outbox.read_text().splitlines()]
    asked = [n for n in notices if n["gate"] == "change" and f"/runs/{run_id}/" in n["link"]]
    assert len(asked) == 2 and asked[0]["approvers"] == ["change-manager"]  # asked, then asked again
    assert asked[0]["link"].startswith(live_airflow.url) and asked[0]["ticket"] == KEY


def test_one_person_on_two_parties_is_refused_and_the_right_person_answers(ops180_full_run, live_airflow):
    """The parties open together; dual-delegate's second party is refused at once, the gate stays
    open, and the run succeeds once the security delegate answers."""
    run_id = trigger(live_airflow, KEY, {"execute": True, "steps": ["decide"], "reason": "SoD check"})
    approve(live_airflow, KEY, run_id, "go_no_go_business", "dual-delegate")
    approve(live_airflow, KEY, run_id, "go_no_go_engineering", "cto-delegate")  # no rollback evidence
    approve(live_airflow, KEY, run_id, "go_no_go_security", "dual-delegate")
    assert (
        "already answered go_no_go_business"
        in wait_for_refusal(live_airflow, KEY, run_id, "go_no_go_security")["problems"][0]
    )
    assert (
        "rollback-test evidence" in wait_for_refusal(live_airflow, KEY, run_id, "go_no_go_engineering")["problems"][0]
    )
    approve(live_airflow, KEY, run_id, "go_no_go_security", "cso-delegate")
    approve(live_airflow, KEY, run_id, "go_no_go_engineering", "cto-delegate", evidence=ROLLBACK_EVIDENCE)
    approve(live_airflow, KEY, run_id, "window", "change-manager")
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=240) == "success"
    refused = {gate for action, gate in _audit_actions(live_airflow, KEY, run_id) if action == "answer-refused"}
    assert refused == {"go_no_go_security", "go_no_go_engineering"}


def test_a_refused_cross_validation_can_only_be_rejected(live_airflow, demo_board):
    """OPS-180's text without its inventory sheet: the cross-validation verdict is refused. The QA
    engineer's approval of the evidence gate is refused when given (the gate stays open); their
    rejection then ends the run before the 5W1H panel is written."""
    source = demo_board.store.get_issue(KEY)
    key = demo_board.store.seed_issue(
        project="OPS",
        issue_type=source["issue_type"],
        summary=source["summary"],
        description_adf=source["description"],
        labels=source["labels"],
        reporter=source["reporter"],
        created=source["created"],
    )
    description = demo_board.store.get_issue(key)["description"]
    add_to_manifest(live_airflow, key, "change", "normal")
    steps = ["intake", "discover", "classify", "cross-validate"]
    run_id = trigger(live_airflow, key, {"execute": True, "steps": steps, "reason": "verdict check"})
    approve(live_airflow, key, run_id, "labels", "sre-lead")
    approve(live_airflow, key, run_id, "evidence", "qa-engineer")
    problem = wait_for_refusal(live_airflow, key, run_id, "evidence")["problems"][0]
    assert "the cross-validation verdict is refused" in problem and "reject it" in problem
    approve(live_airflow, key, run_id, "evidence", "qa-engineer", approve=False, reason="inventory sheet missing")
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=240) == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(lifecycle_dag_id(key), run_id)}
    assert states["apply_evidence"] == "upstream_failed"  # the 5W1H panel never written
    assert demo_board.store.get_issue(key)["description"] == description  # no 5W1H panel added
    actions = _audit_actions(live_airflow, key, run_id)
    assert ("answer-refused", "evidence") in actions and ("rejected", "evidence") in actions
