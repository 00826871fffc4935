"""Step 5, decide: blast radius, maintenance window, cost, rollback plan and the 3-party go/no-go.

The go/no-go passes only when Business, Security and Engineering all approve, as three different
people, none of them the change's drafter, and Engineering attaches rollback-test evidence. The
window is proposed in the customer's time zone (wall-clock, so DST-safe), after the change
type's notice, outside freezes and away from other changes on the same accounts or resources.
The separation-of-duties helpers here are reused by the later gates (change, CAB).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from include.itsm.core.artifact import Artifact, Provenance
from include.itsm.core.change_policy import GO_NO_GO_PARTIES, WEEKDAYS, ChangePolicy
from include.itsm.core.inventory import Resource

# Template text a human never replaced: TBD, TODO, N/A, {placeholder}, [placeholder]. Brackets
# count only around words, so commands keep their JSON, ${VARS}, `[]` and [text](links).
PLACEHOLDER = re.compile(
    r"\bTBD\b|\bTODO\b|^\s*(?i:n/?a)\s*$|(?<!\$)\{[A-Za-z][^{}\"'=]*\}|\[[A-Za-z][^\[\]\"'=]*\](?!\()"
)


def placeholder_in(value: str) -> str | None:
    """The placeholder `value` contains (or 'empty'), None when it is real content."""
    if not value or not value.strip():
        return "empty"
    match = PLACEHOLDER.search(value)
    return match.group(0).strip() if match else None


class BlastRadius(BaseModel):
    instances: int
    accounts: int
    account_ids: list[str]
    resource_types: list[str]
    services: list[str]  # affected service types / business services, as intake and discovery named them
    users: int | None = None  # only when a source knows it
    provenance: Provenance


def blast_radius(
    resources: Sequence[Resource], provenance: Provenance, *, services: Sequence[str] = (), users: int | None = None
) -> BlastRadius:
    accounts = sorted({r.account_id for r in resources})
    return BlastRadius(
        instances=len(resources),
        accounts=len(accounts),
        account_ids=accounts,
        users=users,
        provenance=provenance,
        resource_types=sorted({r.resource_type for r in resources}),
        services=sorted(set(services)),
    )


def eligible_instances(
    resources: Sequence[Resource], account_ids: Sequence[str], always_on: Sequence[str] = ()
) -> list[Resource]:
    """EC2 instances in the phase's accounts that may be stopped (not on the always-on list)."""
    return [
        r
        for r in resources
        if r.resource_type == "AWS::EC2::Instance"
        and r.account_id in account_ids
        and r.state not in ("terminated", "shutting-down")
        and r.resource_id not in always_on
    ]


class ScheduledChange(BaseModel):
    """Another change already booked: its window must not overlap ours on shared scope."""

    key: str
    start: datetime
    end: datetime
    account_ids: set[str] = Field(default_factory=set)
    resource_ids: set[str] = Field(default_factory=set)


class SkippedSlot(BaseModel):
    start: datetime
    reason: str


class MaintenanceWindow(BaseModel):
    start: datetime  # aware, in the customer's time zone
    end: datetime
    time_zone: str
    change_type: str
    batch_percent: int
    notice: timedelta  # from the request to the window start
    skipped: list[SkippedSlot] = Field(default_factory=list)
    approved_by: str | None = None  # the window gate's responder (expedited windows need one)

    def local_label(self) -> str:
        return (
            f"{self.start:%A %Y-%m-%d %H:%M}-{self.end:%H:%M} {self.start.tzname()} "
            f"({self.time_zone}), {self.batch_percent} % of active instances per batch"
        )


def _overlaps(start: datetime, end: datetime, other_start: datetime, other_end: datetime) -> bool:
    return start < other_end and other_start < end


def _blocker(
    start: datetime,
    end: datetime,
    policy: ChangePolicy,
    scheduled: Sequence[ScheduledChange],
    account_ids: set[str],
    resource_ids: set[str],
) -> str | None:
    for freeze in policy.freeze:
        if _overlaps(start, end, freeze.start, freeze.end):
            return f"change freeze: {freeze.reason}"
    for other in scheduled:
        shared = (other.account_ids & account_ids) | (other.resource_ids & resource_ids)
        if shared and _overlaps(start, end, other.start, other.end):
            return f"conflicts with {other.key} on {', '.join(sorted(shared))}"
    return None


def propose_window(
    requested_at: datetime,
    change_type: str,
    policy: ChangePolicy,
    *,
    account_ids: Sequence[str],
    resource_ids: Sequence[str] = (),
    scheduled: Sequence[ScheduledChange] = (),
    expedited_start: datetime | None = None,
) -> MaintenanceWindow:
    """The first free slot after the change type's notice.

    Normal/standard: the preferred weekday and local time, built from the local wall clock each
    week so 22:00 stays 22:00 across DST. Emergency: the HITL-requested expedited start (or now).
    Raises ValueError when no slot is free within the search horizon.
    """
    pref, rule = policy.window, policy.cab.for_type(change_type)
    zone = ZoneInfo(pref.time_zone)
    earliest = requested_at + rule.notice
    accounts, resources = set(account_ids), set(resource_ids)
    if rule.expedited:
        candidates = [(expedited_start or requested_at).astimezone(zone)]
    else:
        local = earliest.astimezone(zone)
        first = local.date() + timedelta(days=(WEEKDAYS.index(pref.weekday) - local.weekday()) % 7)
        candidates = [
            datetime.combine(first + timedelta(weeks=w), pref.start, tzinfo=zone) for w in range(pref.search_weeks + 1)
        ]
    skipped = []
    for start in candidates:
        if start < earliest:
            continue
        end = (start.astimezone(ZoneInfo("UTC")) + pref.duration).astimezone(zone)
        reason = _blocker(start, end, policy, scheduled, accounts, resources)
        if reason is None:
            return MaintenanceWindow(
                start=start,
                end=end,
                time_zone=pref.time_zone,
                change_type=change_type,
                batch_percent=pref.batch_percent,
                notice=start - requested_at,
                skipped=skipped,
            )
        skipped.append(SkippedSlot(start=start, reason=reason))
    raise ValueError(
        f"no free {change_type} window within {pref.search_weeks} weeks of {earliest.isoformat()}: "
        + "; ".join(f"{s.start.isoformat()} {s.reason}" for s in skipped)
    )


class CostEstimate(BaseModel):
    eligible_instances: int
    monthly_saving_usd: float
    monitoring_monthly_usd: float
    net_monthly_usd: float
    formula: list[str]
    provenance: list[Provenance]


def estimate_cost(eligible: int, alarms: int, policy: ChangePolicy, inventory: Provenance) -> CostEstimate:
    """Saving = eligible instances x instance-month; monitoring = the alarms step 7 will create (its plan,
    not an assumed count), plus the configured log ingestion and dashboards."""
    c, m = policy.costs, policy.costs.monitoring
    saving = eligible * c.instance_month_usd
    monitoring = round(
        alarms * c.alarm_month_usd
        + m.log_ingestion_gb * c.log_ingestion_usd_per_gb
        + m.dashboards * c.dashboard_month_usd,
        2,
    )
    assumptions = Provenance(source="policy:change.costs", detail=c.model_dump())
    return CostEstimate(
        eligible_instances=eligible,
        monthly_saving_usd=saving,
        monitoring_monthly_usd=monitoring,
        net_monthly_usd=round(saving - monitoring, 2),
        provenance=[inventory, assumptions],
        formula=[
            f"saving = {eligible} instances x ${c.instance_month_usd:,.2f}/month = ${saving:,.2f}/month",
            f"monitoring = {alarms} alarms (the operate step's plan) x ${c.alarm_month_usd:.2f} + "
            f"{m.log_ingestion_gb:g} GB x ${c.log_ingestion_usd_per_gb:.2f} + {m.dashboards} dashboards x "
            f"${c.dashboard_month_usd:.2f} = ${monitoring:,.2f}/month",
            f"net = ${saving:,.2f} - ${monitoring:,.2f} = ${saving - monitoring:,.2f}/month",
        ],
    )


class RollbackStep(BaseModel):
    action: str
    command: str
    minutes: int = Field(gt=0)


class RollbackPlan(BaseModel):
    steps: list[RollbackStep] = Field(default_factory=list)
    tested_in: str = ""  # where the plan was rehearsed, e.g. "sandbox"

    @property
    def minutes(self) -> int:
        return sum(s.minutes for s in self.steps)


def rollback_problems(plan: RollbackPlan | None, change_type: str, policy: ChangePolicy) -> list[str]:
    """A rollback plan exists, has the change type's minimum steps, and every step is real."""
    if plan is None or not plan.steps:
        return ["rollback plan missing"]
    problems = []
    minimum = policy.cab.for_type(change_type).min_rollback_steps
    if len(plan.steps) < minimum:
        problems.append(f"rollback plan has {len(plan.steps)} steps; {change_type} changes need at least {minimum}")
    for number, step in enumerate(plan.steps, 1):
        for field in ("action", "command"):
            if found := placeholder_in(getattr(step, field)):
                problems.append(f"rollback step {number} {field}: {found}")
    if found := placeholder_in(plan.tested_in):
        problems.append(f"rollback plan not tested in non-prod ({found})")
    return problems


# The instance scheduler's tag: accounts whose instances carry it are already scheduled (AS-IS).
SCHEDULER_TAG_KEY = "Schedule"


def _scheduled(resources: Sequence[Resource]) -> bool:
    return any(SCHEDULER_TAG_KEY in r.tags for r in resources)


def choose_phase(
    named_accounts: Sequence[str], resources: Sequence[Resource], standard_env: set[str], env_key: str
) -> tuple[list[str], list[str], str]:
    """(phase 1 accounts, candidate accounts, why): the first account the ticket names that is not yet
    scheduled and whose instances the env-tag rules can see; the customer confirms it (decision gate Q1)."""
    by_account: dict[str, list[Resource]] = {}
    for r in resources:
        by_account.setdefault(r.account_id, []).append(r)
    named = [a for a in dict.fromkeys(named_accounts) if a in by_account]
    candidates = named or sorted(by_account)
    if len(candidates) <= 1:
        return candidates, candidates, "the ticket's whole scope is one account"
    for account in candidates:
        rs = by_account[account]
        if not _scheduled(rs) and all(r.tags.get(env_key) in standard_env for r in rs):
            return (
                [account],
                candidates,
                (
                    f"first account named in the ticket that is not yet scheduled and whose "
                    f"instances all carry a standard `{env_key}` tag; the customer confirms "
                    "the pilot at the decision gate (question 1)"
                ),
            )
    return candidates, candidates, "no single pilot account qualifies: every candidate is in Phase 1"


def rollback_plan(resources: Sequence[Resource], service: str | None) -> RollbackPlan:
    """The revert, with the exact commands for the Phase 1 resources; untested until Engineering attests."""
    steps = []
    for account, region in sorted({(r.account_id, r.region) for r in resources}):
        ids = " ".join(sorted(r.resource_id for r in resources if (r.account_id, r.region) == (account, region)))
        where = f"--profile {account} --region {region}"
        if service == "compute":
            steps += [
                RollbackStep(
                    action=f"Take the instances of {account} {region} out of the schedule (remove the "
                    f"{SCHEDULER_TAG_KEY} tag)",
                    command=f"aws ec2 delete-tags {where} --resources {ids} --tags Key={SCHEDULER_TAG_KEY}",
                    minutes=5,
                ),
                RollbackStep(
                    action="Force-start every instance the scheduler stopped",
                    command=f"aws ec2 start-instances {where} --instance-ids {ids}",
                    minutes=10,
                ),
                RollbackStep(
                    action="Verify every instance is running and passes status checks",
                    command=f"aws ec2 describe-instance-status {where} --include-all-instances --instance-ids {ids}",
                    minutes=5,
                ),
            ]
        else:
            for r in sorted(
                (r for r in resources if (r.account_id, r.region) == (account, region)), key=lambda r: r.resource_id
            ):
                history = (
                    f"aws configservice get-resource-config-history {where} --resource-type {r.resource_type} "
                    f"--resource-id {r.resource_id}"
                )
                steps += [
                    RollbackStep(
                        action=f"Read the pre-change configuration of {r.resource_id} from Config history",
                        command=f"{history} --limit 2",
                        minutes=5,
                    ),
                    RollbackStep(
                        action=f"Re-apply the recorded configuration of {r.resource_id} (the inverse of "
                        "the implementation step)",
                        command=f"{history} --limit 2 --output json",
                        minutes=15,
                    ),
                    RollbackStep(
                        action=f"Verify {r.resource_id} matches its pre-change configuration",
                        command=f"{history} --limit 1",
                        minutes=5,
                    ),
                ]
    return RollbackPlan(steps=steps, tested_in="")


class Approval(BaseModel):
    """One gate response (Airflow HITL `responded_by_user`)."""

    party: str  # business | security | engineering, or the gate name (cab, change, ...)
    user: str
    decision: Literal["approve", "reject"]
    evidence: str = ""  # Engineering: link to or attestation of the rollback test
    at: datetime


class GateResult(BaseModel):
    passed: bool
    reasons: list[str] = Field(default_factory=list)  # why it did not pass


def drafter_conflicts(drafter: str, approvals: Sequence[Approval]) -> list[str]:
    """The drafter of a change may neither approve it nor sit on its CAB."""
    return [
        f"self-approval: {a.user} drafted the change and answered {a.party}" for a in approvals if a.user == drafter
    ]


def evaluate_go_no_go(approvals: Sequence[Approval], *, drafter: str, policy: ChangePolicy) -> GateResult:
    """The 3-Party Golden Guideline: Business, Security and Engineering, three people, not the drafter."""
    reasons = drafter_conflicts(drafter, approvals)
    latest = {a.party: a for a in sorted(approvals, key=lambda a: a.at)}
    for party in GO_NO_GO_PARTIES:
        answer = latest.get(party)
        if answer is None:
            reasons.append(f"{party} has not answered")
            continue
        if answer.decision == "reject":
            reasons.append(f"{party} rejected ({answer.user}): {answer.evidence or 'no reason given'}")
        if answer.user not in policy.approvers.go_no_go[party]:
            reasons.append(f"{answer.user} is not a {party} approver ({', '.join(policy.approvers.go_no_go[party])})")
    users: dict[str, list[str]] = {}
    for party, answer in latest.items():
        users.setdefault(answer.user, []).append(party)
    reasons += [
        f"one person approving two parties: {user} answered {' and '.join(sorted(parties))}"
        for user, parties in users.items()
        if len(parties) > 1
    ]
    engineering = latest.get("engineering")
    if engineering and engineering.decision == "approve" and (found := placeholder_in(engineering.evidence)):
        reasons.append(
            f"engineering approval carries no rollback-test evidence ({found}): attach a link or attestation"
        )
    return GateResult(passed=not reasons, reasons=reasons)


def cab_quorum(change_type: str, approvals: Sequence[Approval], *, drafter: str, policy: ChangePolicy) -> GateResult:
    """CAB approvals per change type: enough distinct approvers from the CAB, none of them the drafter."""
    rule = policy.cab.for_type(change_type)
    if not rule.requires_cab:
        return GateResult(passed=True)
    reasons = drafter_conflicts(drafter, approvals)
    reasons += [
        f"CAB member {a.user} rejected: {a.evidence or 'no reason given'}" for a in approvals if a.decision == "reject"
    ]
    reasons += [f"{a.user} is not a CAB member" for a in approvals if a.user not in policy.approvers.cab]
    valid = {
        a.user for a in approvals if a.decision == "approve" and a.user != drafter and a.user in policy.approvers.cab
    }
    if len(valid) < rule.approvers:
        reasons.append(f"CAB quorum not reached: {len(valid)} of {rule.approvers} approvers for a {change_type} change")
    return GateResult(passed=not reasons, reasons=reasons)


class Decision(Artifact):
    step: str = "decide"
    change_type: str
    drafter: str
    blast_radius: BlastRadius
    window: MaintenanceWindow
    cost: CostEstimate
    rollback: RollbackPlan
    rollback_problems: list[str]
    approvals: list[Approval]
    go_no_go: GateResult

    @property
    def go(self) -> bool:
        return self.go_no_go.passed and not self.rollback_problems
