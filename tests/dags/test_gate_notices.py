"""Gate notices (include/itsm/airflow/notices.py): approvers are told when a gate asks, through the
customer's channel; a notice that cannot be sent never fails the gate."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from include.itsm.airflow.gates import GateTiming
from include.itsm.airflow.lifecycle_dags import build_approvals_dag
from include.itsm.airflow.notices import GateNotice, GateNotifier, gate_notifiers
from include.itsm.config import GateNotices, NoticeChannel
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.lifecycle.plan import plan_for

PLAN = plan_for("OPS-180", "change", "normal")


def approvals(notices: GateNotices):
    timing = GateTiming(timeout=timedelta(hours=1), poke_seconds=2)
    return build_approvals_dag(PLAN, "scheduler", timing, ChangePolicy(), "kiwi-freight", notices)


def context_of(task):
    ti = SimpleNamespace(dag_id=task.dag_id, run_id="manual__1", task_id=task.task_id, map_index=-1)
    return {"task": task, "task_instance": ti, "ti": ti}


def test_the_outbox_gets_one_notice_per_ask_naming_ticket_gate_approvers_and_link(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    outbox = tmp_path / "outbox.jsonl"
    dag = approvals(GateNotices(channel=NoticeChannel.OUTBOX, outbox_path=str(outbox)))
    gate = dag.get_task("go_no_go_security")
    (notifier,) = gate.notifiers
    notifier.notify(context_of(gate))
    notifier.notify(context_of(gate))  # asked again after a refused answer
    notices = [GateNotice.model_validate_json(line) for line in outbox.read_text().splitlines()]
    assert len(notices) == 2
    notice = notices[0]
    assert (notice.ticket, notice.gate, notice.customer) == ("OPS-180", "go_no_go_security", "kiwi-freight")
    assert notice.approvers == list(ChangePolicy().approvers.go_no_go["security"])
    assert notice.link.startswith("http://127.0.0.1:8080/dags/itsm_approvals__OPS-180/runs/manual__1/tasks/")
    assert "itsm approve OPS-180 --gate go_no_go_security" in notice.text()


def test_a_notice_that_cannot_be_sent_never_fails_the_gate(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    notifier = GateNotifier(GateNotices(channel=NoticeChannel.OUTBOX, outbox_path=str(blocked / "outbox.jsonl")))
    gate = approvals(GateNotices()).get_task("labels")
    notifier.notify(context_of(gate))  # the outbox's folder is a file: logged, not raised


def test_no_channel_no_notifier_and_incomplete_channels_are_refused():
    assert gate_notifiers(GateNotices(), "kiwi-freight") == []
    assert approvals(GateNotices()).get_task("labels").notifiers == []
    for incomplete in ({"channel": "outbox"}, {"channel": "email", "conn_id": "smtp"}, {"channel": "webhook"}):
        with pytest.raises(ValidationError, match="needs"):
            GateNotices.model_validate(incomplete)
    email = GateNotices(
        channel="email", conn_id="smtp_default", email_domain="ops.example", addresses={"cab-1": "a@b.c"}
    )
    assert (email.address_of("cab-1"), email.address_of("cab-2")) == ("a@b.c", "cab-2@ops.example")
