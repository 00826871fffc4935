"""Load and validate the one configuration file (YAML) an organisation tunes.

`ITSM_CONFIG` names the file (default `config/itsm.yaml` in the repository). Policy
(taxonomy, SLAs, approvers, ...) has the seed's values as defaults in
`include.itsm.core.policy`; runtime settings (connections, evidence root, schedules) and
customers live here. A bad file fails at start with the file, the key and the reason.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from include.itsm.core.policy import Policy
from include.itsm.scrub.config import ScrubConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "itsm.yaml"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names file, key and reason."""


class JiraMapping(BaseModel):
    """The names this customer's Jira site uses (issue types, statuses, link types, fields); defaults: the demo board.

    `itsm doctor` checks every name against the site's own metadata (/rest/api/3/issuetype, /status,
    /issueLinkType, /field and a sample issue's transitions). `sprint_field` is named so that nothing
    ever writes it (moving tickets into sprints is forbidden), never to be written.
    """

    model_config = ConfigDict(extra="forbid")

    issue_types: dict[str, str] = Field(
        default_factory=lambda: {
            "incident": "Incident",
            "problem": "Problem",
            "change": "Change",
            "service_request": "Service Request",
            "story": "Story",
            "subtask": "Sub-task",
        }
    )
    statuses: dict[str, str] = Field(
        default_factory=lambda: {
            "open": "Open",
            "in_progress": "In Progress",
            "awaiting_approval": "Awaiting Approval",
            "pending_pir": "Pending PIR",
            "resolved": "Resolved",
            "closed": "Closed",
        }
    )
    link_types: dict[str, str] = Field(default_factory=lambda: {"relates": "Relates", "causes": "Problem/Incident"})
    fields: dict[str, str] = Field(default_factory=dict)  # role -> field id, e.g. {customer: customfield_10050}
    sprint_field: str = "customfield_10020"
    transitions_to: list[str] = Field(default_factory=lambda: ["Resolved", "Closed"])  # statuses the code moves to

    def issue_type(self, role: str) -> str:
        return self.issue_types.get(role, role)

    def status(self, role: str) -> str:
        return self.statuses.get(role, role)

    def link_type(self, role: str) -> str:
        return self.link_types.get(role, role)


class ObjectLock(BaseModel):
    """S3 Object Lock retention the evidence store sets on every object it writes (bucket must have Object Lock)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    days: int = Field(ge=1)


class NoticeChannel(StrEnum):
    NONE = "none"
    OUTBOX = "outbox"  # one JSON line per notice in a local file (the demo)
    EMAIL = "email"  # Airflow's SmtpNotifier, to each approver
    WEBHOOK = "webhook"  # Airflow's HttpNotifier, JSON {"text": ...} to a chat incoming webhook


class GateNotices(BaseModel):
    """How a customer's approvers hear that a gate waits for them (include/itsm/airflow/notices.py)."""

    model_config = ConfigDict(extra="forbid")

    channel: NoticeChannel = NoticeChannel.NONE
    outbox_path: str | None = None  # outbox: the file notices are appended to (relative: to the repository)
    conn_id: str | None = None  # email: an smtp connection; webhook: an http connection (host = webhook base URL)
    endpoint: str = ""  # webhook: the path after the connection's host
    email_domain: str | None = None  # email: <approver>@<domain>, unless the approver is in `addresses`
    addresses: dict[str, str] = Field(default_factory=dict)  # email: approver name -> address

    @model_validator(mode="after")
    def _complete(self) -> GateNotices:
        missing = {
            NoticeChannel.OUTBOX: [] if self.outbox_path else ["outbox_path"],
            NoticeChannel.EMAIL: ([] if self.conn_id else ["conn_id"])
            + ([] if self.email_domain or self.addresses else ["email_domain or addresses"]),
            NoticeChannel.WEBHOOK: [] if self.conn_id else ["conn_id"],
            NoticeChannel.NONE: [],
        }[self.channel]
        if missing:
            raise ValueError(f"notices channel {self.channel} needs {', '.join(missing)}")
        return self

    def outbox_file(self) -> Path:
        path = Path(self.outbox_path or "")
        return path if path.is_absolute() else REPO_ROOT / path

    def address_of(self, approver: str) -> str:
        return self.addresses.get(approver) or f"{approver}@{self.email_domain}"


class Customer(BaseModel):
    """One customer (tenant) of the platform: its connections and AWS organisation facts."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # also the evidence sub-folder and label suffix
    name: str
    jira_conn_id: str = "jira_default"
    aws_conn_id: str = "aws_default"
    aws_operations_conn_id: str = "aws_operations"
    jira_project: str = "OPS"
    aggregator_name: str = "org-aggregator"
    # The roles assumed in member accounts: reads (discovery) and step 7's alarm writes. A connection extra's
    # `member_role_name` wins; unset here and there: ITSMMemberRead / ITSMMemberOperations (deploy/iam/).
    member_role_name: str | None = None
    operations_member_role_name: str | None = None
    regions: list[str] = Field(default_factory=lambda: ["ap-southeast-2"])
    time_zone: str = "UTC"
    env_tag_key: str = "env"
    # Env tag values the customer's tooling (e.g. the instance scheduler) recognises; others are a tag gap.
    standard_env_values: list[str] = Field(default_factory=lambda: ["prod", "staging", "dev", "dr", "preprod", "sit"])
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)  # this customer's registers for PII scrubbing
    jira: JiraMapping = Field(default_factory=JiraMapping)  # this customer's Jira names (validated by itsm doctor)
    notices: GateNotices = Field(default_factory=GateNotices)  # how its approvers hear that a gate waits


class Runtime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence_root: str = f"file://{REPO_ROOT / 'evidence'}"
    # Never in the DAG folder: a path on a volume every Airflow component mounts, or `s3://[conn@]bucket/key`.
    manifest_path: str = str(REPO_ROOT / "state" / "itsm_manifest.json")
    # An S3 manifest's readers (DAG parses) re-read it when their copy is this old: a new ticket's DAGs
    # appear within about this plus the DAG processor's `min_file_process_interval`.
    manifest_refresh_seconds: float = Field(default=30, ge=0)
    sweep_schedule: str | None = "0 13 * * *"  # 02:00 in Auckland (NZDT), UTC cron; null: manual only
    sweep_batch_size: int = Field(default=20, ge=1, le=500)
    annotations_enabled: bool = False  # the nightly discovery comment on each ticket
    snapshot_max_age_hours: float = Field(default=24, gt=0)  # on-demand steps reuse a younger org snapshot
    gate_timeout_hours: float = Field(default=168, gt=0)  # how long a lifecycle waits for a human gate
    # How often a gate's deferred waits look (the triggerer's DB poll): a gate asks within about this
    # plus 2-3 s of the task it reviews finishing (BENCHMARKS.md, gate latency); each waiting gate of
    # each run in flight polls once per interval.
    gate_poke_seconds: float = Field(default=2, gt=0)
    manifest_grace_days: float = Field(default=7, ge=0)  # a closed ticket keeps its DAG pair this long
    # Which customer a ticket belongs to: a Jira field holding the customer id, else a label `<prefix><id>`;
    # a ticket with neither belongs to the first customer.
    customer_field: str | None = None  # e.g. customfield_10050
    customer_label_prefix: str = "customer:"
    evidence_per_customer: bool = False  # evidence under <root>/<customer id>/ (required with several customers)
    retention_days: dict[str, int] = Field(default_factory=dict)  # step or kind ("*" = any) -> days; audit never
    object_lock: ObjectLock | None = None  # S3 Object Lock on every evidence object written
    evidence_conn_id: str = "aws_evidence"  # the S3 connection for an s3:// evidence root (lock writes, prune)
    # The audit log's write-once head records (one per append), outside evidence_root: a log removed or cut
    # short with the evidence still shows against them. Production: an s3:// bucket/prefix under Object Lock
    # (object_lock and evidence_conn_id apply to it too).
    audit_anchor_root: str = f"file://{REPO_ROOT / 'audit-anchors'}"
    audit_conn_id: str = "itsm_audit"  # the Airflow connection whose password is the audit HMAC key (no default)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime: Runtime = Field(default_factory=Runtime)
    customers: list[Customer] = Field(default_factory=lambda: [Customer(id="default", name="default")])
    policy: Policy = Field(default_factory=Policy)

    @model_validator(mode="after")
    def _tenants(self) -> Settings:
        ids = [c.id for c in self.customers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"customers: duplicate customer ids {sorted(i for i in set(ids) if ids.count(i) > 1)}")
        if len(ids) > 1 and not self.runtime.evidence_per_customer:
            raise ValueError(
                "runtime.evidence_per_customer: must be true with several customers "
                "(each customer's evidence under <evidence_root>/<customer id>/)"
            )
        if "audit" in self.runtime.retention_days:
            raise ValueError("runtime.retention_days.audit: the audit log is never pruned")
        anchors, evidence = self.runtime.audit_anchor_root, self.runtime.evidence_root
        if roots_overlap(anchors, evidence):
            raise ValueError(
                f"runtime.audit_anchor_root: {anchors} overlaps runtime.evidence_root {evidence}: the anchors "
                "must live apart from the log they anchor"
            )
        if _is_s3(evidence) and not _is_s3(anchors):
            raise ValueError(
                "runtime.audit_anchor_root: the evidence root is on S3, so the anchors must be too "
                "(an s3:// bucket/prefix with Object Lock that every worker reaches)"
            )
        return self

    def _per_customer(self, root: str, customer: Customer | None) -> str:
        root = root.rstrip("/")
        if self.runtime.evidence_per_customer:
            return f"{root}/{(customer or self.customer()).id}"
        return root

    def evidence_root(self, customer: Customer | None = None) -> str:
        """The customer's evidence root: `<root>/<customer id>` when evidence is kept per customer."""
        return self._per_customer(self.runtime.evidence_root, customer)

    def anchor_root(self, customer: Customer | None = None) -> str:
        """The customer's audit anchor root, per customer like the evidence root."""
        return self._per_customer(self.runtime.audit_anchor_root, customer)

    def customer(self, customer_id: str | None = None) -> Customer:
        if customer_id is None:
            return self.customers[0]
        for customer in self.customers:
            if customer.id == customer_id:
                return customer
        raise ConfigError(f"no customer {customer_id!r} in the configuration")


def _is_s3(url: str) -> bool:
    return url.startswith(("s3://", "s3a://"))


def _location(url: str) -> tuple[str, str]:
    """(scheme, normalised path) of a root URL: no connection id (`conn@`), no trailing slash, and a
    local path with its symlinks resolved."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "file", url
    if scheme in ("file", "local"):
        return "file", os.path.realpath(rest)
    netloc, _, path = rest.partition("/")
    return ("s3" if scheme == "s3a" else scheme), f"{netloc.rpartition('@')[2]}/{path}".rstrip("/")


def roots_overlap(a: str, b: str) -> bool:
    """True when one root is the other or inside it (`s3://b/x` and `s3://b/x/y`, not `s3://b/xy`)."""
    (scheme_a, path_a), (scheme_b, path_b) = _location(a), _location(b)
    if scheme_a != scheme_b:
        return False
    return (
        path_a == path_b or path_a.startswith(path_b.rstrip("/") + "/") or path_b.startswith(path_a.rstrip("/") + "/")
    )


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the file; a missing default file means all defaults."""
    chosen = Path(path or os.environ.get("ITSM_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.exists():
        if path or os.environ.get("ITSM_CONFIG"):
            raise ConfigError(f"{chosen}: configuration file not found")
        return Settings()
    try:
        raw = yaml.safe_load(chosen.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{chosen}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{chosen}: (top level): expected a mapping, got {type(raw).__name__}")
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(chosen, error)) from error


@lru_cache(maxsize=4)
def settings(path: str | None = None) -> Settings:
    """Process-wide cached settings (tasks and CLI read the file once)."""
    return load_settings(path)
