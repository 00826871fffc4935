"""Step 4's evidence sources: each one asks a different system (or API) the same scope question.

Cross-validation is only worth something when the sources are independent
(SELF_COMPARISON_VALIDATION), so every source here reads its own system through its own API and
says exactly how it did (system, API or file, query, as-of): that provenance is what the
reproduce prompt and the auditor read. For changes: the customer's spreadsheet (a Jira
attachment, parsed with pandas, as of the date written in the sheet), the Config aggregator
(`SelectAggregateResourceConfig`), per-account EC2 `DescribeInstances` filtered by the standard
env tag values through assumed roles, and Cost Explorer's EC2 compute share of org spend. For
incidents and problems: the ticket itself, the org inventory (the discover artifact), direct
CloudWatch reads (`DescribeAlarms`) and the visual timeline (`GetMetricData` series + alarm state
changes, rendered to a PNG). All AWS reads go through the guarded read-only `ctx.aws`.

A source that cannot be read raises `SourceUnavailable`; the step records it and the domain then
refuses with INCOMPLETE_EVIDENCE rather than validating on fewer sources.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from include.itsm.context import RunContext
from include.itsm.core.artifact import Provenance
from include.itsm.core.inventory import AccountInfo, Resource
from include.itsm.core.ticket import Attachment, Ticket
from include.itsm.ports import AwsError
from include.itsm.steps.cross_validate.domain import (
    AlarmStateChange,
    MetricPoint,
    ResourceFacts,
    SourceResult,
    TimelineSeries,
    source_from_timeline,
)
from include.itsm.steps.cross_validate.sheet import SheetUnreadable, parse_inventory_sheet
from include.itsm.steps.discover.domain import Discovery, aggregator_query, resource_from_config_row
from include.itsm.steps.discover.service import load_snapshot
from include.itsm.steps.intake.domain import IntakeResult

EC2_COMPUTE_SERVICE = "Amazon Elastic Compute Cloud - Compute"  # Cost Explorer SERVICE dimension value
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# names every step and the brief use for the four sources
SPREADSHEET = "customer spreadsheet"
CONFIG = "org-wide resource search"
ENV_TAGGED = "env-tagged inventory"
BILLING = "billing"
TICKET = "ticket"
INVENTORY = "org inventory"
ALARMS = "cloudwatch alarms"
TIMELINE = "visual timeline"
TIMELINE_LOOKBACK = timedelta(days=30)  # metric history read before the ticket / the alarm's state change
CHANGE_SOURCES = (SPREADSHEET, CONFIG, ENV_TAGGED, BILLING)
INCIDENT_SOURCES = (TICKET, INVENTORY, ALARMS, TIMELINE)


class SourceUnavailable(RuntimeError):
    """A source could not be read: the reason names the source and what to do."""


def _now() -> datetime:
    return datetime.now(UTC)


# --- the organisation's accounts (shared context, not a source) ---------------------------------


def org_accounts(ctx: RunContext, discovery: Discovery) -> list[AccountInfo]:
    """The active accounts of the org snapshot the ticket was discovered against (the scope every AWS
    source must cover): the snapshot already asked Organizations, so nobody asks again."""
    snapshot = load_snapshot(ctx, discovery.snapshot_run_id)
    return [a for a in snapshot.accounts if a.status in ("ACTIVE", "")]


# --- 1. the customer's spreadsheet (Jira attachment) -------------------------------------------


def _latest_xlsx(ticket: Ticket) -> Attachment | None:
    sheets = [a for a in ticket.attachments if a.filename.lower().endswith(XLSX_SUFFIXES)]
    return max(sheets, key=lambda a: (a.created or datetime.min.replace(tzinfo=UTC), a.id), default=None)


def spreadsheet_source(ctx: RunContext, ticket: Ticket) -> SourceResult:
    """The customer's inventory attached to the ticket (newest .xlsx), as of the sheet's own date."""
    attachment = _latest_xlsx(ticket)
    if attachment is None:
        raise SourceUnavailable(
            f"{SPREADSHEET}: {ticket.key} has no .xlsx attachment; ask the customer for "
            "their inventory spreadsheet and attach it to the ticket"
        )
    try:
        rows, as_of, detail = parse_inventory_sheet(ctx.jira.download_attachment(attachment))
    except SheetUnreadable as exc:
        raise SourceUnavailable(f"{SPREADSHEET}: {attachment.filename}: {exc}") from exc
    if as_of is None:  # no date in the sheet: the upload time is the latest it can be true of
        as_of = attachment.created or _now()
        detail["as_of_basis"] = "attachment upload time (the sheet states no as-of date)"
    else:
        detail["as_of_basis"] = "the sheet's 'As of' cell"
    return SourceResult(
        name=SPREADSHEET,
        system="jira",
        api="attachment",
        as_of=as_of,
        resources=rows,
        accounts_queried=sorted({r.account_id for r in rows}),
        provenance=Provenance(
            source="jira:attachment",
            query=f"{ticket.key}/{attachment.filename}",
            as_of=as_of,
            detail={
                "filename": attachment.filename,
                "attachment_id": attachment.id,
                "parser": "pandas.read_excel",
                **detail,
            },
        ),
    )


# --- 2. the Config aggregator -------------------------------------------------------------------


def config_source(ctx: RunContext, resource_type: str = "AWS::EC2::Instance") -> SourceResult:
    """Org-wide resource search: SelectAggregateResourceConfig over the customer's aggregator."""
    query, aggregator = aggregator_query(resource_type), ctx.customer.aggregator_name
    as_of = _now()
    try:
        resources = [resource_from_config_row(row) for row in ctx.aws.select_aggregate(query, aggregator)]
    except AwsError as exc:
        raise SourceUnavailable(f"{CONFIG}: {exc}") from exc
    return SourceResult(
        name=CONFIG,
        system="aws-config",
        api="SelectAggregateResourceConfig",
        as_of=as_of,
        resources=[ResourceFacts.from_resource(r) for r in resources],
        accounts_queried=sorted({r.account_id for r in resources}),
        provenance=Provenance(
            source="aws:config:SelectAggregateResourceConfig",
            query=query,
            as_of=as_of,
            detail={"aggregator": aggregator, "rows": len(resources)},
        ),
    )


# --- 3. per-account DescribeInstances with the standard env tag values --------------------------


def env_tagged_source(ctx: RunContext, accounts: Sequence[AccountInfo]) -> SourceResult:
    """What env-tag based tooling (the scheduler's rules) sees: DescribeInstances per account and region,
    filtered on the standard env tag values, through the member role."""
    key, values = ctx.customer.env_tag_key, tuple(ctx.customer.standard_env_values)
    filters = [{"Name": f"tag:{key}", "Values": list(values)}]
    as_of = _now()
    found: list[ResourceFacts] = []
    queried, errors = [], []
    for account in accounts:
        try:
            for region in ctx.customer.regions:
                found += [
                    ResourceFacts(
                        account_id=account.account_id,
                        resource_id=r.resource_id,
                        region=region,
                        launch_time=r.launch_time,
                        state=r.state,
                        tags=r.tags,
                    )
                    for r in ctx.aws.instances(account.account_id, region, tag=(key, values))
                ]
            queried.append(account.account_id)
        except AwsError as exc:
            errors.append({"account_id": account.account_id, "error": f"{exc.code}: {exc.message}"})
    if not queried:
        raise SourceUnavailable(f"{ENV_TAGGED}: no account readable ({errors[:3]})")
    return SourceResult(
        name=ENV_TAGGED,
        system="aws-ec2",
        api="DescribeInstances",
        as_of=as_of,
        resources=found,
        env_tag_values=values,
        accounts_queried=queried,
        provenance=Provenance(
            source="aws:ec2:DescribeInstances",
            as_of=as_of,
            query=json.dumps({"Filters": filters}),
            detail={
                "regions": list(ctx.customer.regions),
                "role": ctx.aws.member_role_name,
                "accounts": len(queried),
                "errors": errors,
            },
        ),
    )


# --- 4. Cost Explorer: EC2 compute share of org spend ------------------------------------------


def last_full_month(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return previous, first


def billing_source(ctx: RunContext) -> SourceResult:
    """GetCostAndUsage for the last complete month before the run's as-of date, grouped by SERVICE: EC2
    compute vs everything."""
    start, end = last_full_month(ctx.as_of.date())
    request = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    as_of = _now()
    try:
        periods = ctx.aws.cost_and_usage(request)
    except AwsError as exc:
        raise SourceUnavailable(f"{BILLING}: {exc}") from exc
    billed = sum(period.by_group.get(EC2_COMPUTE_SERVICE, 0.0) for period in periods)
    total = sum(period.total_usd for period in periods)
    if not total:
        raise SourceUnavailable(f"{BILLING}: Cost Explorer reports no spend for {start}..{end}")
    return SourceResult(
        name=BILLING,
        system="aws-cost-explorer",
        api="GetCostAndUsage",
        as_of=as_of,
        billed_usd=billed,
        total_spend_usd=total,
        provenance=Provenance(
            source="aws:ce:GetCostAndUsage",
            query=json.dumps(request, separators=(",", ":")),
            as_of=as_of,
            detail={
                "service": EC2_COMPUTE_SERVICE,
                "period": [str(start), str(end)],
                "billed_usd": billed,
                "total_usd": total,
            },
        ),
    )


def change_sources(
    ctx: RunContext, ticket: Ticket, accounts: Sequence[AccountInfo]
) -> tuple[list[SourceResult], dict[str, str]]:
    """The four change sources; a source that cannot be read is reported in `missing`, never faked."""
    sources, missing = [], {}
    for name, read in (
        (SPREADSHEET, lambda: spreadsheet_source(ctx, ticket)),
        (CONFIG, lambda: config_source(ctx)),
        (ENV_TAGGED, lambda: env_tagged_source(ctx, accounts)),
        (BILLING, lambda: billing_source(ctx)),
    ):
        try:
            sources.append(read())
        except SourceUnavailable as exc:
            missing[name] = str(exc)
    return sources, missing


# --- incidents and problems ----------------------------------------------------------------------


def _index(resources: Sequence[Resource]) -> dict[str, Resource]:
    """Resource by every name it is known by (id, Name tag, ARN, RDS identifier, role name)."""
    out = {}
    for r in resources:
        for name in (
            r.resource_id,
            r.name,
            r.arn,
            r.attributes.get("dBInstanceIdentifier"),
            r.attributes.get("roleName"),
        ):
            if name:
                out[str(name)] = r
    return out


def ticket_source(ticket: Ticket, intake: IntakeResult, discovery: Discovery) -> SourceResult:
    """What the reporter names: the ticket's resource ids, attributed to accounts via discovery
    (or the one account the ticket names)."""
    known = _index(discovery.resources)
    accounts = intake.account_values
    facts, unplaced, alarms = [], [], []
    for value in intake.resource_values:
        if value.startswith("arn:aws:cloudwatch:") and ":alarm:" in value:
            alarms.append(value)  # the signal, not an affected resource: the alarms source resolves it
            continue
        r = known.get(value)
        if r is not None:
            facts.append(ResourceFacts(account_id=r.account_id, resource_id=r.resource_id))
        elif len(accounts) == 1:
            facts.append(ResourceFacts(account_id=accounts[0], resource_id=value))
        else:
            unplaced.append(value)
    as_of = ticket.updated or ticket.created or _now()
    return SourceResult(
        name=TICKET,
        system="jira",
        api="issue",
        as_of=as_of,
        resources=list({f.key: f for f in facts}.values()),
        accounts_queried=sorted(set(accounts)),
        provenance=Provenance(
            source="jira:issue",
            query=f"GET /rest/api/3/issue/{ticket.key}",
            as_of=as_of,
            detail={"resource_ids": intake.resource_values, "not_placed": unplaced, "alarms_named": alarms},
        ),
    )


def inventory_source(discovery: Discovery) -> SourceResult:
    """The org inventory's view of the ticket's scope (the discover artifact)."""
    return SourceResult(
        name=INVENTORY,
        system="aws-config",
        api="SelectAggregateResourceConfig",
        as_of=discovery.as_of,
        resources=[ResourceFacts.from_resource(r) for r in discovery.resources],
        accounts_queried=sorted(set(discovery.counts_by_account) | set(discovery.scope.account_ids)),
        provenance=Provenance(
            source="evidence:discover",
            query=f"{discovery.key}/{discovery.run_id}/discover.json",
            as_of=discovery.as_of,
            detail={"snapshot_run_id": discovery.snapshot_run_id, "scope": discovery.scope.basis},
        ),
    )


def _alarm_resource(alarm: dict, known: dict[str, Resource]) -> Resource | None:
    for dimension in alarm.get("Dimensions", []):
        if (r := known.get(dimension.get("Value", ""))) is not None:
            return r
    return None


def read_alarms(ctx: RunContext, discovery: Discovery) -> list[tuple[Resource, dict]]:
    """CloudWatch DescribeAlarms in every account/region of the scope: the alarms on in-scope resources."""
    known = _index(discovery.resources)
    pairs = []
    places = sorted({(r.account_id, r.region) for r in discovery.resources if r.region and r.region != "global"})
    for account_id, region in places:
        for alarm in ctx.aws.alarms(account_id, region):
            if (r := _alarm_resource(alarm, known)) is not None:
                pairs.append((r, alarm))
    return pairs


def alarms_source(pairs: Sequence[tuple[Resource, dict]], as_of: datetime) -> SourceResult:
    """Direct AWS API: the in-scope resources whose alarm is in ALARM now."""
    firing = [(r, a) for r, a in pairs if a.get("StateValue") == "ALARM"]
    return SourceResult(
        name=ALARMS,
        system="aws-cloudwatch",
        api="DescribeAlarms",
        as_of=as_of,
        resources=list(
            {
                (r.account_id, r.resource_id): ResourceFacts(
                    account_id=r.account_id, resource_id=r.resource_id, region=r.region
                )
                for r, _ in firing
            }.values()
        ),
        accounts_queried=sorted({r.account_id for r, _ in pairs}),
        provenance=Provenance(
            source="aws:cloudwatch:DescribeAlarms",
            query="StateValue=ALARM, dimensions in scope",
            as_of=as_of,
            detail={
                "alarms": sorted(a["AlarmName"] for _, a in firing),
                "regions": sorted({r.region for r, _ in pairs}),
            },
        ),
    )


def timeline_series(
    ctx: RunContext, pairs: Sequence[tuple[Resource, dict]], start: datetime, end: datetime
) -> list[TimelineSeries]:
    """Each alarm's metric (GetMetricData) and its state change (from the alarm's own state record)."""
    out = []
    for n, (resource, alarm) in enumerate(pairs):
        query = {
            "Id": f"m{n}",
            "ReturnData": True,
            "MetricStat": {
                "Metric": {
                    "Namespace": alarm["Namespace"],
                    "MetricName": alarm["MetricName"],
                    "Dimensions": alarm.get("Dimensions", []),
                },
                "Period": int(alarm.get("Period", 300)),
                "Stat": alarm.get("Statistic", "Average"),
            },
        }
        points = [
            MetricPoint(at=t, value=v)
            for t, v in ctx.aws.metric_points(resource.account_id, resource.region, query, start, end)
        ]
        changes = []
        if alarm.get("StateUpdatedTimestamp") and alarm.get("StateValue") != "OK":
            changes.append(
                AlarmStateChange(
                    at=alarm["StateUpdatedTimestamp"],
                    alarm_name=alarm["AlarmName"],
                    old_state="OK",
                    new_state=alarm["StateValue"],
                )
            )
        crossing = _first_crossing(points, alarm)
        if crossing and (not changes or crossing < changes[0].at):
            changes.insert(
                0, AlarmStateChange(at=crossing, alarm_name=alarm["AlarmName"], old_state="OK", new_state="ALARM")
            )
        out.append(
            TimelineSeries(
                account_id=resource.account_id,
                resource_id=resource.resource_id,
                namespace=alarm["Namespace"],
                metric_name=alarm["MetricName"],
                points=sorted(points, key=lambda p: p.at),
                alarm_changes=changes,
            )
        )
    return out


def _first_crossing(points: Sequence[MetricPoint], alarm: dict) -> datetime | None:
    threshold, op = alarm.get("Threshold"), alarm.get("ComparisonOperator", "")
    if threshold is None:
        return None
    test = {
        "GreaterThanThreshold": lambda v: v > threshold,
        "GreaterThanOrEqualToThreshold": lambda v: v >= threshold,
        "LessThanThreshold": lambda v: v < threshold,
        "LessThanOrEqualToThreshold": lambda v: v <= threshold,
    }.get(op)
    return min((p.at for p in points if test and test(p.value)), default=None)


def render_timeline_png(series: Sequence[TimelineSeries], title: str) -> bytes:
    """Metric series (one panel each) with alarm state changes as vertical lines; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = max(len(series), 1)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.4 * panels), squeeze=False, sharex=False)
    for ax, s in zip(axes[:, 0], series or [None]):
        if s is None:
            ax.text(0.5, 0.5, "no metric data in scope", ha="center", va="center")
            continue
        ax.plot([p.at for p in s.points], [p.value for p in s.points], marker=".", linewidth=1)
        changes, outside = s.alarm_changes, []
        if s.points:  # zoom on the series; state changes recorded far from it are listed, not drawn
            first, last = s.points[0].at, s.points[-1].at
            pad = max((last - first) * 0.1, timedelta(minutes=5))
            ax.set_xlim(first - pad, last + pad)
            outside = [c for c in changes if not first - pad <= c.at <= last + pad]
            changes = [c for c in changes if c not in outside]
        if outside:
            ax.set_xlabel(
                "state recorded: "
                + "; ".join(f"{c.alarm_name} {c.new_state} at {c.at:%Y-%m-%d %H:%M} UTC" for c in outside),
                fontsize=7,
            )
        for change in changes:
            ax.axvline(change.at, color="red" if change.new_state == "ALARM" else "green", linestyle="--")
            ax.annotate(
                f"{change.alarm_name}: {change.new_state}",
                (change.at, ax.get_ylim()[1]),
                fontsize=7,
                color="red",
                rotation=0,
                va="top",
            )
        ax.set_title(f"{s.resource_id} ({s.account_id}) {s.namespace} {s.metric_name}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def incident_sources(
    ctx: RunContext, ticket: Ticket, intake: IntakeResult, discovery: Discovery
) -> tuple[list[SourceResult], dict[str, str], list[TimelineSeries], bytes | None]:
    """Ticket, inventory, CloudWatch alarms and the visual timeline (+ its PNG)."""
    sources, missing = [ticket_source(ticket, intake, discovery), inventory_source(discovery)], {}
    as_of = _now()
    series, png = [], None
    try:
        pairs = read_alarms(ctx, discovery)
        sources.append(alarms_source(pairs, as_of))
        changes = [a["StateUpdatedTimestamp"] for _, a in pairs if a.get("StateUpdatedTimestamp")]
        anchor = ticket.created or as_of
        start = min([anchor - TIMELINE_LOOKBACK, *[c - TIMELINE_LOOKBACK for c in changes]])
        series = timeline_series(ctx, pairs, start, as_of)
        png = render_timeline_png(series, f"{ticket.key}: metrics and alarm states")
        sources.append(
            source_from_timeline(
                TIMELINE,
                series,
                as_of,
                Provenance(
                    source="aws:cloudwatch:GetMetricData",
                    as_of=as_of,
                    query=f"GetMetricData {start.isoformat()}..{as_of.isoformat()} for the alarms' metrics",
                    detail={"series": len(series), "png": "timeline.png"},
                ),
            )
        )
    except AwsError as exc:
        missing[ALARMS if len(sources) == 2 else TIMELINE] = str(exc)
    return sources, missing, series, png
