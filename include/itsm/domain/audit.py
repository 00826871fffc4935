"""The per-ticket audit log: append-only entries chained by SHA-256.

Each entry's hash covers its content and the previous entry's hash, so editing,
removing or reordering any entry breaks every hash after it. Storage is the evidence
adapter's job; this module only builds and verifies chains.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel, Field

GENESIS_HASH = "0" * 64


class AuditEntry(BaseModel):
    seq: int
    ts: datetime
    ticket: str
    actor: str  # an Airflow user, "itsm-cli", or "system:<dag_id>"
    action: str  # preview, approval, rejection, write, ...
    step: str | None = None
    run_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str = ""

    def content_hash(self) -> str:
        payload = self.model_dump(mode="json", exclude={"hash"})
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class ChainVerdict(BaseModel):
    ticket: str
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None


def next_entry(
    previous: AuditEntry | None,
    *,
    ticket: str,
    actor: str,
    action: str,
    step: str | None = None,
    run_id: str | None = None,
    detail: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> AuditEntry:
    """Build the entry that follows `previous` (None starts the chain)."""
    entry = AuditEntry(
        seq=previous.seq + 1 if previous else 1,
        ts=ts or datetime.now(timezone.utc),
        ticket=ticket,
        actor=actor,
        action=action,
        step=step,
        run_id=run_id,
        detail=detail or {},
        prev_hash=previous.hash if previous else GENESIS_HASH,
    )
    entry.hash = entry.content_hash()
    return entry


def verify_chain(ticket: str, entries: Iterable[AuditEntry]) -> ChainVerdict:
    """Check sequence numbers, links and hashes; report the first entry that fails."""
    previous_hash, count = GENESIS_HASH, 0
    for count, entry in enumerate(entries, start=1):
        if entry.seq != count:
            return ChainVerdict(ticket=ticket, entries=count, ok=False, first_bad_seq=entry.seq,
                                reason=f"expected seq {count}, found {entry.seq} (entry missing or reordered)")
        if entry.ticket != ticket:
            return ChainVerdict(ticket=ticket, entries=count, ok=False, first_bad_seq=entry.seq,
                                reason=f"entry belongs to {entry.ticket}")
        if entry.prev_hash != previous_hash:
            return ChainVerdict(ticket=ticket, entries=count, ok=False, first_bad_seq=entry.seq,
                                reason="prev_hash does not match the previous entry")
        if entry.hash != entry.content_hash():
            return ChainVerdict(ticket=ticket, entries=count, ok=False, first_bad_seq=entry.seq,
                                reason="content was changed after it was written")
        previous_hash = entry.hash
    return ChainVerdict(ticket=ticket, entries=count, ok=True)
