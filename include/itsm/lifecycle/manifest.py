"""The manifest: the tickets the lifecycle DAG generator builds DAG pairs for.

A local JSON file on the Airflow side (`runtime.manifest_path`, never inside a read-only DAG folder:
a volume the workers write and the DAG processor reads at parse time, so no network or DB is needed
there), written atomically by the nightly sweep and by the register task that `itsm lifecycle KEY
--execute` triggers. Kept free of heavy imports: the DAG file imports this module on every parse.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from include.itsm.core.ticket import validate_ticket_key


class TicketOutcome(BaseModel):
    """One line of a sweep batch's result (small: it travels through XCom)."""

    key: str
    ok: bool
    error: str | None = None
    ticket_type: str | None = None
    change_type: str | None = None
    priority: str | None = None
    summary: str | None = None
    resource_count: int | None = None
    account_count: int | None = None
    seconds: float = 0.0


class ManifestEntry(BaseModel):
    key: str
    ticket_type: str | None = None
    change_type: str | None = None
    priority: str | None = None
    summary: str = ""
    on_demand: bool = False  # added by `itsm lifecycle KEY` (the sweep may not have seen it yet)
    updated: datetime
    closed_since: datetime | None = None  # first sweep that did not find it open; leaves after the grace period
    customer: str | None = None  # the customer whose sweep (or `itsm lifecycle`) added it

    _key = field_validator("key")(classmethod(lambda cls, v: validate_ticket_key(v)))


class Manifest(BaseModel):
    generated: datetime
    tickets: dict[str, ManifestEntry] = Field(default_factory=dict)

    @field_validator("tickets")
    @classmethod
    def _keys(cls, tickets: dict[str, ManifestEntry]) -> dict[str, ManifestEntry]:
        """Keys become DAG ids, JQL and evidence paths: a hand-edited manifest may not smuggle others in."""
        for key, entry in tickets.items():
            validate_ticket_key(key)
            if entry.key != key:
                raise ValueError(f"manifest entry {key!r} names another ticket ({entry.key!r})")
        return tickets


def read_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    if not path.exists():
        return Manifest(generated=datetime.now(UTC))
    return Manifest.model_validate_json(path.read_text())


def write_manifest(path: str | Path, manifest: Manifest) -> None:
    """Atomic replace: the DAG processor never parses half a manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(manifest.model_dump_json(indent=2))
    os.replace(tmp, path)


def update_manifest(path: str | Path, change: Callable[[Manifest], Manifest]) -> Manifest:
    """Read, change and write the manifest under an exclusive lock: a sweep and a registration that
    finish together both keep their entries."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = change(read_manifest(path))
        write_manifest(path, manifest)
    return manifest


def merge_manifest(
    current: Manifest,
    outcomes: list[TicketOutcome],
    open_keys: set[str] | None,
    grace: timedelta = timedelta(days=7),
    customer: str | None = None,
) -> Manifest:
    """This sweep's successes replace their entries. A ticket no longer open keeps its DAG pair for
    `grace` (a lifecycle run still waiting on a gate must find its DAG), then leaves. `open_keys`
    None means the sweep saw only part of the project (narrowing JQL, a ticket limit): nobody leaves.
    Another customer's entries are not this sweep's to judge."""
    now = datetime.now(UTC)
    tickets = {}
    for key, entry in current.tickets.items():
        if entry.customer != customer or open_keys is None or key in open_keys:
            tickets[key] = entry.model_copy(update={"closed_since": None}) if open_keys is not None else entry
        elif entry.closed_since is None:
            tickets[key] = entry.model_copy(update={"closed_since": now})
        elif now - entry.closed_since < grace:
            tickets[key] = entry
    for outcome in outcomes:
        if outcome.ok:
            previous = tickets.get(outcome.key)
            tickets[outcome.key] = ManifestEntry(
                key=outcome.key,
                ticket_type=outcome.ticket_type,
                change_type=outcome.change_type,
                priority=outcome.priority,
                summary=outcome.summary or "",
                updated=now,
                on_demand=bool(previous and previous.on_demand),
                customer=customer,
            )
    return Manifest(generated=now, tickets=dict(sorted(tickets.items())))
