"""Step 8, govern: what the change really did, with the evidence an auditor needs.

The cost delta pro-rates the estimate to the hours observed and to the instances CloudTrail shows
really stopped, and reports the remainder it cannot explain instead of hiding it. The bundle
hash is SHA-256 over the sorted artifact hashes, and the evidence index maps each compliance
control (from policy) to the artifacts that serve it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from include.itsm.core.artifact import Artifact, Provenance
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.core.inventory import TrailEvent
from include.itsm.core.vocab import Compliance
from include.itsm.steps.decide.domain import CostEstimate

PERSONAS = ("CFO", "CTO", "CSO", "CloudOps")


class CostDelta(BaseModel):
    estimated_monthly_usd: float
    estimated_instances: int
    stopped_instances: int
    failed_stops: dict[str, str]  # instance id -> error
    observed_hours: float
    prorated_estimate_usd: float
    actual_usd: float
    unexplained_usd: float
    arithmetic: list[str]
    provenance: list[Provenance]


def cost_delta(
    estimate: CostEstimate,
    actual_usd: float,
    period_start: datetime,
    period_end: datetime,
    stop_events: Sequence[TrailEvent],
    policy: ChangePolicy,
    cost_explorer: Provenance,
    cloudtrail: Provenance,
) -> CostDelta:
    """Estimate x observed hours / month hours x instances stopped / instances estimated, vs actual."""
    stops = [e for e in stop_events if e.event_name == "StopInstances" and e.resource_id]
    stopped = {e.resource_id for e in stops if not e.error_code}
    failed = {
        e.resource_id: f"{e.error_code}: {e.error_message or ''}".strip()
        for e in stops
        if e.error_code and e.resource_id not in stopped
    }
    hours = (period_end - period_start).total_seconds() / 3600
    month = policy.costs.hours_per_month
    by_time = estimate.monthly_saving_usd * hours / month
    prorated = by_time * len(stopped) / estimate.eligible_instances if estimate.eligible_instances else 0.0
    unexplained = prorated - actual_usd
    return CostDelta(
        estimated_monthly_usd=estimate.monthly_saving_usd,
        estimated_instances=estimate.eligible_instances,
        stopped_instances=len(stopped),
        failed_stops=dict(sorted(failed.items())),
        observed_hours=hours,
        prorated_estimate_usd=round(prorated, 2),
        actual_usd=actual_usd,
        unexplained_usd=round(unexplained, 2),
        provenance=[*estimate.provenance, cost_explorer, cloudtrail],
        arithmetic=[
            f"estimate ${estimate.monthly_saving_usd:,.2f}/month x {hours:g} h / {month:g} h = ${by_time:,.2f}",
            f"x {len(stopped)} of {estimate.eligible_instances} instances stopped (CloudTrail StopInstances; "
            f"{len(failed)} failed) = ${prorated:,.2f}",
            f"actual (Cost Explorer) ${actual_usd:,.2f}; unexplained ${unexplained:,.2f} "
            f"({unexplained / prorated:.1%} of the pro-rated estimate)"
            if prorated
            else "no instance stopped",
        ],
    )


class RuleCompliance(BaseModel):
    rule: str
    before: Compliance
    after: Compliance


class SecurityDelta(BaseModel):
    changed_rules: list[RuleCompliance]
    iam_changes: list[str]


def security_delta(rules: Sequence[RuleCompliance], events: Sequence[TrailEvent]) -> SecurityDelta:
    return SecurityDelta(
        changed_rules=[r for r in rules if r.before != r.after],
        iam_changes=[
            f"{e.event_time.isoformat()} {e.event_name} by {e.user or 'unknown'} ({e.outcome})"
            for e in events
            if e.event_source == "iam.amazonaws.com"
        ],
    )


def compliance_trail(events: Sequence[TrailEvent], start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """CloudTrail events inside the window: counts by event name and outcome."""
    counts = Counter((e.event_name, e.outcome) for e in events if start <= e.event_time < end)
    trail: dict[str, dict[str, int]] = {}
    for (name, outcome), n in sorted(counts.items()):
        trail.setdefault(name, {})[outcome] = n
    return trail


class MetricDelta(BaseModel):
    metric: str
    before: float
    after: float
    unit: str = ""

    @property
    def change(self) -> float:
        return self.after - self.before


def bundle_hash(artifact_hashes: Sequence[str]) -> str:
    """SHA-256 over the sorted artifact hashes, one per line: order-independent, any change shows."""
    return hashlib.sha256("\n".join(sorted(artifact_hashes)).encode()).hexdigest()


def evidence_index(artifacts: Mapping[str, str], policy: ChangePolicy) -> dict[str, list[str]]:
    """Compliance control id -> the artifacts (step -> artifact path) that evidence it."""
    index: dict[str, list[str]] = {}
    for step, path in artifacts.items():
        for control in policy.compliance[step].all():
            index.setdefault(control, []).append(path)
    return dict(sorted(index.items()))


class GovernanceRecord(Artifact):
    step: str = "govern"
    cost: CostDelta
    security: SecurityDelta
    trail: dict[str, dict[str, int]]
    performance: list[MetricDelta] = Field(default_factory=list)
    evidence_index: dict[str, list[str]]
    bundle_sha256: str


def persona_summaries(record: GovernanceRecord) -> dict[str, str]:
    c, s = record.cost, record.security
    failed = "; ".join(f"{i} ({e})" for i, e in c.failed_stops.items()) or "none"
    calls = sum(n for outcomes in record.trail.values() for n in outcomes.values())
    perf = (
        "; ".join(f"{m.metric} {m.before:g} -> {m.after:g} {m.unit}".strip() for m in record.performance) or "no metric"
    )
    return {
        "CFO": f"Actual saving ${c.actual_usd:,.2f} over {c.observed_hours:g} h vs ${c.prorated_estimate_usd:,.2f} "
        f"pro-rated from ${c.estimated_monthly_usd:,.2f}/month; ${c.unexplained_usd:,.2f} unexplained.",
        "CTO": f"{c.stopped_instances} of {c.estimated_instances} instances stopped; failures: {failed}. "
        f"Performance: {perf}.",
        "CSO": f"{len(s.changed_rules)} Config rule(s) changed compliance, {len(s.iam_changes)} IAM change(s); "
        f"{calls} CloudTrail events in the window; evidence bundle sha256 {record.bundle_sha256[:12]}.",
        "CloudOps": f"Follow up the {len(c.failed_stops)} failed stops ({failed}) and the unexplained "
        f"${c.unexplained_usd:,.2f} before the next review.",
    }


def stakeholder_email(record: GovernanceRecord, persona: str, recipient: str) -> str:
    """A plain-text update for one persona: subject line, greeting, the summary, the evidence."""
    if persona not in PERSONAS:
        raise ValueError(f"persona must be one of {PERSONAS}")
    return (
        f"Subject: {record.key} governance update ({persona})\n\n"
        f"Hello {recipient},\n\n{persona_summaries(record)[persona]}\n\n"
        f"Cost arithmetic:\n" + "\n".join(f"  {line}" for line in record.cost.arithmetic) + "\n\n"
        f"Evidence: {len(record.evidence_index)} compliance controls indexed; bundle sha256 {record.bundle_sha256}.\n"
    )
