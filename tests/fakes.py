"""In-memory fakes of the ports (include/itsm/ports.py), for unit tests of step logic.

They hold state as plain Python and answer as the ports promise: a fake AWS organisation of accounts
and resources, with per-account failures to inject; a fake Jira of tickets that records every write.
Integration tests use the real adapters against the devstack instead; these keep step rules testable
without any server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from include.itsm.core.inventory import AccountInfo, Resource, TrailEvent
from include.itsm.core.ticket import Attachment, Ticket, UnreadableTicket
from include.itsm.ports import AwsError, CallerIdentity, CostPeriod, PlannedRequest


@dataclass
class FakeAws:
    """The AwsReads port over an in-memory organisation: `visible` resources are what the aggregator
    returns, `direct` ones only per-account reads see (what Config has not caught up with), and the
    member roles of `denied` accounts cannot be assumed."""

    management: str = "111111111111"
    org_accounts: list[AccountInfo] = field(default_factory=list)
    visible: list[Resource] = field(default_factory=list)
    direct: list[Resource] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)
    alarm_table: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    events: list[TrailEvent] = field(default_factory=list)
    costs: list[CostPeriod] = field(default_factory=list)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    member_role_name: str = "ITSMMemberRead"
    api_calls: Counter = field(default_factory=Counter)

    def _enter(self, account_id: str) -> None:
        self.api_calls["sts:AssumeRole"] += account_id != self.management
        if account_id in self.denied:
            raise AwsError("sts:AssumeRole", "AccessDenied", "not authorized", account_id=account_id)

    # Organization
    def accounts(self) -> list[AccountInfo]:
        return list(self.org_accounts)

    def identity(self, account_id: str | None = None) -> CallerIdentity:
        if account_id is None:
            return CallerIdentity(account_id=self.management, arn=f"arn:aws:sts::{self.management}:assumed-role/X/s")
        self._enter(account_id)
        return CallerIdentity(
            account_id=account_id, arn=f"arn:aws:sts::{account_id}:assumed-role/{self.member_role_name}/s"
        )

    # Inventory
    def select_aggregate(self, expression: str, aggregator: str) -> Iterator[dict]:
        self.api_calls["config:SelectAggregateResourceConfig"] += 1
        for r in self.visible:
            yield {
                "resourceId": r.resource_id,
                "resourceType": r.resource_type,
                "accountId": r.account_id,
                "awsRegion": r.region,
                "configuration": {"state": {"name": r.state}} if r.state else {},
                "tags": [{"key": k, "value": v} for k, v in r.tags.items()],
            }

    def resources(self, account_id: str, region: str, resource_type: str) -> list[Resource]:
        self._enter(account_id)
        return [
            r
            for r in self.visible + self.direct
            if (r.account_id, r.region, r.resource_type) == (account_id, region, resource_type)
        ]

    def instances(
        self, account_id: str, region: str, *, tag: tuple[str, Sequence[str]] | None = None
    ) -> list[Resource]:
        found = self.resources(account_id, region, "AWS::EC2::Instance")
        return [r for r in found if tag is None or r.tags.get(tag[0]) in tag[1]]

    def details(self, resource: Resource) -> list[dict]:
        self._enter(resource.account_id)
        return [{"source": "fake", "resource": resource.resource_id}]

    # ConfigRules, CloudTrail, Cost, CloudWatch
    def rule_compliance(self, account_id: str) -> dict[str, str]:
        self._enter(account_id)
        return dict(self.rules.get(account_id, {}))

    def lookup_events(
        self, account_id: str, region: str, start: datetime, end: datetime, attribute: tuple[str, str] | None = None
    ) -> list[TrailEvent]:
        self._enter(account_id)
        wanted = attribute[1] if attribute and attribute[0] == "EventName" else None
        return [
            e
            for e in self.events
            if e.account_id == account_id and start <= e.event_time <= end and wanted in (None, e.event_name)
        ]

    def cost_and_usage(self, request: dict) -> list[CostPeriod]:
        start = date.fromisoformat(request["TimePeriod"]["Start"])
        end = date.fromisoformat(request["TimePeriod"]["End"])
        return [p for p in self.costs if start <= p.start < end]

    def alarms(self, account_id: str, region: str, names: Sequence[str] | None = None) -> list[dict]:
        self._enter(account_id)
        found = self.alarm_table.get((account_id, region), [])
        return [a for a in found if names is None or a["AlarmName"] in names]

    def metric_points(
        self, account_id: str, region: str, query: dict, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        return []


@dataclass
class FakeAlarmWriter:
    """Step 7's write path: records what was put, and makes it readable through a FakeAws's alarm table."""

    readable_through: FakeAws | None = None
    written: list[tuple[str, str, dict]] = field(default_factory=list)

    def put_metric_alarm(self, account_id: str, region: str, request: dict) -> None:
        self.written.append((account_id, region, request))
        if self.readable_through is not None:
            table = self.readable_through.alarm_table.setdefault((account_id, region), [])
            table[:] = [a for a in table if a["AlarmName"] != request["AlarmName"]] + [dict(request)]


@dataclass
class FakeJira:
    """Tickets by key; `execute` False records writes in `planned` as the real adapter does."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    execute: bool = False
    planned: list[PlannedRequest] = field(default_factory=list)
    comments: dict[tuple[str, str], dict] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    labels_added: dict[str, list[str]] = field(default_factory=dict)
    unreadable: list[UnreadableTicket] = field(default_factory=list)

    def _write(self, method: str, path: str, body) -> bool:
        if not self.execute:
            self.planned.append(PlannedRequest(method=method, path=path, body=body))
        return self.execute

    def search(self, jql: str, *, page_size: int = 100, fields=(), expand=None, unreadable=None) -> Iterator[Ticket]:
        yield from self.tickets.values()

    def search_open_tickets(
        self,
        project: str = "OPS",
        jql: str | None = None,
        page_size: int = 100,
        unreadable: list[UnreadableTicket] | None = None,
    ) -> Iterator[Ticket]:
        if unreadable is not None:
            unreadable.extend(self.unreadable)
        yield from (t for t in self.tickets.values() if t.project == project)

    def get_ticket(self, key: str) -> Ticket:
        self.reads.append(key)
        return self.tickets[key].model_copy(update={"complete": True})

    def site(self, path: str):
        return {}

    def download_attachment(self, attachment: Attachment) -> bytes:
        return b""

    def add_labels(self, key: str, labels: Sequence[str]) -> list[str]:
        missing = [label for label in labels if label not in self.tickets[key].labels]
        if missing and self._write("PUT", f"/rest/api/3/issue/{key}", {"labels": missing}):
            self.labels_added.setdefault(key, []).extend(missing)
        return missing

    def remove_labels(self, key: str, labels: Sequence[str]) -> list[str]:
        return []

    def upsert_step_comment(self, key: str, step: str, body_adf: dict) -> str | None:
        if self._write("POST", f"/rest/api/3/issue/{key}/comment", body_adf):
            self.comments[(key, step)] = body_adf
            return f"{key}-{step}"
        return None

    def replace_description_section(self, key: str, section_id: str, nodes: Sequence[dict]) -> bool:
        return self._write("PUT", f"/rest/api/3/issue/{key}", {"section": section_id})

    def create_linked_issue(self, source_key: str, **kwargs) -> str | None:
        return None

    def create_subtask(self, parent_key: str, **kwargs) -> str | None:
        return None

    def transition(self, key: str, to_status: str) -> bool:
        return self._write("POST", f"/rest/api/3/issue/{key}/transitions", {"to": to_status})

    def attach_file(self, key: str, filename: str, content: bytes) -> bool:
        return self._write("POST", f"/rest/api/3/issue/{key}/attachments", {"filename": filename})
