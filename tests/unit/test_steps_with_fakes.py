"""Step logic against in-memory fakes of the ports (tests/fakes.py): no server, only the rules.

The same steps run against the real adapters and the devstack in tests/integration; here each rule is
pinned where it lives: the per-account fallback, the alarm write path and its read-back, the sweep's
one read per ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.config import Customer, Runtime, Settings
from include.itsm.core.inventory import AccountInfo, Resource
from include.itsm.core.ticket import Ticket, UnreadableTicket
from include.itsm.steps import GateDecision
from include.itsm.steps.discover.service import discover_ticket, take_org_snapshot
from include.itsm.steps.intake.domain import Extracted, IntakeResult, Span
from include.itsm.steps.operate import service as operate
from include.itsm.steps.operate.domain import plan_operations
from include.itsm.sweep import run_sweep
from include.itsm.wiring import run_context
from tests.fakes import FakeAlarmWriter, FakeAws, FakeJira

SEEN, UNSEEN, DENIED = "222222222222", "333333333333", "444444444444"
REGION = "ap-southeast-2"


def _instance(account: str, n: int) -> Resource:
    return Resource(
        resource_id=f"i-0{account[:4]}{n:012x}",
        resource_type="AWS::EC2::Instance",
        account_id=account,
        region=REGION,
        state="running",
        tags={"env": "prod"},
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        runtime=Runtime(
            evidence_root=f"file://{tmp_path / 'evidence'}",
            audit_anchor_root=f"file://{tmp_path / 'anchors'}",
            manifest_path=str(tmp_path / "m.json"),
        ),
        customers=[Customer(id="c", name="C", regions=[REGION])],
    )


@pytest.fixture
def aws() -> FakeAws:
    return FakeAws(
        org_accounts=[AccountInfo(account_id=a, status="ACTIVE") for a in (SEEN, UNSEEN, DENIED)],
        visible=[_instance(SEEN, n) for n in range(3)],
        direct=[_instance(UNSEEN, n) for n in range(2)],  # launched after Config's last look
        denied={DENIED},
    )


def _ctx(settings, aws, *, jira=None, execute=False, alarm_writer=None):
    return run_context(
        settings,
        "unit-run",
        execute=execute,
        actor="user:engineer",
        jira=jira or FakeJira(execute=execute),
        aws=aws,
        evidence=EvidenceStore.from_settings(settings),
        alarm_writer=alarm_writer,
    )


def _intake(*accounts: str) -> IntakeResult:
    return IntakeResult(
        service="compute",
        account_ids=[Extracted(value=a, kind="account", span=Span(start=0, end=12, quote=a)) for a in accounts],
    )


def test_discovery_reads_an_account_directly_where_the_org_view_shows_zero(settings, aws):
    ctx = _ctx(settings, aws)
    snapshot = take_org_snapshot(ctx)
    assert len(snapshot.resources) == 3 and {a.account_id for a in snapshot.accounts} == {SEEN, UNSEEN, DENIED}
    discovery = discover_ticket(ctx, "OPS-1", _intake(SEEN, UNSEEN, DENIED), snapshot, {"prod"})
    assert discovery.resource_count == 5  # 3 org-wide + 2 from the fallback read of UNSEEN
    assert {r.account_id for r in discovery.resources} == {SEEN, UNSEEN}
    (denied,) = [e for e in discovery.errors if e.account_id == DENIED]
    assert (denied.operation, denied.code) == ("sts:AssumeRole", "AccessDenied")  # never a silent zero


def _planned_operations(ctx, key: str) -> None:
    resources = [_instance(SEEN, n) for n in range(3)]
    plan = plan_operations(key, ctx.run_id, resources, datetime(2026, 12, 8, 9, tzinfo=UTC), ctx.settings.policy.change)
    ctx.evidence.write(key, ctx.run_id, operate.STEP, plan)


APPROVED = {"alarms": GateDecision(gate="alarms", approved=True, user_id="service-owner", user_name="service-owner")}


def test_alarms_are_written_through_the_operations_path_and_verified_by_read_back(settings, aws):
    writer = FakeAlarmWriter(readable_through=aws)
    jira = FakeJira(execute=True)
    ctx = _ctx(settings, aws, jira=jira, execute=True, alarm_writer=writer)
    _planned_operations(ctx, "OPS-2")
    result = operate.apply(ctx, "OPS-2", "alarms", APPROVED)
    assert result["created"] == len(writer.written) == 4  # 3 instance alarms + the rollback trigger
    assert {account for account, _, _ in writer.written} == {SEEN}
    assert ("OPS-2", operate.STEP) in jira.comments  # the review dates reach the ticket once verified


def test_alarms_that_do_not_read_back_as_written_stop_the_step(settings, aws):
    ctx = _ctx(settings, aws, jira=FakeJira(execute=True), execute=True, alarm_writer=FakeAlarmWriter())
    _planned_operations(ctx, "OPS-3")
    with pytest.raises(RuntimeError, match="not verified by read-back"):
        operate.apply(ctx, "OPS-3", "alarms", APPROVED)
    assert ctx.jira.comments == {}  # nothing is claimed on the ticket


def test_preview_sends_no_alarm_and_lists_the_requests(settings, aws):
    writer = FakeAlarmWriter()
    ctx = _ctx(settings, aws, alarm_writer=writer)
    _planned_operations(ctx, "OPS-4")
    result = operate.apply(ctx, "OPS-4", "alarms", APPROVED)
    assert writer.written == [] and sum(p["method"] == "PutMetricAlarm" for p in result["planned"]) == 4


def test_the_sweep_reads_a_ticket_again_only_when_the_search_truncated_it(settings, aws):
    tickets = {
        f"OPS-{n}": Ticket(key=f"OPS-{n}", summary=f"EC2 in {SEEN} slow", description=f"account {SEEN}")
        for n in range(1, 6)
    }
    tickets["OPS-3"] = tickets["OPS-3"].model_copy(update={"complete": False})
    jira = FakeJira(tickets=tickets, unreadable=[UnreadableTicket(key="OPS-9", error="field description: too deep")])
    told: list[str] = []
    summary = run_sweep(_ctx(settings, aws, jira=jira), progress=told.append)
    assert told and told[-1].endswith(f"{summary.tickets} tickets assessed")  # `itsm sweep` shows it on a terminal
    assert jira.reads == ["OPS-3"]
    assert (summary.tickets, summary.succeeded) == (6, 5)
    assert summary.failures == [{"key": "OPS-9", "error": "unreadable: field description: too deep"}]
