"""The nightly sweep: one org-wide snapshot, then steps 1-3 for every open OPS ticket, in batches.

The DAG maps `assess_batch` over batches of keys (never one task per ticket); `itsm sweep`
runs the same functions in-process. The summary artifact and the manifest (the tickets the
lifecycle DAG generator reads) are written last, from the batches' small outcomes.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from pydantic import Field

from include.itsm.adapters.evidence import EvidenceError
from include.itsm.application.assess import assess_keys
from include.itsm.application.context import RunContext
from include.itsm.application.manifest import TicketOutcome, merge_manifest, read_manifest, write_manifest
from include.itsm.application.discovery import take_org_snapshot
from include.itsm.domain.artifact import Artifact
from include.itsm.domain.inventory import InventorySnapshot

SNAPSHOT_KEY = "_org"
SUMMARY_KEY = "_sweep"


def fetch_open_keys(ctx: RunContext, jql: str | None = None, max_tickets: int | None = None) -> list[str]:
    """Open tickets of the customer's project, oldest first (paginated JQL)."""
    from include.itsm.application.tenancy import belongs_to, customer_jql

    tenant = customer_jql(ctx.settings, ctx.customer)
    jql = f"({tenant}) AND ({jql})" if tenant and jql else (tenant or jql)
    keys = []
    for ticket in ctx.jira.search_open_tickets(ctx.customer.jira_project, jql=jql):
        if not tenant and not belongs_to(ctx.settings, ctx.customer, ticket.labels):
            continue  # another customer's ticket (label `customer:<id>`)
        keys.append(ticket.key)
        if max_tickets and len(keys) >= max_tickets:
            break
    return keys


def batches(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def snapshot_org(ctx: RunContext) -> dict:
    """Take and store the run's one org-wide snapshot; return its small description for XCom."""
    snapshot = take_org_snapshot(ctx)
    ctx.evidence.write(SNAPSHOT_KEY, ctx.run_id, "discover", snapshot)
    return {"run_id": ctx.run_id, "resources": len(snapshot.resources), "accounts": len(snapshot.accounts),
            "errors": len(snapshot.errors), "api_calls": sum(snapshot.api_calls.values())}


def load_snapshot(ctx: RunContext, snapshot_run_id: str) -> InventorySnapshot:
    return ctx.evidence.read(SNAPSHOT_KEY, snapshot_run_id, "discover", InventorySnapshot)


def current_snapshot(ctx: RunContext) -> InventorySnapshot:
    """The newest org-wide snapshot younger than `runtime.snapshot_max_age_hours`, else a new one."""
    try:
        latest = ctx.evidence.latest(SNAPSHOT_KEY, "discover", InventorySnapshot)
        if datetime.now(timezone.utc) - latest.as_of < timedelta(hours=ctx.settings.runtime.snapshot_max_age_hours):
            return latest
    except EvidenceError:
        pass
    return load_snapshot(ctx, snapshot_org(ctx)["run_id"])


def assess_batch(ctx: RunContext, keys: list[str], snapshot_run_id: str, *, annotate: bool) -> list[dict]:
    """One mapped task: steps 1-3 for each key; outcomes as plain dicts (small XCom)."""
    snapshot = load_snapshot(ctx, snapshot_run_id)
    return [o.model_dump(mode="json") for o in assess_keys(ctx, keys, snapshot, annotate=annotate)]


class SweepSummary(Artifact):
    tickets: int
    succeeded: int
    failed: int
    by_type: dict[str, int] = Field(default_factory=dict)
    by_priority: dict[str, int] = Field(default_factory=dict)
    failures: list[dict] = Field(default_factory=list)  # {"key", "error"}
    snapshot: dict = Field(default_factory=dict)
    seconds_per_ticket: dict[str, float] = Field(default_factory=dict)  # mean, max
    manifest_path: str = ""


def summarize(ctx: RunContext, outcome_dicts: list[dict], snapshot: dict, open_keys: list[str],
              complete: bool = True) -> SweepSummary:
    """The run summary artifact and the refreshed manifest (`complete`: every open ticket was fetched)."""
    outcomes = [TicketOutcome.model_validate(o) for o in outcome_dicts]
    ok = [o for o in outcomes if o.ok]
    manifest_path = ctx.settings.runtime.manifest_path
    grace = timedelta(days=ctx.settings.runtime.manifest_grace_days)
    write_manifest(manifest_path, merge_manifest(read_manifest(manifest_path), outcomes,
                                                 set(open_keys) if complete else None, grace, ctx.customer.id))
    durations = [o.seconds for o in outcomes] or [0.0]
    summary = SweepSummary(
        key=SUMMARY_KEY, step="sweep", run_id=ctx.run_id, mode=ctx.mode, tickets=len(outcomes),
        succeeded=len(ok), failed=len(outcomes) - len(ok),
        by_type=dict(Counter((o.ticket_type or "?") + (f"/{o.change_type}" if o.change_type else "") for o in ok)),
        by_priority=dict(sorted(Counter(o.priority or "?" for o in ok).items())),
        failures=[{"key": o.key, "error": o.error} for o in outcomes if not o.ok],
        snapshot=snapshot, manifest_path=str(manifest_path),
        seconds_per_ticket={"mean": round(sum(durations) / len(durations), 3), "max": max(durations)},
    )
    ctx.evidence.write(SUMMARY_KEY, ctx.run_id, "summary", summary)
    return summary


def run_sweep(ctx: RunContext, *, jql: str | None = None, max_tickets: int | None = None) -> SweepSummary:
    """The whole sweep in-process (`itsm sweep`), the same functions the DAG's tasks call."""
    keys = fetch_open_keys(ctx, jql, max_tickets)
    snapshot = snapshot_org(ctx)
    outcomes: list[dict] = []
    for batch in batches(keys, ctx.settings.runtime.sweep_batch_size):
        outcomes += assess_batch(ctx, batch, ctx.run_id, annotate=ctx.execute)
    return summarize(ctx, outcomes, snapshot, keys, complete=not jql and not max_tickets)
