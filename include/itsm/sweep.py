"""The nightly sweep: one org-wide snapshot, then steps 1-3 for every open OPS ticket, in batches.

One read per ticket: `fetch_open_tickets` searches the customer's open tickets once (every field
the steps use, with the changelog) and stores them in batches in the evidence store; the DAG maps
`assess_batch` over the batches (never one task per ticket), and a batch reads its tickets from
there, asking Jira again only for a ticket whose changelog or comments the search truncated.
`itsm sweep` runs the same functions in-process. The summary artifact and the manifest (the tickets
the lifecycle DAG generator reads) are written last, from the batches' small outcomes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from pydantic import Field

from include.itsm.context import RunContext
from include.itsm.core.artifact import Artifact
from include.itsm.core.ticket import Ticket, UnreadableTicket
from include.itsm.lifecycle.manifest import TicketOutcome, merge_manifest, update_manifest
from include.itsm.steps.assess import assess_tickets
from include.itsm.steps.discover.service import load_snapshot, snapshot_org
from include.itsm.tenancy import belongs_to, customer_jql

SUMMARY_KEY = "_sweep"


class TicketBatch(Artifact):
    """One batch of the sweep's tickets as the search returned them (what `assess_batch` works on);
    tickets the search returned but that cannot be read are kept with their reason."""

    tickets: list[Ticket]
    unreadable: list[UnreadableTicket] = Field(default_factory=list)


def batch_name(index: int) -> str:
    return f"batch-{index:04d}"


def fetch_open_tickets(ctx: RunContext, jql: str | None = None, max_tickets: int | None = None) -> list[dict]:
    """Search the customer's open tickets once, oldest first, and store them in batches of
    `runtime.sweep_batch_size`; returns [{"batch": name, "keys": [...]}] (small: it travels through XCom)."""
    tenant = customer_jql(ctx.settings, ctx.customer)
    jql = f"({tenant}) AND ({jql})" if tenant and jql else (tenant or jql)
    size = ctx.settings.runtime.sweep_batch_size
    refs: list[dict] = []
    pending: list[Ticket] = []
    unreadable: list[UnreadableTicket] = []
    fetched = 0

    def flush() -> None:
        name = batch_name(len(refs) + 1)
        batch = TicketBatch(
            key=SUMMARY_KEY, step=name, run_id=ctx.run_id, mode=ctx.mode, tickets=pending, unreadable=unreadable
        )
        ctx.evidence.write(SUMMARY_KEY, ctx.run_id, name, batch)
        refs.append({"batch": name, "keys": [t.key for t in (*pending, *unreadable)]})
        pending.clear()
        unreadable.clear()

    search = ctx.jira.search_open_tickets(ctx.customer.jira_project, jql=jql, unreadable=unreadable)
    for ticket in search:
        if not tenant and not belongs_to(ctx.settings, ctx.customer, ticket.labels):
            continue  # another customer's ticket (label `customer:<id>`)
        pending.append(ticket)
        fetched += 1
        if len(pending) + len(unreadable) >= size:
            flush()
        if max_tickets and fetched >= max_tickets:
            break
    if pending or unreadable:
        flush()
    return refs


def open_keys(refs: list[dict]) -> list[str]:
    return [key for ref in refs for key in ref["keys"]]


def snapshot_summary(ctx: RunContext) -> dict:
    """Take and store the run's one org-wide snapshot; its small description for XCom."""
    snapshot = snapshot_org(ctx)
    return {
        "run_id": ctx.run_id,
        "resources": len(snapshot.resources),
        "accounts": len(snapshot.accounts),
        "errors": len(snapshot.errors),
        "api_calls": sum(snapshot.api_calls.values()),
    }


def assess_batch(ctx: RunContext, batch: dict, snapshot_run_id: str, *, annotate: bool) -> list[dict]:
    """One mapped task: steps 1-3 for each ticket of the stored batch; outcomes as plain dicts (small XCom)."""
    stored = ctx.evidence.read(SUMMARY_KEY, ctx.run_id, batch["batch"], TicketBatch)
    snapshot = load_snapshot(ctx, snapshot_run_id)
    outcomes = [TicketOutcome(key=u.key, ok=False, error=f"unreadable: {u.error}"[:500]) for u in stored.unreadable]
    outcomes += assess_tickets(ctx, stored.tickets, snapshot, annotate=annotate)
    return [o.model_dump(mode="json") for o in outcomes]


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


def summarize(
    ctx: RunContext, outcome_dicts: list[dict], snapshot: dict, open_keys: list[str], complete: bool = True
) -> SweepSummary:
    """The run summary artifact and the refreshed manifest (`complete`: every open ticket was fetched)."""
    outcomes = [TicketOutcome.model_validate(o) for o in outcome_dicts]
    ok = [o for o in outcomes if o.ok]
    manifest_path = ctx.settings.runtime.manifest_path
    grace = timedelta(days=ctx.settings.runtime.manifest_grace_days)
    update_manifest(
        manifest_path,
        lambda current: merge_manifest(current, outcomes, set(open_keys) if complete else None, grace, ctx.customer.id),
    )
    durations = [o.seconds for o in outcomes] or [0.0]
    summary = SweepSummary(
        key=SUMMARY_KEY,
        step="sweep",
        run_id=ctx.run_id,
        mode=ctx.mode,
        tickets=len(outcomes),
        succeeded=len(ok),
        failed=len(outcomes) - len(ok),
        by_type=dict(Counter((o.ticket_type or "?") + (f"/{o.change_type}" if o.change_type else "") for o in ok)),
        by_priority=dict(sorted(Counter(o.priority or "?" for o in ok).items())),
        failures=[{"key": o.key, "error": o.error} for o in outcomes if not o.ok],
        snapshot=snapshot,
        manifest_path=str(manifest_path),
        seconds_per_ticket={"mean": round(sum(durations) / len(durations), 3), "max": max(durations)},
    )
    ctx.evidence.write(SUMMARY_KEY, ctx.run_id, "summary", summary)
    return summary


def run_sweep(
    ctx: RunContext,
    *,
    jql: str | None = None,
    max_tickets: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SweepSummary:
    """The whole sweep in-process (`itsm sweep`), the same functions the DAG's tasks call; `progress`
    is told after each batch."""
    refs = fetch_open_tickets(ctx, jql, max_tickets)
    snapshot = snapshot_summary(ctx)
    outcomes: list[dict] = []
    for n, ref in enumerate(refs, 1):
        outcomes += assess_batch(ctx, ref, ctx.run_id, annotate=ctx.execute)
        if progress:
            progress(f"batch {n}/{len(refs)}: {len(outcomes)} tickets assessed")
    return summarize(ctx, outcomes, snapshot, open_keys(refs), complete=not jql and not max_tickets)
