"""Step 4, cross-validate: independent sources must agree on scope before any change is planned.

Each source reports a set of (account, resource) with the facts it knows, or, for billing, a
spend share. Sources count as independent only when they differ in system or API
(SELF_COMPARISON_VALIDATION). Sets are compared pairwise and every difference must be explained
per resource from data, relative to the source that lacks it: launched after that source's
as-of time, or outside its query (env tag missing or non-standard, stopped/terminated).
The gate passes when the unexplained share is within tolerance (0.5 %) and the billed share is
consistent with inventory x unit cost. Incidents use the same machinery with their own sources
(ticket, inventory, direct AWS APIs, the visual timeline).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from itertools import combinations, permutations

from pydantic import BaseModel, Field, model_validator

from include.itsm.core import adf
from include.itsm.core.artifact import Artifact, Provenance
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.core.inventory import AccountInfo, Resource
from include.itsm.core.ticket import Ticket
from include.itsm.core.vocab import AlarmState, Verdict

ResourceKey = tuple[str, str]  # (account_id, resource_id)

LAUNCHED_AFTER_AS_OF = "launched_after_as_of"
ENV_TAG_MISSING = "env_tag_missing"
ENV_TAG_NON_STANDARD = "env_tag_non_standard"
INACTIVE_STATE = "stopped_or_terminated"
REASON_TEXT = {
    LAUNCHED_AFTER_AS_OF: "launched after the source's as-of time",
    ENV_TAG_MISSING: "env tag missing",
    ENV_TAG_NON_STANDARD: "env tag value non-standard",
    INACTIVE_STATE: "stopped or terminated",
}
SELF_COMPARISON = "SELF_COMPARISON_VALIDATION"
SILENT_ZERO = "CROSS_ACCOUNT_SILENT_ZERO"
TOO_FEW_SOURCES = "INCOMPLETE_EVIDENCE"


class ResourceFacts(BaseModel):
    """What one source knows about one resource; None means the source does not know."""

    account_id: str
    resource_id: str
    region: str | None = None
    launch_time: datetime | None = None
    state: str | None = None
    tags: dict[str, str] | None = None  # None: tags unknown; {}: known to carry none

    @property
    def key(self) -> ResourceKey:
        return (self.account_id, self.resource_id)

    @classmethod
    def from_resource(cls, resource: Resource) -> ResourceFacts:
        return cls(
            account_id=resource.account_id,
            resource_id=resource.resource_id,
            region=resource.region,
            launch_time=resource.launch_time,
            state=resource.state,
            tags=dict(resource.tags),
        )


class SourceResult(BaseModel):
    """One evidence source: a resource set (with the query's own filters) or a billed share."""

    name: str
    system: str  # jira, aws-config, aws-ec2, aws-cost-explorer, aws-cloudwatch, ...
    api: str  # attachment, SelectAggregateResourceConfig, DescribeInstances, GetCostAndUsage, ...
    as_of: datetime
    resources: list[ResourceFacts] | None = None
    accounts_queried: list[str] = Field(default_factory=list)  # a zero from a queried account is a result
    env_tag_values: tuple[str, ...] | None = None  # the query asked only for these env tag values
    states: tuple[str, ...] | None = None  # the query asked only for these instance states
    billed_usd: float | None = None  # share source: the service's cost ...
    total_spend_usd: float | None = None  # ... and the organisation's, same period
    provenance: Provenance

    @model_validator(mode="after")
    def _set_or_share(self) -> SourceResult:
        is_share = self.billed_usd is not None or self.total_spend_usd is not None
        if is_share == (self.resources is not None):
            raise ValueError(f"source {self.name!r} must carry either resources or billed_usd and total_spend_usd")
        if is_share and not (self.billed_usd is not None and self.total_spend_usd):
            raise ValueError(f"source {self.name!r} needs both billed_usd and a non-zero total_spend_usd")
        return self

    @property
    def is_set(self) -> bool:
        return self.resources is not None

    def keys(self) -> set[ResourceKey]:
        return {r.key for r in self.resources or ()}

    @property
    def share(self) -> float | None:
        return None if self.is_set else self.billed_usd / self.total_spend_usd


class MetricPoint(BaseModel):
    at: datetime
    value: float


class AlarmStateChange(BaseModel):
    at: datetime
    alarm_name: str
    old_state: str
    new_state: AlarmState


class TimelineSeries(BaseModel):
    """One resource's metric and alarm history, the data behind the visual timeline PNG."""

    account_id: str
    resource_id: str
    namespace: str
    metric_name: str
    points: list[MetricPoint] = Field(default_factory=list)
    alarm_changes: list[AlarmStateChange] = Field(default_factory=list)

    def first_alarm(self) -> datetime | None:
        return min((c.at for c in self.alarm_changes if c.new_state == "ALARM"), default=None)


def source_from_timeline(
    name: str,
    series: Sequence[TimelineSeries],
    as_of: datetime,
    provenance: Provenance,
    system: str = "aws-cloudwatch",
    api: str = "GetMetricData",
) -> SourceResult:
    """The visual-timeline source: the resources whose alarms went to ALARM on the timeline."""
    resources = {(s.account_id, s.resource_id) for s in series if s.first_alarm() is not None}
    return SourceResult(
        name=name,
        system=system,
        api=api,
        as_of=as_of,
        provenance=provenance,
        resources=[ResourceFacts(account_id=a, resource_id=r) for a, r in sorted(resources)],
        accounts_queried=sorted({s.account_id for s in series}),
    )


class Refusal(BaseModel):
    code: str
    reason: str


class SourceSummary(BaseModel):
    name: str
    system: str
    api: str
    as_of: datetime
    instances: int | None = None
    accounts: int | None = None
    share: float | None = None
    provenance: Provenance


class Difference(BaseModel):
    account_id: str
    resource_id: str
    present_in: list[str]
    missing_from: str
    reasons: list[str]  # empty: unexplained


class PairComparison(BaseModel):
    left: str
    right: str
    common: int
    only_left: int
    only_right: int
    unexplained: int


class ExplanationGroup(BaseModel):
    """All resources a source lacks for the same reason, with their accounts."""

    reason: str
    missing_from: str
    instances: int
    accounts: dict[str, int]  # account id -> instances
    resources: list[ResourceKey]


class BillingCheck(BaseModel):
    source: str
    billed_share: float
    expected_share: float
    instances: int
    instance_month_usd: float
    total_spend_usd: float
    relative_deviation: float
    tolerance: float
    passed: bool
    formula: str
    provenance: Provenance


class FiveWOneH(BaseModel):
    what: str
    who: str
    when: str
    where: str
    why: str
    how: str


class CrossValidation(Artifact):
    step: str = "cross-validate"
    sources: list[SourceSummary]
    refusals: list[Refusal] = Field(default_factory=list)
    union_instances: int = 0
    union_accounts: int = 0
    pairs: list[PairComparison] = Field(default_factory=list)
    explanations: list[ExplanationGroup] = Field(default_factory=list)
    unexplained: list[Difference] = Field(default_factory=list)
    unexplained_share: float = 0.0
    tolerance: float
    billing: BillingCheck | None = None
    verdict: Verdict
    five_w_one_h: FiveWOneH | None = None
    reproduce: list[str] = Field(default_factory=list)
    account_names: dict[str, str] = Field(default_factory=dict)
    provenance: list[Provenance] = Field(default_factory=list)

    def group(self, reason: str, missing_from: str) -> ExplanationGroup | None:
        return next((g for g in self.explanations if (g.reason, g.missing_from) == (reason, missing_from)), None)


def independence_refusals(sources: Sequence[SourceResult]) -> list[Refusal]:
    """SELF_COMPARISON_VALIDATION: two sources from the same system and API are one source."""
    return [
        Refusal(
            code=SELF_COMPARISON,
            reason=(
                f"sources {a.name!r} and {b.name!r} both come from {a.system} {a.api}: a same-process export is "
                "not independent evidence; replace one with a source from a different system or API"
            ),
        )
        for a, b in combinations(sources, 2)
        if (a.system, a.api) == (b.system, b.api)
    ]


def _scope_refusals(sources: Sequence[SourceResult], policy: ChangePolicy) -> list[Refusal]:
    refusals = []
    required = policy.cross_validation.required_sources
    if len(sources) < required:
        refusals.append(
            Refusal(
                code=TOO_FEW_SOURCES,
                reason=(
                    f"{len(sources)} of {required} sources present ({', '.join(s.name for s in sources)}): "
                    "query all sources before validating"
                ),
            )
        )
    for s in sources:
        if s.is_set and not s.resources and not s.accounts_queried:
            refusals.append(
                Refusal(
                    code=SILENT_ZERO,
                    reason=(
                        f"source {s.name!r} returned 0 resources without naming the accounts it queried; "
                        "verify the zero against the account scope"
                    ),
                )
            )
    return refusals


def _pooled_facts(sources: Sequence[SourceResult]) -> dict[ResourceKey, ResourceFacts]:
    """One fact sheet per resource: field by field, the newest source that knows wins."""
    pooled: dict[ResourceKey, ResourceFacts] = {}
    for source in sorted((s for s in sources if s.is_set), key=lambda s: s.as_of, reverse=True):
        for facts in source.resources:
            known = pooled.get(facts.key)
            if known is None:
                pooled[facts.key] = facts.model_copy()
                continue
            for field in ("region", "launch_time", "state", "tags"):
                if getattr(known, field) is None:
                    setattr(known, field, getattr(facts, field))
    return pooled


def _reasons(facts: ResourceFacts, missing_from: SourceResult, policy: ChangePolicy) -> list[str]:
    """Why `missing_from` cannot have seen this resource, from the data alone."""
    reasons = []
    if facts.launch_time is not None and facts.launch_time > missing_from.as_of:
        reasons.append(LAUNCHED_AFTER_AS_OF)
    if missing_from.env_tag_values is not None and facts.tags is not None:
        value = facts.tags.get(policy.env_tag.key)
        if value is None:
            reasons.append(ENV_TAG_MISSING)
        elif value not in missing_from.env_tag_values:
            reasons.append(ENV_TAG_NON_STANDARD)
    if missing_from.states is not None and facts.state is not None and facts.state not in missing_from.states:
        reasons.append(INACTIVE_STATE)
    return reasons


def _billing_check(source: SourceResult, facts: dict[ResourceKey, ResourceFacts], policy: ChangePolicy) -> BillingCheck:
    """Expected share = active instances x instance-month cost / total spend, vs the billed share."""
    inactive = policy.cross_validation.inactive_states
    instances = sum(1 for f in facts.values() if f.state not in inactive)
    unit = policy.costs.instance_month_usd
    expected = instances * unit / source.total_spend_usd
    deviation = abs(source.share - expected) / expected if expected else 1.0
    tolerance = policy.cross_validation.billing_relative_tolerance
    return BillingCheck(
        source=source.name,
        billed_share=source.share,
        expected_share=expected,
        instances=instances,
        instance_month_usd=unit,
        total_spend_usd=source.total_spend_usd,
        relative_deviation=deviation,
        tolerance=tolerance,
        passed=deviation <= tolerance,
        provenance=source.provenance,
        formula=(
            f"expected = {instances} instances x ${unit:,.2f} / ${source.total_spend_usd:,.2f} = {expected:.2%}; "
            f"billed = ${source.billed_usd:,.2f} / ${source.total_spend_usd:,.2f} = {source.share:.2%}; "
            f"deviation {deviation:.1%} (tolerance {tolerance:.0%})"
        ),
    )


def _groups(differences: Sequence[Difference]) -> list[ExplanationGroup]:
    keys: dict[tuple[str, str], set[ResourceKey]] = defaultdict(set)
    for d in differences:
        for reason in d.reasons:
            keys[(reason, d.missing_from)].add((d.account_id, d.resource_id))
    groups = []
    for (reason, missing_from), resources in keys.items():
        accounts: dict[str, int] = defaultdict(int)
        for account_id, _ in resources:
            accounts[account_id] += 1
        groups.append(
            ExplanationGroup(
                reason=reason,
                missing_from=missing_from,
                instances=len(resources),
                accounts=dict(sorted(accounts.items())),
                resources=sorted(resources),
            )
        )
    return sorted(groups, key=lambda g: (g.missing_from, g.reason))


def cross_validate(
    ticket: Ticket,
    run_id: str,
    sources: Sequence[SourceResult],
    policy: ChangePolicy,
    *,
    rca: str | None = None,
    accounts: Sequence[AccountInfo] = (),
    timeline: Sequence[TimelineSeries] = (),
) -> CrossValidation:
    """Compare the sources; refuse when they are not independent or not all present."""
    summaries = [
        SourceSummary(
            name=s.name,
            system=s.system,
            api=s.api,
            as_of=s.as_of,
            share=s.share,
            provenance=s.provenance,
            instances=len(s.keys()) if s.is_set else None,
            accounts=len({a for a, _ in s.keys()}) if s.is_set else None,
        )
        for s in sources
    ]
    names = {a.account_id: a.name for a in accounts if a.name}
    common = dict(
        key=ticket.key,
        run_id=run_id,
        sources=summaries,
        tolerance=policy.cross_validation.unexplained_tolerance,
        reproduce=reproduce_commands(ticket.key, sources, policy),
        account_names=names,
        provenance=[s.provenance for s in sources],
    )
    refusals = independence_refusals(sources) + _scope_refusals(sources, policy)
    if refusals:
        return CrossValidation(**common, refusals=refusals, verdict="refused")

    sets = [s for s in sources if s.is_set]
    facts = _pooled_facts(sets)
    differences: list[Difference] = []
    pairs = []
    for left, right in combinations(sets, 2):
        found = [
            Difference(
                account_id=k[0],
                resource_id=k[1],
                present_in=[have.name],
                missing_from=lack.name,
                reasons=_reasons(facts[k], lack, policy),
            )
            for have, lack in permutations((left, right))
            for k in sorted(have.keys() - lack.keys())
        ]
        differences.extend(found)
        pairs.append(
            PairComparison(
                left=left.name,
                right=right.name,
                common=len(left.keys() & right.keys()),
                only_left=len(left.keys() - right.keys()),
                only_right=len(right.keys() - left.keys()),
                unexplained=sum(1 for d in found if not d.reasons),
            )
        )
    unexplained = _merge_unexplained([d for d in differences if not d.reasons])
    share = len(unexplained) / len(facts) if facts else 0.0
    billing = [_billing_check(s, facts, policy) for s in sources if not s.is_set]
    billing_check = billing[0] if billing else None
    passed = share <= policy.cross_validation.unexplained_tolerance and all(b.passed for b in billing)
    result = CrossValidation(
        **common,
        union_instances=len(facts),
        union_accounts=len({a for a, _ in facts}),
        pairs=pairs,
        explanations=_groups(differences),
        unexplained=unexplained,
        unexplained_share=share,
        billing=billing_check,
        verdict="pass" if passed else "fail",
    )
    result.five_w_one_h = five_w_one_h(ticket, result, list(facts.values()), rca, timeline)
    return result


def _merge_unexplained(differences: Sequence[Difference]) -> list[Difference]:
    """One entry per (resource, lacking source), naming every source that has it."""
    merged: dict[tuple[str, str, str], Difference] = {}
    for d in differences:
        k = (d.account_id, d.resource_id, d.missing_from)
        if k in merged:
            merged[k].present_in = sorted(set(merged[k].present_in) | set(d.present_in))
        else:
            merged[k] = d.model_copy()
    return list(merged.values())


def five_w_one_h(
    ticket: Ticket,
    result: CrossValidation,
    facts: Sequence[ResourceFacts],
    rca: str | None,
    timeline: Sequence[TimelineSeries] = (),
) -> FiveWOneH:
    """The seed's 5W1H evidence block, every line from data (UTC ISO-8601 times)."""
    regions = sorted({f.region for f in facts if f.region})
    explained = "; ".join(
        f"{g.instances} {REASON_TEXT[g.reason]} (missing from {g.missing_from}, {len(g.accounts)} accounts)"
        for g in result.explanations
    )
    as_of = ", ".join(f"{s.name} as of {s.as_of.isoformat()}" for s in result.sources)
    first_alarm = min((t for s in timeline if (t := s.first_alarm())), default=None)
    created = ticket.created.isoformat() if ticket.created else "not recorded"
    return FiveWOneH(
        what=f"{ticket.summary} ({ticket.key}): {result.union_instances} resources in {result.union_accounts} accounts "
        f"in scope across {len(result.sources)} sources",
        who=f"{result.union_instances} resources in {result.union_accounts} accounts; reported by "
        f"{ticket.reporter or 'unknown reporter'}",
        when=f"ticket created {created}"
        + (f"; first alarm {first_alarm.isoformat()}" if first_alarm else "")
        + f"; {as_of}",
        where=f"regions {', '.join(regions) or 'not reported'}; {result.union_accounts} accounts "
        f"(ids in the tables below)",
        why=f"{rca or 'rca not stated'}; differences explained: {explained or 'none'}; unexplained "
        f"{len(result.unexplained)} ({result.unexplained_share:.2%})",
        how=f"run the {len(result.reproduce)} reproduce commands below and compare the counts",
    )


def reproduce_commands(key: str, sources: Sequence[SourceResult], policy: ChangePolicy) -> list[str]:
    """The exact commands and queries an engineer runs to get each source's figures again."""
    commands = []
    for s in sources:
        query, detail = s.provenance.query or "", s.provenance.detail
        if s.api == "SelectAggregateResourceConfig":
            commands.append(
                f"aws configservice select-aggregate-resource-config --configuration-aggregator-name "
                f'{detail.get("aggregator", "<aggregator>")} --expression "{query}"'
            )
        elif s.api == "DescribeInstances":
            filters = f"Name=tag:{policy.env_tag.key},Values={','.join(s.env_tag_values)}" if s.env_tag_values else ""
            if s.states:
                filters += f" Name=instance-state-name,Values={','.join(s.states)}"
            commands.extend(
                f"aws ec2 describe-instances --profile {account} --region {region}"
                + (f" --filters {filters.strip()}" if filters else "")
                + " --query 'Reservations[].Instances[].InstanceId'"
                for account in s.accounts_queried
                for region in detail.get("regions", ("ap-southeast-2",))
            )
        elif s.api == "GetCostAndUsage":
            commands.append(f"aws ce get-cost-and-usage --cli-input-json '{query}'")
        elif s.api == "attachment":
            commands.append(
                f"download attachment {detail.get('filename', query)!r} from {key} and count rows with "
                f"pandas.read_excel (as of {s.as_of.date().isoformat()})"
            )
        else:
            commands.append(f"{s.system} {s.api}: {query}".strip())
    return commands


def render_adf(result: CrossValidation) -> dict:
    """The 5W1H panel, with the source, explanation and unexplained tables beside it (ADF forbids
    a table inside a panel), the billing check and the reproduce prompt."""

    def name(account_id: str) -> str:
        return (
            f"{result.account_names[account_id]} ({account_id})" if account_id in result.account_names else account_id
        )

    nodes = [adf.heading(f"Cross-validation: {result.verdict.upper()}", 2)]
    if result.five_w_one_h:
        w = result.five_w_one_h
        nodes.append(
            adf.panel(
                [
                    adf.paragraph([adf.text(f"{label}: ", bold=True), value])
                    for label, value in (
                        ("What", w.what),
                        ("Who", w.who),
                        ("When", w.when),
                        ("Where", w.where),
                        ("Why", w.why),
                        ("How", w.how),
                    )
                ]
            )
        )
    nodes += [adf.paragraph(f"{r.code}: {r.reason}") for r in result.refusals]
    nodes.append(
        adf.table(
            ("Source", "System / API", "As of (UTC)", "Instances", "Accounts", "Share"),
            [
                (
                    s.name,
                    f"{s.system} {s.api}",
                    s.as_of.isoformat(),
                    s.instances if s.instances is not None else "-",
                    s.accounts if s.accounts is not None else "-",
                    f"{s.share:.2%}" if s.share is not None else "-",
                )
                for s in result.sources
            ],
        )
    )
    if result.explanations:
        nodes.append(
            adf.table(
                ("Explained difference", "Missing from", "Instances", "Accounts"),
                [
                    (
                        REASON_TEXT[g.reason],
                        g.missing_from,
                        g.instances,
                        ", ".join(f"{name(a)}: {n}" for a, n in g.accounts.items()),
                    )
                    for g in result.explanations
                ],
            )
        )
    if result.unexplained:
        nodes.append(
            adf.table(
                ("Unexplained resource", "Account", "Present in", "Missing from"),
                [
                    (d.resource_id, name(d.account_id), ", ".join(d.present_in), d.missing_from)
                    for d in result.unexplained
                ],
            )
        )
    if not result.refusals:
        nodes.append(
            adf.paragraph(
                f"Unexplained: {len(result.unexplained)} of {result.union_instances} ({result.unexplained_share:.2%}; "
                f"tolerance {result.tolerance:.1%})."
            )
        )
    if result.billing:
        nodes.append(
            adf.paragraph(
                f"Billing consistency ({'pass' if result.billing.passed else 'fail'}): {result.billing.formula}"
            )
        )
    if result.reproduce:
        nodes += [adf.heading("Reproduce", 3), adf.code_block("\n".join(result.reproduce), "bash")]
    return adf.doc(nodes)
