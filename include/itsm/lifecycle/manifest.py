"""The manifest: the tickets the lifecycle DAG generator builds DAG pairs for.

One JSON document on the Airflow side (`runtime.manifest_path`, never inside a read-only DAG folder),
written by the nightly sweep and by the register task that `itsm lifecycle KEY --execute` triggers,
and read at parse time by the DAG processor and by each worker (which parses the DAG file to run a
task). Either a local file on a volume all of them mount (written atomically, under a lock), or an
`s3://` object when no disk is shared (include/itsm/adapters/manifest_store.py: compare-and-swap
writes, readers on a copy in their own temp folder). Kept free of heavy imports: the DAG file
imports this module on every parse.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from include.itsm.adapters.manifest_store import S3Manifest, is_s3
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


def _parsed(text: str | None) -> Manifest:
    return Manifest.model_validate_json(text) if text else Manifest(generated=datetime.now(UTC))


def read_manifest(path: str | Path, max_age_s: float = 0) -> Manifest:
    """The manifest (empty before its first write). An S3 manifest is read from this process's copy when
    that is younger than `max_age_s`."""
    if is_s3(path):
        return _parsed(S3Manifest(str(path)).cached(max_age_s))
    path = Path(path)
    return _parsed(path.read_text() if path.exists() else None)


def write_manifest(path: str | Path, manifest: Manifest) -> None:
    """Atomic replace: the DAG processor never parses half a manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(manifest.model_dump_json(indent=2))
    os.replace(tmp, path)


def update_manifest(path: str | Path, change: Callable[[Manifest], Manifest]) -> Manifest:
    """Read, change and write the manifest under an exclusive lock (a compare-and-swap on S3): a sweep
    and a registration that finish together both keep their entries."""
    if is_s3(path):
        text = S3Manifest(str(path)).update(lambda current: change(_parsed(current)).model_dump_json(indent=2))
        return Manifest.model_validate_json(text)
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
