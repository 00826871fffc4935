"""The ports: every outside system a step talks to, as a typed interface.

Steps (`include/itsm/steps/*/service.py`), the sweep, the bridge and `itsm doctor` talk to Jira,
Confluence, AWS and the evidence store only through these Protocols, with the product's own models
in and out (tickets, resources, accounts, trail events), never a client library's objects or
exceptions. `include/itsm/adapters/` holds the implementations (the only code importing boto3,
botocore, atlassian or requests); `include/itsm/wiring.py` builds them from the customer's Airflow
connections; tests pass in-memory fakes (tests/fakes.py) or the real adapters against the devstack.

Errors: an AWS call that fails raises `AwsError` (what was asked, where, AWS's code and message);
Jira failures raise the adapter's `JiraAdapterError` family, re-exported here as `JiraError`;
a missing artifact raises `EvidenceError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from include.itsm.core.audit import AuditEntry, ChainVerdict
from include.itsm.core.inventory import AccountInfo, Resource, TrailEvent
from include.itsm.core.ticket import Attachment, Ticket

M = TypeVar("M", bound=BaseModel)


class AwsError(RuntimeError):
    """An AWS request failed after the adapter's bounded retries, or was refused before it was sent."""

    def __init__(
        self, operation: str, code: str, message: str, *, account_id: str | None = None, region: str | None = None
    ) -> None:
        super().__init__(f"{operation}: {code}: {message}".strip())
        self.operation, self.code, self.message = operation, code, message
        self.account_id, self.region = account_id, region


class EvidenceError(RuntimeError):
    """An artifact is missing or unreadable; the message names the step to run first."""


class AirflowError(RuntimeError):
    """Airflow refused a request, is not configured, or a run it was asked for did not succeed."""


class PlannedRequest(BaseModel):
    """A write an adapter would send in execute mode (what preview shows the approver)."""

    method: str
    path: str
    body: Any = None


class CallerIdentity(BaseModel):
    """Who AWS says we are: the principal a session really uses (doctor shows it)."""

    account_id: str
    arn: str

    @property
    def role(self) -> str | None:
        """The role name of an assumed-role principal (`arn:aws:sts::<id>:assumed-role/<role>/<session>`)."""
        parts = self.arn.split(":", 5)[-1].split("/")
        return parts[1] if parts[0] == "assumed-role" and len(parts) > 1 else None


class CostPeriod(BaseModel):
    """One period of a Cost Explorer answer: the total and, when grouped, the amount per group key."""

    start: date
    end: date
    total_usd: float
    by_group: dict[str, float] = {}


# --- Jira and Confluence ---------------------------------------------------------------------------


class Jira(Protocol):
    """The ticket system (Jira Cloud REST v3). In preview, writes are recorded in `planned`, not sent."""

    planned: list[PlannedRequest]

    def search(self, jql: str, *, page_size: int = 100, fields: Sequence[str] = ...) -> Iterator[Ticket]: ...

    def search_open_tickets(
        self, project: str = "OPS", jql: str | None = None, page_size: int = 100
    ) -> Iterator[Ticket]: ...

    def get_ticket(self, key: str) -> Ticket: ...

    def site(self, path: str) -> Any: ...

    def download_attachment(self, attachment: Attachment) -> bytes: ...

    def add_labels(self, key: str, labels: Sequence[str]) -> list[str]: ...

    def remove_labels(self, key: str, labels: Sequence[str]) -> list[str]: ...

    def upsert_step_comment(self, key: str, step: str, body_adf: dict) -> str | None: ...

    def replace_description_section(self, key: str, section_id: str, nodes: Sequence[dict]) -> bool: ...

    def create_linked_issue(
        self,
        source_key: str,
        *,
        project: str,
        issue_type: str,
        summary: str,
        description_adf: dict,
        link_type: str,
        idempotency_key: str,
        labels: Sequence[str] = (),
        priority: str | None = None,
    ) -> str | None: ...

    def create_subtask(
        self,
        parent_key: str,
        *,
        summary: str,
        description_adf: dict,
        idempotency_key: str,
        labels: Sequence[str] = (),
        issue_type: str = "Sub-task",
    ) -> str | None: ...

    def transition(self, key: str, to_status: str) -> bool: ...

    def attach_file(self, key: str, filename: str, content: bytes) -> bool: ...


class Confluence(Protocol):
    """The knowledge base (Confluence Cloud v2 pages) where PIRs are published."""

    planned: list[PlannedRequest]

    def publish_page(self, space_key: str, title: str, storage_body: str) -> dict: ...


# --- AWS (read-only by construction) -----------------------------------------------------------------


class Organization(Protocol):
    """AWS Organizations and STS: the accounts in scope and who we are."""

    def accounts(self) -> list[AccountInfo]: ...

    def identity(self, account_id: str | None = None) -> CallerIdentity: ...


class Inventory(Protocol):
    """What exists: the Config aggregator org-wide, and direct per-account reads (the fallback)."""

    def select_aggregate(self, expression: str, aggregator: str) -> Iterator[dict]: ...

    def resources(self, account_id: str, region: str, resource_type: str) -> list[Resource]: ...

    def instances(
        self, account_id: str, region: str, *, tag: tuple[str, Sequence[str]] | None = None
    ) -> list[Resource]: ...

    def details(self, resource: Resource) -> list[dict]: ...


class ConfigRules(Protocol):
    """AWS Config rule compliance in one account."""

    def rule_compliance(self, account_id: str) -> dict[str, str]: ...


class CloudTrail(Protocol):
    """What was done: CloudTrail LookupEvents in one account and region."""

    def lookup_events(
        self, account_id: str, region: str, start: datetime, end: datetime, attribute: tuple[str, str] | None = None
    ) -> list[TrailEvent]: ...


class Cost(Protocol):
    """What was billed: Cost Explorer GetCostAndUsage (org-wide, from the management account)."""

    def cost_and_usage(self, request: dict) -> list[CostPeriod]: ...


class CloudWatch(Protocol):
    """Alarms and metrics in one account and region (alarms in DescribeAlarms' MetricAlarm shape)."""

    def alarms(self, account_id: str, region: str, names: Sequence[str] | None = None) -> list[dict]: ...

    def metric_points(
        self, account_id: str, region: str, query: dict, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]: ...


class AwsReads(Organization, Inventory, ConfigRules, CloudTrail, Cost, CloudWatch, Protocol):
    """Every AWS read a step makes, through the customer's read-only connection; `api_calls` counts
    each operation sent (`service:Operation`), for provenance and call budgets."""

    api_calls: Counter[str]
    member_role_name: str  # the role member-account reads assume (doctor and provenance name it)


class AlarmWriter(Protocol):
    """The one AWS write of the lifecycle (step 7, after the alarms gate), through the operations
    connection, never the read-only one."""

    def put_metric_alarm(self, account_id: str, region: str, request: dict) -> None: ...


# --- the evidence store -------------------------------------------------------------------------------


class Evidence(Protocol):
    """Artifacts per ticket and run, rendered views beside them, and the ticket's audit log."""

    def write(self, key: str, run_id: str, step: str, artifact: BaseModel) -> str: ...

    def write_text(self, key: str, run_id: str, name: str, text: str) -> str: ...

    def write_bytes(self, key: str, run_id: str, name: str, data: bytes) -> str: ...

    def read(self, key: str, run_id: str, step: str, model: type[M]) -> M: ...

    def read_bytes(self, key: str, run_id: str, name: str) -> bytes | None: ...

    def latest(self, key: str, step: str, model: type[M]) -> M: ...

    def runs(self, key: str) -> list[str]: ...

    def files(self, key: str) -> list[tuple[str, bytes]]: ...

    def location(self, key: str, run_id: str, name: str) -> str: ...

    def keys(self) -> list[str]: ...

    def audit(
        self,
        key: str,
        *,
        actor: str,
        action: str,
        step: str | None = None,
        run_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry: ...

    def verify_audit(self, key: str) -> ChainVerdict: ...

    def probe(self) -> str: ...


class AirflowRuns(Protocol):
    """Airflow's REST API as the CLI's caller uses it: runs are triggered and answered as that person."""

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120.0) -> dict: ...

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict: ...

    def trigger_at(self, dag_id: str, run_id: str, logical_date: datetime, conf: dict | None = None) -> dict: ...

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 300.0) -> str: ...

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> Any: ...
