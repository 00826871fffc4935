"""Step 2, discover: what a ticket's scope really holds, read from the org-wide inventory.

The sweep takes one org-wide snapshot (Config aggregator); each ticket's discovery filters
it by the scope intake found (named resources, else named accounts, else the whole
organisation for the ticket's service type). Where the org-wide view shows nothing for an
account the ticket names, the per-account fallback is required and both results are kept
(CROSS_ACCOUNT_SILENT_ZERO): a zero is only believed once two paths agree on it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, Field

from include.itsm.core.artifact import Artifact, Provenance
from include.itsm.core.inventory import AccountError, InventorySnapshot, Resource
from include.itsm.core.vocab import ScopeBasis
from include.itsm.steps.discover.summary import DiscoverySummary
from include.itsm.steps.intake.domain import IntakeResult

# Config resource types per service type (the seed's "Discovery Scope" table); the details
# Config does not carry (S3 versioning/lifecycle, flow logs, NACLs, role last use) are read
# directly for the accounts in scope.
RESOURCE_TYPES_BY_SERVICE: dict[str, tuple[str, ...]] = {
    "compute": ("AWS::EC2::Instance",),
    "storage": ("AWS::S3::Bucket",),
    "network": ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup"),
    "database": ("AWS::RDS::DBInstance",),
    "identity": ("AWS::IAM::Role",),
}
ALL_RESOURCE_TYPES = tuple(t for types in RESOURCE_TYPES_BY_SERVICE.values() for t in types)
SERVICE_OF_TYPE = {t: service for service, types in RESOURCE_TYPES_BY_SERVICE.items() for t in types}
PROD_ENV_VALUES = frozenset({"prod", "production", "prd"})


def aggregator_query(resource_type: str) -> str:
    """The Config SQL of the org-wide path for one resource type (shown in reproduce prompts)."""
    return (
        "SELECT resourceId, resourceName, resourceType, accountId, awsRegion, configuration, tags "
        f"WHERE resourceType = '{resource_type}'"
    )


def org_wide_query() -> str:
    """The snapshot's one aggregator query: every discoverable resource type at once."""
    types = ", ".join(f"'{t}'" for t in ALL_RESOURCE_TYPES)
    return aggregator_query("X").replace("resourceType = 'X'", f"resourceType IN ({types})")


def resource_from_config_row(row: dict) -> Resource:
    """One `SelectAggregateResourceConfig` row (already JSON-decoded) as a Resource."""
    configuration = row.get("configuration") or {}
    if isinstance(configuration, str):
        configuration = json.loads(configuration)
    tags = {tag.get("key"): tag.get("value", "") for tag in row.get("tags") or [] if tag.get("key")}
    state = configuration.get("state")
    launch = configuration.get("launchTime")
    return Resource(
        resource_id=row["resourceId"],
        resource_type=row["resourceType"],
        account_id=row["accountId"],
        region=row.get("awsRegion", ""),
        name=tags.get("Name") or row.get("resourceName"),
        arn=configuration.get("arn"),
        state=state.get("name") if isinstance(state, dict) else (state or configuration.get("dBInstanceStatus")),
        launch_time=datetime.fromisoformat(launch.replace("Z", "+00:00")) if launch else None,
        tags=tags,
        attributes={k: v for k, v in configuration.items() if k not in ("state", "launchTime", "arn")},
    )


class DiscoveryScope(BaseModel):
    """What the ticket points at, in the terms discovery can search."""

    service: str | None
    resource_types: list[str]
    account_ids: list[str] = Field(default_factory=list)
    resource_ids: list[str] = Field(default_factory=list)  # as written in the ticket (ids, names, ARNs)
    basis: ScopeBasis


class AccountFallback(BaseModel):
    """A named account the org-wide path saw empty, and what the per-account path saw."""

    account_id: str
    org_wide_count: int
    per_account_count: int | None = None  # None: the per-account path failed (see errors)
    provenance: Provenance | None = None


class TagGap(BaseModel):
    """Instances the env-tag based tooling cannot see, by account."""

    env_tag_key: str
    non_standard: dict[str, int] = Field(default_factory=dict)  # account -> instances
    non_standard_values: dict[str, list[str]] = Field(default_factory=dict)
    missing: dict[str, int] = Field(default_factory=dict)

    @property
    def instances(self) -> int:
        return sum(self.non_standard.values()) + sum(self.missing.values())

    @property
    def accounts(self) -> int:
        return len(self.non_standard) + len(self.missing)


class OrgWideView(BaseModel):
    """The ticket's service type across the whole organisation: the context a scoped change sits in."""

    resource_types: list[str]
    resource_count: int
    account_count: int
    counts_by_account: dict[str, int] = Field(default_factory=dict)
    counts_by_env: dict[str, int] = Field(default_factory=dict)
    tag_gap: TagGap | None = None


class Discovery(Artifact):
    """Step 2's artifact for one ticket: scope, what was found, and how it was found."""

    scope: DiscoveryScope
    snapshot_run_id: str
    as_of: datetime
    resources: list[Resource] = Field(default_factory=list)
    resource_count: int = 0
    account_count: int = 0
    org_account_count: int = 0
    counts_by_account: dict[str, int] = Field(default_factory=dict)
    counts_by_type: dict[str, int] = Field(default_factory=dict)
    counts_by_env: dict[str, int] = Field(default_factory=dict)
    unmatched_resource_ids: list[str] = Field(default_factory=list)
    fallbacks: list[AccountFallback] = Field(default_factory=list)
    tag_gap: TagGap | None = None  # within the scope
    org_wide: OrgWideView | None = None  # the service type across the organisation
    details: dict[str, list[dict]] = Field(default_factory=dict)  # direct-API facts per resource id
    errors: list[AccountError] = Field(default_factory=list)
    gate: dict[str, bool] = Field(default_factory=dict)
    provenance: list[Provenance] = Field(default_factory=list)

    def summary(self) -> DiscoverySummary:
        """What classification reads (blast radius, prod, services)."""
        return DiscoverySummary(
            resource_count=self.resource_count,
            account_count=self.account_count,
            org_account_count=self.org_account_count,
            prod_resources=any(
                _env_of(r, self.tag_gap.env_tag_key if self.tag_gap else "env") in PROD_ENV_VALUES
                for r in self.resources
            ),
            services=sorted({SERVICE_OF_TYPE[t] for t in self.counts_by_type if t in SERVICE_OF_TYPE}),
            resource_types=sorted(self.counts_by_type),
            as_of=self.as_of,
        )


def _env_of(resource: Resource, env_tag_key: str) -> str:
    return (resource.tags.get(env_tag_key) or "").strip().lower()


def scope_of(intake: IntakeResult, org_account_ids: set[str]) -> DiscoveryScope:
    """Named resources win over named accounts, which win over the whole organisation."""
    types = list(RESOURCE_TYPES_BY_SERVICE.get(intake.service or "", ALL_RESOURCE_TYPES))
    accounts = [a.value for a in intake.account_ids if not org_account_ids or a.value in org_account_ids]
    resources = [r.value for r in intake.resource_ids]
    if resources:
        basis = "resources"
    elif accounts:
        basis = "accounts"
    elif intake.service:
        basis = "organisation"
    else:
        basis, types = "none", []
    return DiscoveryScope(
        service=intake.service,
        resource_types=types,
        account_ids=sorted(set(accounts)),
        resource_ids=resources,
        basis=basis,
    )


def _matches(resource: Resource, wanted: str) -> bool:
    wanted_lower = wanted.lower()
    candidates = (
        resource.resource_id,
        resource.name,
        resource.arn,
        resource.attributes.get("dBInstanceIdentifier"),
        resource.attributes.get("roleName"),
    )
    return any(
        c
        and (
            c.lower() == wanted_lower
            or wanted_lower.endswith("/" + c.lower())
            or wanted_lower.endswith(":" + c.lower())
        )
        for c in candidates
    )


def select(snapshot_resources: list[Resource], scope: DiscoveryScope) -> tuple[list[Resource], list[str]]:
    """The in-scope resources, and the named resource ids nothing in the inventory matched."""
    if scope.basis == "none":
        return [], []
    if scope.basis == "resources":
        found, unmatched = [], []
        for wanted in scope.resource_ids:
            hits = [r for r in snapshot_resources if _matches(r, wanted)]
            found.extend(h for h in hits if h not in found)
            if not hits:
                unmatched.append(wanted)
        return found, unmatched
    wanted_types = set(scope.resource_types)
    accounts = set(scope.account_ids)
    return [
        r for r in snapshot_resources if r.resource_type in wanted_types and (not accounts or r.account_id in accounts)
    ], []


def accounts_needing_fallback(scope: DiscoveryScope, in_scope: list[Resource]) -> list[str]:
    """Named accounts in which the org-wide path found nothing of the scope's types."""
    if scope.basis != "accounts":
        return []
    seen = {r.account_id for r in in_scope}
    return [account for account in scope.account_ids if account not in seen]


def tag_gap(resources: list[Resource], env_tag_key: str, standard_values: set[str]) -> TagGap:
    """EC2 instances whose env tag is missing or not one of the standard values, per account."""
    gap = TagGap(env_tag_key=env_tag_key)
    values: dict[str, set[str]] = defaultdict(set)
    for resource in resources:
        if resource.resource_type != "AWS::EC2::Instance":
            continue
        value = resource.tags.get(env_tag_key)
        if value is None or not value.strip():
            gap.missing[resource.account_id] = gap.missing.get(resource.account_id, 0) + 1
        elif value not in standard_values:
            gap.non_standard[resource.account_id] = gap.non_standard.get(resource.account_id, 0) + 1
            values[resource.account_id].add(value)
    gap.non_standard_values = {account: sorted(v) for account, v in values.items()}
    return gap


def org_wide_view(
    resources: list[Resource], resource_types: list[str], env_tag_key: str, standard_values: set[str]
) -> OrgWideView | None:
    """Counts and tag gap of the scope's resource types over every account of the organisation."""
    if not resource_types:
        return None
    wanted = set(resource_types)
    of_type = [r for r in resources if r.resource_type in wanted]
    accounts = Counter(r.account_id for r in of_type)
    gap = tag_gap(of_type, env_tag_key, standard_values)
    return OrgWideView(
        resource_types=resource_types,
        resource_count=len(of_type),
        account_count=len(accounts),
        counts_by_account=dict(sorted(accounts.items())),
        counts_by_env=dict(Counter(_env_of(r, env_tag_key) or "(no env tag)" for r in of_type)),
        tag_gap=gap if gap.accounts else None,
    )


def discover(
    *,
    key: str,
    run_id: str,
    intake: IntakeResult,
    snapshot: InventorySnapshot,
    snapshot_run_id: str,
    env_tag_key: str,
    standard_env_values: set[str],
    fallback_resources: dict[str, list[Resource]] | None = None,
    fallback_errors: list[AccountError] | None = None,
    fallback_provenance: dict[str, Provenance] | None = None,
    details: dict[str, list[dict]] | None = None,
    mode: str = "preview",
) -> Discovery:
    """Assemble the ticket's discovery from the snapshot and any per-account fallback results."""
    scope = scope_of(intake, snapshot.org_account_ids())
    in_scope, unmatched = select(snapshot.resources, scope)
    fallbacks = []
    for account in accounts_needing_fallback(scope, in_scope):
        extra = (fallback_resources or {}).get(account)
        fallbacks.append(
            AccountFallback(
                account_id=account,
                org_wide_count=0,
                per_account_count=None if extra is None else len(extra),
                provenance=(fallback_provenance or {}).get(account),
            )
        )
        in_scope.extend(extra or [])
    errors = [e for e in snapshot.errors if not scope.account_ids or e.account_id in scope.account_ids]
    errors += fallback_errors or []
    accounts = Counter(r.account_id for r in in_scope)
    gap = tag_gap(in_scope, env_tag_key, standard_env_values)
    return Discovery(
        key=key,
        step="discover",
        run_id=run_id,
        mode=mode,
        scope=scope,
        snapshot_run_id=snapshot_run_id,
        as_of=snapshot.as_of,
        resources=in_scope,
        resource_count=len(in_scope),
        account_count=len(accounts),
        org_account_count=len(snapshot.accounts),
        counts_by_account=dict(sorted(accounts.items())),
        counts_by_type=dict(Counter(r.resource_type for r in in_scope)),
        counts_by_env=dict(Counter(_env_of(r, env_tag_key) or "(no env tag)" for r in in_scope)),
        unmatched_resource_ids=unmatched,
        fallbacks=fallbacks,
        tag_gap=gap if gap.accounts else None,
        org_wide=org_wide_view(snapshot.resources, scope.resource_types, env_tag_key, standard_env_values),
        details=details or {},
        errors=errors,
        gate={
            "org_wide_attempted": bool(snapshot.provenance),
            "zero_results_cross_checked": all(f.per_account_count is not None for f in fallbacks),
            "resource_count_documented": True,
            "every_account_readable": not errors,
        },
        provenance=snapshot.provenance + [f.provenance for f in fallbacks if f.provenance],
    )
