"""90 days of RESOLVED incidents behind the open queue: what the pattern bridge and PIRs read.

Dates are relative to a fixed `now` (default: now, UTC, to the minute); the newest incident is
22 days old, so every history key is lower than every open demo ticket's and keys rise with
`created` across the whole board. The composition (asserted by tests):

- service:compute + rca:config-drift: 4 incidents in 90 days (days 80, 55, 33, 22) -> bridge fires;
  linked to the open problem OPS-160 ("Problem/Incident", the problem outward)
- service:network + rca:3rd-party: 3 in 90 days (days 70, 45, 25) -> bridge fires; linked to OPS-169
- service:cloudops + rca:infra-failure: 3 in total at days 91, 89 and 30: only 2 inside a
  90-day window (the edge case: no story unless the window is miscounted)
- one P0 (org-wide SSO outage, day 29, status Pending PIR) -> a story at once
- one incident whose MTTR exceeds 3x its SLA (a P2 at 15 h against 4 h) -> SRE capacity story;
  every other incident resolves within 3x its SLA (P0 15 min, P1 1 h default, P2 4 h, P3 8 h, P4 5 d)
- P1s at days 50 (PIR done: Resolved) and 24 (Pending PIR); the rest non-recurring pairs

Labels carry the six prefixes exactly as the seed's taxonomy (storage and database incidents
are `service:cloudops`, cost ones `service:finops`). Each incident has a changelog of its status
transitions (Open -> In Progress -> Resolved or Pending PIR) and a resolution comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from include.itsm.core import adf
from include.itsm.devstack.demo.tickets import (
    CLOUDWATCH,
    COMPUTE_DRIFT_PROBLEM_KEY,
    DNS_PROBLEM_KEY,
    OPS_ENGINEER,
    PAGERDUTY,
    DemoComment,
    DemoLink,
    DemoTicket,
    _doc,
    _email,
    _gt,
    _Resolver,
    _status_changes,
    _ticket,
)

FIRST_KEY_NUMBER = 120  # history keys: OPS-120, OPS-122, ... (gaps: tickets of other queues)
SLA_HOURS = {"P0": 0.25, "P1": 1.0, "P2": 4.0, "P3": 8.0, "P4": 120.0}  # the seed's SLAs; P1 = default 1 h
PIR_PRIORITIES = ("P0", "P1")


class _H(NamedTuple):
    days_ago: float
    mttr_hours: float
    priority: str
    service_label: str  # service:<...> as labelled (cloudops/finops for storage, database, cost)
    rca: str
    env: str
    blast: str
    tier: str
    ke: str  # ke:<...> value
    status: str  # Resolved | Pending PIR | Closed
    summary: str
    text: str
    truth_service: str  # service in the triage vocabulary
    impact: str
    urgency: str
    accounts: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    reporter: str = ""
    problem: str | None = None  # open problem this incident is linked to


_HISTORY: tuple[_H, ...] = (
    _H(
        91,
        5,
        "P3",
        "cloudops",
        "infra-failure",
        "staging",
        "single-service",
        "best-effort",
        "none",
        "Closed",
        "EBS volume impaired on staging-data ETL node",
        "EC2 scheduled event: volume vol-0aa11bb22cc33dd44 attached to <<i:staging-data-02>> in staging-data "
        "(<<a:staging-data>>) is impaired (io-performance: degraded). Staging ETL stalled.",
        "storage",
        "low",
        "high",
        ("staging-data",),
        ("vol-0aa11bb22cc33dd44", "<<i:staging-data-02>>"),
        CLOUDWATCH,
    ),
    _H(
        89,
        3,
        "P2",
        "cloudops",
        "infra-failure",
        "prod",
        "single-service",
        "important",
        "none",
        "Resolved",
        "prod-payments ledger DB failover - underlying host failure",
        "RDS event RDS-EVENT-0034 / 0049: Multi-AZ failover of prod-payments-ledger-mysql in prod-payments "
        "(<<a:prod-payments>>) after a host hardware failure. Writes failed for 3 minutes; replication catch-up slow.",
        "database",
        "high",
        "low",
        ("prod-payments",),
        ("prod-payments-ledger-mysql",),
        PAGERDUTY,
    ),
    _H(
        84,
        6,
        "P3",
        "compute",
        "code-defect",
        "dev",
        "single-service",
        "best-effort",
        "none",
        "Resolved",
        "Memory leak in dev-apps worker kills instance",
        "OOM killer on <<i:dev-apps-02>> (dev-apps <<a:dev-apps>>) every ~4h since the 3.8 worker release.",
        "compute",
        "low",
        "high",
        ("dev-apps",),
        ("<<i:dev-apps-02>>",),
        _email("Jess McKenzie"),
    ),
    _H(
        80,
        7,
        "P3",
        "compute",
        "config-drift",
        "dev",
        "single-account",
        "best-effort",
        "known-error-0007",
        "Resolved",
        "dev-core instances launched without SSM agent config",
        "Three new dev-core instances (<<i:dev-core-06>>, <<i:dev-core-07>>) are not managed by SSM - launch template "
        "still points at the pre-hardening AMI. Account <<a:dev-core>>.",
        "compute",
        "low",
        "high",
        ("dev-core",),
        ("<<i:dev-core-06>>", "<<i:dev-core-07>>"),
        _email("Aroha Ngata"),
        COMPUTE_DRIFT_PROBLEM_KEY,
    ),
    _H(
        74,
        48,
        "P4",
        "identity",
        "human-error",
        "dev",
        "single-account",
        "best-effort",
        "none",
        "Resolved",
        "lambda-ops-role deleted in sandbox",
        "Someone deleted lambda-ops-role in sandbox (<<a:sandbox>>) while cleaning up; the nightly cleanup lambda fails.",
        "identity",
        "low",
        "low",
        ("sandbox",),
        ("lambda-ops-role",),
        _email("Hemi Walker"),
    ),
    _H(
        70,
        3,
        "P2",
        "network",
        "3rd-party",
        "prod",
        "multi-account",
        "important",
        "known-error-0011",
        "Resolved",
        "DNS resolution failures for partner APIs",
        "Prod workloads in prod-core (<<a:prod-core>>) and prod-payments (<<a:prod-payments>>) cannot resolve partner API names; the upstream DNS provider "
        "reports a degraded resolver cluster. Outbound endpoint rslvr-out-5c1e2f3a4b5d6e7f8 in network-hub.",
        "network",
        "high",
        "low",
        ("prod-core", "prod-payments"),
        ("rslvr-out-5c1e2f3a4b5d6e7f8",),
        PAGERDUTY,
        DNS_PROBLEM_KEY,
    ),
    _H(
        63,
        4,
        "P3",
        "compute",
        "infra-failure",
        "prod",
        "single-service",
        "best-effort",
        "none",
        "Resolved",
        "Instance retirement: prod-core worker on degraded hardware",
        "AWS scheduled retirement for <<i:prod-core-07>> (prod-core <<a:prod-core>>) brought forward; instance "
        "unreachable. Stopped/started onto new hardware.",
        "compute",
        "low",
        "high",
        ("prod-core",),
        ("<<i:prod-core-07>>",),
        CLOUDWATCH,
    ),
    _H(
        55,
        5,
        "P2",
        "compute",
        "config-drift",
        "prod",
        "single-account",
        "important",
        "known-error-0007",
        "Resolved",
        "prod-core ASG launching instances without CloudWatch agent config",
        "After the ASG refresh, new prod-core instances (<<i:prod-core-08>>) have no CloudWatch agent config; "
        "alarms went INSUFFICIENT_DATA. Account <<a:prod-core>>.",
        "compute",
        "high",
        "low",
        ("prod-core",),
        ("<<i:prod-core-08>>",),
        CLOUDWATCH,
        COMPUTE_DRIFT_PROBLEM_KEY,
    ),
    _H(
        50,
        1.5,
        "P1",
        "network",
        "config-drift",
        "prod",
        "single-account",
        "critical",
        "none",
        "Resolved",
        "NACL change dropped all inbound traffic to prod-payments",
        "A NACL (acl-0f0e0d0c0b0a09080) edited by hand in prod-payments (<<a:prod-payments>>) no longer matched the "
        "IaC baseline; inbound 443 denied. Checkout down for customers.",
        "network",
        "high",
        "high",
        ("prod-payments",),
        ("acl-0f0e0d0c0b0a09080",),
        PAGERDUTY,
    ),
    _H(
        45,
        6,
        "P3",
        "network",
        "3rd-party",
        "prod",
        "multi-account",
        "best-effort",
        "known-error-0011",
        "Resolved",
        "On-prem names not resolving from prod-core - DNS forwarding timeouts",
        "Lookups of *.corp.kiwifreight.co.nz from prod-core (<<a:prod-core>>) time out; forwarding rule "
        "rslvr-rr-2b7d9e1f0a3c4d5e6 in network-hub (<<a:network-hub>>) sends them through the DNS provider, "
        "whose status page shows a regional incident.",
        "network",
        "low",
        "high",
        ("prod-core", "network-hub"),
        ("rslvr-rr-2b7d9e1f0a3c4d5e6",),
        _email("Sione Tuilagi"),
        DNS_PROBLEM_KEY,
    ),
    _H(
        40,
        72,
        "P4",
        "finops",
        "config-drift",
        "dev",
        "single-account",
        "best-effort",
        "none",
        "Resolved",
        "Cost anomaly: untagged GPU instances in analytics-dev",
        "Cost Anomaly Detection: +NZD 3,400 in analytics-dev (<<a:analytics-dev>>) - g5.xlarge instances launched "
        "outside the tagging policy and never stopped.",
        "compute",
        "low",
        "low",
        ("analytics-dev",),
        (),
        _email("Grace Liu"),
    ),
    _H(
        36,
        15,
        "P2",
        "cloudops",
        "human-error",
        "prod",
        "single-service",
        "important",
        "none",
        "Resolved",
        "EBS snapshots of prod-core deleted by cleanup script",
        "A cleanup script run with the wrong filter deleted 214 EBS snapshots in prod-core (<<a:prod-core>>), "
        "including the weekly backups of vol-0bb22cc33dd44ee55. Restores took all night.",
        "storage",
        "high",
        "low",
        ("prod-core",),
        ("vol-0bb22cc33dd44ee55",),
        _email("Tom O'Connell"),
    ),
    _H(
        33,
        10,
        "P3",
        "compute",
        "config-drift",
        "staging",
        "single-account",
        "best-effort",
        "known-error-0007",
        "Resolved",
        "staging-core security agent disabled after AMI rebuild",
        "Security agent not running on <<i:staging-core-03>> and <<i:staging-core-04>> after the AMI rebuild. "
        "Account <<a:staging-core>>.",
        "compute",
        "low",
        "high",
        ("staging-core",),
        ("<<i:staging-core-03>>", "<<i:staging-core-04>>"),
        _email("Mere Parata"),
        COMPUTE_DRIFT_PROBLEM_KEY,
    ),
    _H(
        30,
        4,
        "P3",
        "cloudops",
        "infra-failure",
        "dr",
        "single-service",
        "best-effort",
        "none",
        "Resolved",
        "S3 replication to DR bucket stalled",
        "Replication to kiwifreight-dr-core-backups in dr-core (<<a:dr-core>>) stalled; S3 service event in us-west-2.",
        "storage",
        "low",
        "high",
        ("dr-core",),
        ("kiwifreight-dr-core-backups",),
        CLOUDWATCH,
    ),
    _H(
        29,
        40 / 60,
        "P0",
        "identity",
        "3rd-party",
        "prod",
        "org-wide",
        "critical",
        "none",
        "Pending PIR",
        "Nobody can sign in to any AWS account - SSO outage",
        "IAM Identity Center sign-in fails for every user in every account (external IdP certificate rotated by the "
        "provider without notice). Break-glass used for prod-core (<<a:prod-core>>). Platform-wide.",
        "identity",
        "high",
        "high",
        ("prod-core",),
        (),
        PAGERDUTY,
    ),
    _H(
        25,
        3.5,
        "P2",
        "network",
        "3rd-party",
        "prod",
        "multi-account",
        "important",
        "known-error-0011",
        "Resolved",
        "DNS provider outage - warehouses cannot reach prod APIs",
        "The upstream DNS provider had a 3-hour outage; resolver endpoint rslvr-out-5c1e2f3a4b5d6e7f8 in network-hub "
        "(<<a:network-hub>>) returned SERVFAIL for partner and on-prem names. Warehouse scanners could not reach prod.",
        "network",
        "high",
        "low",
        ("network-hub",),
        ("rslvr-out-5c1e2f3a4b5d6e7f8",),
        PAGERDUTY,
        DNS_PROBLEM_KEY,
    ),
    _H(
        24,
        2,
        "P1",
        "compute",
        "code-defect",
        "prod",
        "single-account",
        "critical",
        "none",
        "Pending PIR",
        "Bad release crashed prod-core API fleet",
        "Release 26.10.3 crash-looped the API service on <<i:prod-core-02>>, <<i:prod-core-03>> and "
        "<<i:prod-core-04>> (prod-core <<a:prod-core>>); rolled back.",
        "compute",
        "high",
        "high",
        ("prod-core",),
        ("<<i:prod-core-02>>", "<<i:prod-core-03>>", "<<i:prod-core-04>>"),
        PAGERDUTY,
    ),
    _H(
        22,
        6,
        "P2",
        "compute",
        "config-drift",
        "dev",
        "multi-account",
        "important",
        "known-error-0007",
        "Resolved",
        "dev-apps instances drifted from golden AMI - patching failing",
        "SSM patching fails on <<i:dev-apps-04>> and <<i:dev-apps-05>> (dev-apps <<a:dev-apps>>): instances were "
        "rebuilt from an old AMI. Blocks the monthly patch compliance report across dev accounts.",
        "compute",
        "high",
        "low",
        ("dev-apps",),
        ("<<i:dev-apps-04>>", "<<i:dev-apps-05>>"),
        _email("Jess McKenzie"),
        COMPUTE_DRIFT_PROBLEM_KEY,
    ),
)


def history_incidents(
    now: datetime | None = None, instance_ids: Mapping[str, str] | None = None
) -> tuple[DemoTicket, ...]:
    """The resolved incidents of the last 91 days, oldest first (keys rise with `created`)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    r = _Resolver(instance_ids)
    out = []
    for n, h in enumerate(_HISTORY):
        key = f"OPS-{FIRST_KEY_NUMBER + 2 * n}"
        created = now - timedelta(days=h.days_ago)
        resolved = created + timedelta(hours=h.mttr_hours)
        final = h.status
        start = min(0.25, h.mttr_hours / 4)
        steps = [(start, "In Progress"), (h.mttr_hours, "Pending PIR" if h.priority in PIR_PRIORITIES else "Resolved")]
        if final == "Closed":
            steps.append((h.mttr_hours + 72, "Closed"))
        elif h.priority in PIR_PRIORITIES and final == "Resolved":
            steps.append((h.mttr_hours + 24 * 6, "Resolved"))  # PIR approved a week later
        changelog = list(_status_changes(created, OPS_ENGINEER, *steps))
        labels = (
            f"blast:{h.blast}",
            f"rca:{h.rca}",
            f"ke:{h.ke}",
            f"service:{h.service_label}",
            f"env:{h.env}",
            f"tier:{h.tier}",
        )
        comments = (
            DemoComment(
                OPS_ENGINEER,
                adf.from_text(f"Resolved. Root cause category: {h.rca}. MTTR {h.mttr_hours:g} h."),
                resolved,
            ),
        )
        out.append(
            _ticket(
                r,
                key=key,
                created=created,
                issue_type="Incident",
                status=final,
                reporter=h.reporter or OPS_ENGINEER,
                priority=h.priority,
                summary=h.summary,
                labels=labels,
                resolved=resolved,
                description_adf=_doc(h.text),
                comments=comments,
                changelog=tuple(changelog),
                links=(DemoLink("Problem/Incident", h.problem, key),) if h.problem else (),
                truth_accounts=h.accounts,
                truth_resources=h.resources,
                truth=_gt(
                    "incident", h.truth_service, h.env, h.priority, h.impact, h.urgency, rca=h.rca, blast=h.blast
                ),
                style="history",
            )
        )
    return tuple(out)


def sla_hours(priority: str) -> float:
    return SLA_HOURS[priority]
