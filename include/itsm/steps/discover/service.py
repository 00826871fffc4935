"""Step 2, discover: the org-wide inventory snapshot, and each ticket's scope in it.

Why here: classification must rest on discovered, not assumed, state (TEMPLATE_NOT_EXECUTION). One
org-wide snapshot (Organizations + the Config aggregator) per sweep serves every ticket; a ticket's
scope is filtered from it, and where the org-wide view shows zero for an account the ticket names,
that account is read directly through its member role and both views are recorded
(CROSS_ACCOUNT_SILENT_ZERO). A scope that cannot be read is an error against its account and
operation, never a silent zero. All reads go through the read-only `ctx.aws` port.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from include.itsm.context import RunContext
from include.itsm.core.artifact import Provenance
from include.itsm.core.inventory import AccountError, InventorySnapshot, Resource
from include.itsm.ports import AwsError, EvidenceError
from include.itsm.steps.discover.domain import (
    Discovery,
    accounts_needing_fallback,
    discover,
    org_wide_query,
    resource_from_config_row,
    scope_of,
    select,
)
from include.itsm.steps.intake.domain import IntakeArtifact, IntakeResult

STEP = "discover"
SNAPSHOT_KEY = "_org"  # the org-wide snapshot's pseudo-ticket in the evidence store
MAX_DETAILED_RESOURCES = 25  # direct per-resource reads are for a ticket's scope, not the org
DETAILED_TYPES = ("AWS::S3::Bucket", "AWS::EC2::VPC", "AWS::IAM::Role")


def _error(account_id: str, exc: AwsError) -> AccountError:
    return AccountError(
        account_id=account_id, region=exc.region, operation=exc.operation, code=exc.code, message=exc.message
    )


# --- the org-wide snapshot ---------------------------------------------------------------------


def take_org_snapshot(ctx: RunContext) -> InventorySnapshot:
    """One org-wide inventory (accounts + every discoverable resource) with its API-call cost."""
    aws, customer = ctx.aws, ctx.customer
    before = Counter(aws.api_calls)
    as_of = datetime.now(UTC)  # the moment AWS was asked: a fact about the data, not about the run
    accounts, resources, errors, provenance = [], [], [], []
    try:
        accounts = aws.accounts()
        provenance.append(
            Provenance(source="aws:organizations:ListAccounts", as_of=as_of, detail={"accounts": len(accounts)})
        )
    except AwsError as exc:
        errors.append(_error("organization", exc))
    query = org_wide_query()
    try:
        resources = [resource_from_config_row(row) for row in aws.select_aggregate(query, customer.aggregator_name)]
        provenance.append(
            Provenance(
                source="aws:config:SelectAggregateResourceConfig",
                query=query,
                as_of=as_of,
                detail={"aggregator": customer.aggregator_name, "rows": len(resources)},
            )
        )
    except AwsError as exc:
        errors.append(_error("organization", exc))
    calls = Counter(aws.api_calls)
    calls.subtract(before)
    return InventorySnapshot(
        key=SNAPSHOT_KEY,
        step=STEP,
        run_id=ctx.run_id,
        mode=ctx.mode,
        as_of=as_of,
        accounts=accounts,
        resources=resources,
        errors=errors,
        provenance=provenance,
        api_calls={k: v for k, v in calls.items() if v},
    )


def snapshot_org(ctx: RunContext) -> InventorySnapshot:
    """Take and store the run's one org-wide snapshot."""
    snapshot = take_org_snapshot(ctx)
    ctx.evidence.write(SNAPSHOT_KEY, ctx.run_id, STEP, snapshot)
    return snapshot


def load_snapshot(ctx: RunContext, snapshot_run_id: str) -> InventorySnapshot:
    return ctx.evidence.read(SNAPSHOT_KEY, snapshot_run_id, STEP, InventorySnapshot)


def current_snapshot(ctx: RunContext) -> InventorySnapshot:
    """The newest org-wide snapshot younger than `runtime.snapshot_max_age_hours` at the run's as-of
    time, else a new one."""
    max_age = timedelta(hours=ctx.settings.runtime.snapshot_max_age_hours)
    try:
        latest = ctx.evidence.latest(SNAPSHOT_KEY, STEP, InventorySnapshot)
        if timedelta(0) <= ctx.as_of - latest.as_of < max_age:
            return latest
    except EvidenceError:
        pass
    return snapshot_org(ctx)


# --- the per-account path ----------------------------------------------------------------------


def per_account(
    ctx: RunContext, account_id: str, resource_types: list[str]
) -> tuple[list[Resource] | None, list[AccountError], Provenance]:
    """Read the scope's types directly in the account (member role); None when it is unreadable."""
    provenance = Provenance(
        source="aws:per-account",
        as_of=datetime.now(UTC),
        detail={
            "account_id": account_id,
            "role": ctx.aws.member_role_name,
            "resource_types": resource_types,
            "regions": ctx.customer.regions,
        },
    )
    found: list[Resource] = []
    errors: list[AccountError] = []
    for region in ctx.customer.regions:
        for resource_type in resource_types:
            try:
                found += ctx.aws.resources(account_id, region, resource_type)
            except AwsError as exc:
                errors.append(_error(account_id, exc))
                if exc.operation == "sts:AssumeRole":
                    return None, errors, provenance  # the account cannot be entered at all
    return (None if errors and not found else found), errors, provenance


def direct_details(ctx: RunContext, resources: list[Resource]) -> tuple[dict[str, list[dict]], list[AccountError]]:
    """Versioning/lifecycle, flow logs/NACLs and role last use for (at most 25) in-scope resources."""
    details: dict[str, list[dict]] = {}
    errors: list[AccountError] = []
    for resource in resources[:MAX_DETAILED_RESOURCES]:
        if resource.resource_type not in DETAILED_TYPES:
            continue
        try:
            details[resource.resource_id] = ctx.aws.details(resource)
        except AwsError as exc:
            errors.append(_error(resource.account_id, exc))
    return details, errors


def discover_ticket(
    ctx: RunContext, key: str, intake: IntakeResult, snapshot: InventorySnapshot, standard_env_values: set[str]
) -> Discovery:
    """Filter the snapshot to the ticket's scope; fall back per account where it shows zero."""
    scope = scope_of(intake, snapshot.org_account_ids())
    in_scope, _ = select(snapshot.resources, scope)
    fallback_resources, fallback_errors, fallback_provenance = {}, [], {}
    for account in accounts_needing_fallback(scope, in_scope):
        found, errors, provenance = per_account(ctx, account, scope.resource_types)
        if found is not None:
            fallback_resources[account] = found
        fallback_errors += errors
        fallback_provenance[account] = provenance
    details, detail_errors = direct_details(ctx, in_scope + [r for rs in fallback_resources.values() for r in rs])
    return discover(
        key=key,
        run_id=ctx.run_id,
        intake=intake,
        snapshot=snapshot,
        snapshot_run_id=snapshot.run_id,
        env_tag_key=ctx.customer.env_tag_key,
        standard_env_values=standard_env_values,
        fallback_resources=fallback_resources,
        fallback_errors=fallback_errors + detail_errors,
        fallback_provenance=fallback_provenance,
        details=details,
        mode=ctx.mode,
    )


def run_discover(ctx: RunContext, key: str, intake: IntakeArtifact, snapshot: InventorySnapshot) -> Discovery:
    """Step 2 for one ticket: its scope in the org-wide snapshot, with the per-account fallback."""
    discovery = discover_ticket(ctx, key, intake.result, snapshot, set(ctx.customer.standard_env_values))
    ctx.evidence.write(key, ctx.run_id, STEP, discovery)
    return discovery


def run(ctx: RunContext, key: str) -> dict:
    """Step 2 in a lifecycle run: the ticket's scope in the newest org snapshot (or a fresh one)."""
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = run_discover(ctx, key, intake, current_snapshot(ctx))
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "resources": discovery.resource_count,
            "accounts": discovery.account_count,
            "errors": len(discovery.errors),
            "snapshot": discovery.snapshot_run_id,
        },
    )
    return {"resources": discovery.resource_count, "accounts": discovery.account_count, "errors": len(discovery.errors)}
