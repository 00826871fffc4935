"""The per-ticket audit log: entries hash-chained, keyed with HMAC-SHA256 and anchored outside the log.

- `hash`: SHA-256 of an entry's content, which includes `prev_hash` (the entry before's `hash`). An
  entry changed without recomputing it verifies as *edited*.
- `mac`: HMAC-SHA256 of the same content under the audit key (the password of an Airflow
  connection). Recomputing the hashes after an edit needs no secret; recomputing the MACs does,
  so an entry re-hashed without the key verifies as *forged*.
- Every append also writes an `AuditAnchor` (seq, the entry's hash, its own MAC) to a separate,
  write-once store. The highest anchor is the chain's head, so removing the last entries
  (*truncated*) or the whole log (*deleted*) is detected even though the remaining entries are
  consistent.

Storage is the evidence adapter's job; this module only builds, signs and verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError, computed_field

GENESIS_HASH = "0" * 64
MIN_KEY_CHARS = 32  # the audit key: at least this many characters (e.g. `openssl rand -hex 32`)
# Domain separation: an entry's MAC can never pass as an anchor's and the other way round.
_ENTRY_DOMAIN = b"itsm-audit-entry\n"
_ANCHOR_DOMAIN = b"itsm-audit-anchor\n"
_KEY_ID_DOMAIN = b"itsm-audit-key-id"
UNANCHORED_TOLERANCE = 1  # entries past the head an interrupted append can leave (entry written, anchor not yet)


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, domain: bytes, content: bytes) -> str:
    return hmac.new(key, domain + content, hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name of a key (HMAC of a constant): tells a wrong key from a forgery in a verdict."""
    return hmac.new(key, _KEY_ID_DOMAIN, hashlib.sha256).hexdigest()[:16]


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
    key_id: str = ""
    hash: str = ""
    mac: str = ""

    def _content(self) -> bytes:
        return _canonical(self.model_dump(mode="json", exclude={"hash", "mac"}))

    def content_hash(self) -> str:
        return hashlib.sha256(self._content()).hexdigest()

    def content_mac(self, key: bytes) -> str:
        return _mac(key, _ENTRY_DOMAIN, self._content())


class AuditAnchor(BaseModel):
    """One write-once head record per append: the chain had `seq` entries, the last one hashing to `hash`."""

    ticket: str
    seq: int
    hash: str
    ts: datetime
    key_id: str = ""
    mac: str = ""

    def content_mac(self, key: bytes) -> str:
        return _mac(key, _ANCHOR_DOMAIN, _canonical(self.model_dump(mode="json", exclude={"mac"})))


class ChainStatus(StrEnum):
    INTACT = "intact"  # every entry checks out and the log reaches the anchored head
    TRUNCATED = "truncated"  # the log ends before the anchored head: its last entries were removed
    DELETED = "deleted"  # anchors exist, the log has no entry at all
    EDITED = "edited"  # an entry's content, order, link or anchor record changed, or an entry is unreadable
    FORGED = "forged"  # an entry or anchor fails its HMAC: written or rewritten without the audit key
    UNANCHORED = "unanchored"  # more entries past the head than an interrupted append leaves
    MISSING = "missing"  # the ticket has evidence artifacts but neither an audit log nor an anchor
    NONE = "none"  # nothing at all is recorded for this key (no log, no anchor, no evidence)


class ChainVerdict(BaseModel):
    ticket: str
    status: ChainStatus
    entries: int = 0  # entries in the log (the highest seq read)
    anchored_seq: int = 0  # the head the anchor store holds
    first_bad_seq: int | None = None
    reason: str | None = None

    @computed_field
    @property
    def ok(self) -> bool:
        return self.status == ChainStatus.INTACT

    def summary(self) -> str:
        """One line naming what was found."""
        head = f"{self.ticket}: audit chain"
        at = f" at seq {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        why = f": {self.reason}" if self.reason else ""
        match self.status:
            case ChainStatus.INTACT:
                return f"{head} intact ({self.entries} entries, anchored at seq {self.anchored_seq}){why}"
            case ChainStatus.TRUNCATED:
                return f"{head} TRUNCATED (log ends at {self.entries}, anchor says {self.anchored_seq})"
            case ChainStatus.DELETED:
                return f"{head} DELETED (no entries; anchor says {self.anchored_seq})"
            case ChainStatus.EDITED:
                return f"{head} EDITED{at}{why}"
            case ChainStatus.FORGED:
                return f"{head} FORGED{at} (HMAC mismatch){why}"
            case ChainStatus.UNANCHORED:
                return f"{head} UNANCHORED ({self.entries} entries, anchor says {self.anchored_seq}){why}"
            case ChainStatus.MISSING:
                return f"{head} MISSING{why}"
        return f"{self.ticket}: nothing recorded{why}"


def next_entry(
    previous: AuditEntry | None,
    *,
    key: bytes,
    ticket: str,
    actor: str,
    action: str,
    step: str | None = None,
    run_id: str | None = None,
    detail: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> AuditEntry:
    """Build and sign the entry that follows `previous` (None starts the chain)."""
    entry = AuditEntry(
        seq=previous.seq + 1 if previous else 1,
        ts=ts or datetime.now(UTC),
        ticket=ticket,
        actor=actor,
        action=action,
        step=step,
        run_id=run_id,
        detail=detail or {},
        prev_hash=previous.hash if previous else GENESIS_HASH,
        key_id=key_id(key),
    )
    entry.hash = entry.content_hash()
    entry.mac = entry.content_mac(key)
    return entry


def anchor_for(entry: AuditEntry, key: bytes, ts: datetime | None = None) -> AuditAnchor:
    anchor = AuditAnchor(
        ticket=entry.ticket, seq=entry.seq, hash=entry.hash, ts=ts or datetime.now(UTC), key_id=key_id(key)
    )
    anchor.mac = anchor.content_mac(key)
    return anchor


def _key_hint(found: str, key: bytes) -> str:
    configured = key_id(key)
    if found == configured:
        return ""
    return f"; signed with key id {found or '(none)'}, the configured key's id is {configured}"


def entry_problem(entry: AuditEntry, previous: AuditEntry | None, key: bytes) -> tuple[ChainStatus, str] | None:
    """What is wrong with `entry` as the successor of `previous` (None: it checks out)."""
    if entry.hash != entry.content_hash():
        return ChainStatus.EDITED, "content was changed after it was written (hash mismatch)"
    if not hmac.compare_digest(entry.mac, entry.content_mac(key)):
        return ChainStatus.FORGED, "entry was written or rewritten without the audit key" + _key_hint(entry.key_id, key)
    expected = previous.hash if previous else GENESIS_HASH
    if entry.prev_hash != expected:
        return ChainStatus.EDITED, f"prev_hash does not match entry {entry.seq - 1}"
    return None


def anchor_problem(anchor: AuditAnchor, key: bytes) -> str | None:
    if not hmac.compare_digest(anchor.mac, anchor.content_mac(key)):
        return f"anchor record {anchor.seq} was written without the audit key" + _key_hint(anchor.key_id, key)
    return None


def _seq_of(name: str) -> int | None:
    stem = name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def verify_chain(
    ticket: str,
    entries: Iterable[tuple[str, str]],
    anchors: Iterable[tuple[str, str]],
    key: bytes,
    *,
    has_evidence: bool = False,
) -> ChainVerdict:
    """Verify the stored log (`(object name, text)` per entry) against the anchor store's records.

    Anchors are checked first (they are the trust root), then each entry in order; the first
    problem found is the verdict. `has_evidence`: the ticket has artifacts, so it must have a log.
    """

    def verdict(status: ChainStatus, seq: int | None = None, reason: str | None = None, **counts) -> ChainVerdict:
        return ChainVerdict(ticket=ticket, status=status, first_bad_seq=seq, reason=reason, **counts)

    heads: list[AuditAnchor] = []
    for name, text in sorted(anchors):
        try:
            heads.append(AuditAnchor.model_validate_json(text))
        except ValidationError as exc:
            return verdict(ChainStatus.EDITED, _seq_of(name), f"anchor record {name} is unreadable: {_first_line(exc)}")
    heads.sort(key=lambda a: a.seq)
    for position, anchor in enumerate(heads, start=1):
        if problem := anchor_problem(anchor, key):
            return verdict(ChainStatus.FORGED, anchor.seq, problem)
        if anchor.ticket != ticket:
            return verdict(ChainStatus.EDITED, anchor.seq, f"anchor record belongs to {anchor.ticket}")
        if anchor.seq != position:
            return verdict(ChainStatus.EDITED, position, f"anchor record {position} is missing")
    anchored = len(heads)

    log = sorted(entries)
    if not log:
        if anchored:
            return verdict(ChainStatus.DELETED, 1, anchored_seq=anchored)
        if has_evidence:
            return verdict(ChainStatus.MISSING, reason="the ticket has evidence artifacts but no audit log or anchor")
        return verdict(ChainStatus.NONE, reason="no audit entries, no anchor and no evidence artifact")

    previous: AuditEntry | None = None
    for expected, (name, text) in enumerate(log, start=1):
        counts = {"entries": expected - 1, "anchored_seq": anchored}
        try:
            entry = AuditEntry.model_validate_json(text)
        except ValidationError as exc:
            return verdict(ChainStatus.EDITED, expected, f"entry {name} is unreadable: {_first_line(exc)}", **counts)
        if entry.seq != expected or _seq_of(name) != expected:
            found = entry.seq if _seq_of(name) == entry.seq else f"{name} holding seq {entry.seq}"
            reason = f"expected seq {expected}, found {found} (entry removed, renamed or reordered)"
            return verdict(ChainStatus.EDITED, expected, reason, **counts)
        if entry.ticket != ticket:
            return verdict(ChainStatus.EDITED, expected, f"entry belongs to {entry.ticket}", **counts)
        if problem := entry_problem(entry, previous, key):
            return verdict(problem[0], expected, problem[1], **counts)
        if expected <= anchored and heads[expected - 1].hash != entry.hash:
            return verdict(ChainStatus.EDITED, expected, "entry differs from its anchor record", **counts)
        previous = entry
    length = len(log)
    if anchored > length:
        return verdict(ChainStatus.TRUNCATED, length + 1, entries=length, anchored_seq=anchored)
    if length - anchored > UNANCHORED_TOLERANCE:
        reason = f"entries {anchored + 1}..{length} have no anchor record (anchor store changed or unreachable?)"
        return verdict(ChainStatus.UNANCHORED, anchored + 1, reason, entries=length, anchored_seq=anchored)
    note = f"entry {length} not anchored yet (an append was interrupted)" if length > anchored else None
    return verdict(ChainStatus.INTACT, reason=note, entries=length, anchored_seq=anchored)
