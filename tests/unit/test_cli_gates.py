"""What `itsm status`, `itsm approve` and `itsm lifecycle --execute` say about a run's gates
(include/itsm/commands/_gates.py), from what Airflow's REST API answers."""

from datetime import UTC, datetime

from include.itsm.commands._gates import gate_named, gate_views, next_gate_line
from include.itsm.core.change_policy import ChangePolicy

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class AirflowAnswers:
    """Airflow's answers for one approvals run: task states, HITL details, refusals."""

    def __init__(self, states: dict[str, str], details: dict[str, dict], refusals: dict[str, list] | None = None):
        self.states, self.details, self.refusals = states, details, refusals or {}

    def task_instances(self, dag_id, run_id):
        return [{"task_id": task, "state": state} for task, state in self.states.items()]

    def get(self, path):
        assert path.endswith("/hitlDetails")
        return {"hitl_details": [{"task_instance": {"task_id": t}, **d} for t, d in self.details.items()]}

    def xcom(self, dag_id, run_id, task_id, key):
        return self.refusals.get(task_id)


def test_parties_open_together_each_with_its_approvers_and_wait():
    api = AirflowAnswers(
        {"go_no_go_security": "awaiting_input", "go_no_go_business": "awaiting_input", "window": "deferred"},
        {
            "go_no_go_business": {
                "assigned_users": [{"id": "7", "name": "cfo-delegate"}],
                "created_at": "2026-12-07T11:30:00Z",
            },
            "go_no_go_security": {"assigned_users": [], "created_at": "2026-12-07T11:50:00+00:00"},
        },
        {"go_no_go_security": [{"user": "cfo-delegate", "approved": True, "problems": ["already answered"]}]},
    )
    views = gate_views(api, "OPS-180", "r1", ChangePolicy(), now=NOW)
    assert [v.gate for v in views] == ["go_no_go_business", "go_no_go_security", "window"]  # the plan's order
    business, security, window = views
    assert business.open and business.approvers == ["cfo-delegate"] and business.waiting_s == 1800
    assert security.approvers == list(ChangePolicy().approvers.go_no_go["security"]) and len(security.refusals) == 1
    assert not window.open and window.waits_for == "lifecycle task gate_go_no_go_engineering to finish"
    line = next_gate_line(views)
    assert line.startswith("open now: go_no_go_business (approvers: cfo-delegate); go_no_go_security")


def test_an_answered_gate_is_not_open_and_names_who_answered():
    api = AirflowAnswers(
        {"labels": "awaiting_input"},
        {"labels": {"response_received": True, "responded_by_user": {"id": "sre-lead", "name": "sre-lead"}}},
    )
    (labels,) = gate_views(api, "OPS-1", "r1", ChangePolicy(), now=NOW)
    assert not labels.open and labels.answered_by == "sre-lead"
    assert labels.waits_for == "the answer just given to be checked"


def test_with_nothing_open_the_next_gate_is_named():
    api = AirflowAnswers({"labels": "success", "evidence": "deferred"}, {})
    line = next_gate_line(gate_views(api, "OPS-1", "r1", ChangePolicy(), now=NOW))
    assert line.startswith("next gate: evidence (approvers: ") and "cross-validate to finish" in line
    assert next_gate_line(gate_views(AirflowAnswers({"labels": "success"}, {}), "OPS-1", "r1", ChangePolicy())) == (
        "no gate is open or waiting"
    )


def test_every_plan_gate_is_known_by_name():
    assert gate_named("pir").step == "pir" and gate_named("cab_2").reviews_task == "apply_change"


def test_progress_is_shown_on_a_terminal_only(monkeypatch):
    import io

    from include.itsm.commands._args import terminal_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert terminal_progress() is None  # a file or a pipe gets no progress lines
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    show = terminal_progress()
    show("step 1/3: intake")
    assert terminal.getvalue() == "\r\033[Kstep 1/3: intake"


def test_before_the_approvals_run_exists_there_are_no_gates_yet():
    from include.itsm.adapters.airflow_api import AirflowApiError

    class NoApprovalsRun(AirflowAnswers):
        def task_instances(self, dag_id, run_id):
            raise AirflowApiError(f"GET /dags/{dag_id}/dagRuns/{run_id}/taskInstances: HTTP 404 not found")

    views = gate_views(NoApprovalsRun({}, {}), "OPS-1", "r1", ChangePolicy(), now=NOW)
    assert views == [] and next_gate_line(views).startswith("no gates yet")
