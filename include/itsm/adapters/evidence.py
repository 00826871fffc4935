"""The evidence store: step artifacts and the audit log under one ObjectStoragePath root, and the
audit anchors under another.

Layout: `<root>/<KEY>/<run id>/<step>.json` (earlier runs are kept) and the audit log as one
object per entry, `<root>/<KEY>/audit/<seq>.json`, so appending never rewrites an object (works
on S3 and under Object Lock). Artifacts go to a temporary sibling first and are then renamed, so
a reader never sees half an artifact. Audit entries and anchors are created exclusively (a hard
link on a file root, `If-None-Match: *` on S3): of two racing appends one wins, the other reads
the new head and retries, so no entry is ever overwritten.

The anchor store (`<anchor root>/<KEY>/<seq>.json`, one HMAC-signed head record per append) lives
outside the evidence root, in production an S3 bucket or prefix under Object Lock; see
`include/itsm/core/audit.py` for what the anchors and the HMAC key detect.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from include.itsm.config import ConfigError, roots_overlap
from include.itsm.core.audit import (
    MIN_KEY_CHARS,
    AuditAnchor,
    AuditEntry,
    ChainVerdict,
    anchor_for,
    anchor_problem,
    entry_problem,
    next_entry,
    verify_chain,
)
from include.itsm.core.ticket import TICKET_KEY_PATTERN
from include.itsm.ports import EvidenceError

if TYPE_CHECKING:
    from include.itsm.config import Customer, Settings

ORG_KEYS = ("_org", "_sweep", "_bridge")
AUDIT_DIR = "audit"
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")
_SEQ_NAME = re.compile(r"[0-9]{8}\.json")
APPEND_ATTEMPTS = 20  # racing appends: each loser re-reads the head and tries the next seq (jittered backoff)

M = TypeVar("M", bound=BaseModel)


class AuditConfigError(ConfigError):
    """No usable audit HMAC key (undefined or short) or no anchor store: nothing is appended or verified."""


class AuditChainError(RuntimeError):
    """An append was refused: the stored chain no longer matches its anchor or its MACs."""


class ObjectExists(FileExistsError):
    """An exclusive create found the object already there (another writer got it first)."""


def _key_segment(key: str) -> str:
    if key in ORG_KEYS or (isinstance(key, str) and TICKET_KEY_PATTERN.fullmatch(key)):
        return key
    raise ValueError(f"evidence key {key!r} is neither a ticket key nor one of {ORG_KEYS}")


def run_segment(run_id: str) -> str:
    """Airflow run ids hold ':' and '+': map them to one safe path segment, never '..'."""
    segment = _SAFE_SEGMENT.sub("_", run_id).strip("._")
    if not segment:
        raise ValueError(f"run id {run_id!r} gives an empty path segment")
    return segment


def _seqs(names: list[str]) -> list[int]:
    """The sequence numbers of entry/anchor object names (`00000042.json`), ascending."""
    return sorted(int(n[:-5]) for n in names if _SEQ_NAME.fullmatch(n))


def audit_key_from_connection(conn_id: str) -> bytes:
    """The password of Airflow connection `conn_id` (metadata DB, secrets backend or AIRFLOW_CONN_<ID>).

    Never a default: a missing or short key fails here, before anything is appended or verified."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    fix = f"define connection {conn_id!r} whose password is {MIN_KEY_CHARS}+ random characters (`openssl rand -hex 32`)"
    try:
        password = BaseHook.get_connection(conn_id).password or ""
    except AirflowNotFoundException:
        raise AuditConfigError(f"audit key: connection {conn_id!r} is not defined: {fix}") from None
    if len(password) < MIN_KEY_CHARS:
        raise AuditConfigError(f"audit key: connection {conn_id!r} has a {len(password)}-character password: {fix}")
    return password.encode()


class ObjectRoot:
    """An ObjectStoragePath root and the writes both stores share. `object_lock` (mode COMPLIANCE|GOVERNANCE,
    days) on an `s3://` root: every object is written with S3 Object Lock retention (`ObjectLockMode` /
    `ObjectLockRetainUntilDate` on the PUT) through the `conn_id` connection's S3 client (or the one
    named in the URL, `s3://<conn>@bucket/...`); the bucket must have been created with Object Lock."""

    def __init__(self, root: str, *, object_lock=None, conn_id: str = "aws_evidence", s3_client=None):
        from airflow.sdk import ObjectStoragePath  # lazy: keeps CLI start-up cheap

        self.root = ObjectStoragePath(root)
        self.object_lock = object_lock
        self.conn_id = getattr(self.root, "conn_id", None) or conn_id
        self._s3 = s3_client

    @property
    def is_s3(self) -> bool:
        return str(self.root).startswith(("s3://", "s3a://"))

    def s3_client(self):
        if self._s3 is None:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            self._s3 = S3Hook(aws_conn_id=self.conn_id).get_conn()
        return self._s3

    @staticmethod
    def s3_location(path) -> tuple[str, str]:
        """(bucket, key) of an s3:// path; a connection id in the URL (`conn@bucket`) is not part of the bucket."""
        netloc, _, key = str(path).split("://", 1)[1].partition("/")
        return netloc.rpartition("@")[2], key

    def lock_headers(self, now: datetime | None = None) -> dict[str, Any]:
        """The PutObject parameters of the configured Object Lock (empty without one)."""
        if self.object_lock is None:
            return {}
        until = (now or datetime.now(UTC)) + timedelta(days=self.object_lock.days)
        return {"ObjectLockMode": self.object_lock.mode, "ObjectLockRetainUntilDate": until}

    def _write_atomic(self, path, data: str | bytes) -> None:
        body = data.encode() if isinstance(data, str) else data
        if self.is_s3 and self.object_lock is not None:
            # A PUT is atomic on S3 (no temporary object to rename, which Object Lock would keep forever).
            bucket, key = self.s3_location(path)
            self.s3_client().put_object(
                Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256", **self.lock_headers()
            )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(body)
        tmp.rename(path)

    def _local(self, path) -> Path:
        if self.root.protocol not in ("file", "local"):
            raise ValueError(f"{self.root}: the audit log needs a file:// or s3:// root (exclusive creates)")
        return Path(path.path)

    def _create_exclusive(self, path, data: str) -> None:
        """Create `path` holding `data` unless it exists (then ObjectExists); never half-written, never replaced."""
        if self.is_s3:
            from botocore.exceptions import ClientError

            bucket, key = self.s3_location(path)
            try:
                self.s3_client().put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=data.encode(),
                    IfNoneMatch="*",
                    ChecksumAlgorithm="SHA256",
                    **self.lock_headers(),
                )
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                    raise ObjectExists(str(path)) from exc
                raise
            return
        local = self._local(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.parent / f".{local.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(data)
        try:
            os.link(tmp, local)  # atomic, and fails when the name exists
        except FileExistsError:
            raise ObjectExists(str(path)) from None
        finally:
            tmp.unlink()

    def _names(self, directory) -> list[str]:
        """Object names directly under `directory`, sorted; S3 is listed with the client (no stale cache)."""
        if self.is_s3:
            bucket, prefix = self.s3_location(directory)
            prefix = prefix.rstrip("/") + "/"
            names = []
            for page in self.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                names += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
            return sorted(n for n in names if "/" not in n)
        if not directory.exists():
            return []
        return sorted(p.name for p in directory.iterdir())

    def _read_text(self, path) -> str:
        if self.is_s3:
            bucket, key = self.s3_location(path)
            return self.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return path.read_text()

    def _records(self, directory) -> list[tuple[str, str]]:
        """(name, text) of every `*.json` object under `directory` (temporary `.` siblings skipped)."""
        return [
            (name, self._read_text(directory / name))
            for name in self._names(directory)
            if name.endswith(".json") and not name.startswith(".")
        ]


class AuditAnchors(ObjectRoot):
    """The anchor store: `<root>/<KEY>/<seq>.json`, one write-once, HMAC-signed head record per append."""

    def path(self, key: str, seq: int):
        return self.root / _key_segment(key) / f"{seq:08d}.json"

    def records(self, key: str) -> list[tuple[str, str]]:
        return self._records(self.root / _key_segment(key))

    def head(self, key: str, secret: bytes) -> AuditAnchor | None:
        """The highest anchor of `key`, its MAC checked (an unsigned head refuses the append)."""
        directory = self.root / _key_segment(key)
        seqs = _seqs(self._names(directory))
        if not seqs:
            return None
        try:
            anchor = AuditAnchor.model_validate_json(self._read_text(self.path(key, seqs[-1])))
        except ValueError:
            raise AuditChainError(
                f"{key}: anchor record {seqs[-1]} is unreadable: run `itsm audit verify {key}`; nothing appended"
            ) from None
        if problem := anchor_problem(anchor, secret):
            raise AuditChainError(f"{key}: {problem}: run `itsm audit verify {key}`; nothing appended")
        return anchor

    def put(self, anchor: AuditAnchor) -> None:
        """Write the anchor; one already there for the same entry (a concurrent backfill) is fine."""
        path = self.path(anchor.ticket, anchor.seq)
        try:
            self._create_exclusive(path, anchor.model_dump_json())
        except ObjectExists:
            existing = AuditAnchor.model_validate_json(self._read_text(path))
            if existing.hash != anchor.hash:
                raise AuditChainError(
                    f"{anchor.ticket}: anchor {anchor.seq} already records another entry: "
                    f"run `itsm audit verify {anchor.ticket}`"
                ) from None


class EvidenceStore(ObjectRoot):
    """Artifacts and the audit log. `anchors`: the anchor store (required to append or verify the audit
    log, never inside `root`); `audit_key`: the HMAC key, else the password of connection `audit_conn_id`."""

    def __init__(
        self,
        root: str,
        *,
        anchors: AuditAnchors | None = None,
        audit_conn_id: str = "itsm_audit",
        audit_key: bytes | None = None,
        object_lock=None,
        conn_id: str = "aws_evidence",
        s3_client=None,
    ):
        super().__init__(root, object_lock=object_lock, conn_id=conn_id, s3_client=s3_client)
        self._latest: dict[tuple[str, str], BaseModel] = {}
        self.reads: Counter[tuple[str, str]] = Counter()  # loads from storage per (key, step): once per run
        if anchors is not None and roots_overlap(str(self.root), str(anchors.root)):
            raise ValueError(f"audit anchors at {anchors.root} must be outside the evidence root {self.root}")
        self.anchors = anchors
        self.audit_conn_id = audit_conn_id
        self._audit_key = audit_key

    @classmethod
    def from_settings(cls, settings: Settings, customer: Customer | None = None) -> EvidenceStore:
        """The customer's store and anchor store as the configuration sets them (tasks and the CLI alike)."""
        runtime = settings.runtime
        lock = {"object_lock": runtime.object_lock, "conn_id": runtime.evidence_conn_id}
        anchors = AuditAnchors(settings.anchor_root(customer), **lock)
        return cls(settings.evidence_root(customer), anchors=anchors, audit_conn_id=runtime.audit_conn_id, **lock)

    def audit_secret(self) -> bytes:
        if self._audit_key is None:
            self._audit_key = audit_key_from_connection(self.audit_conn_id)
        if len(self._audit_key) < MIN_KEY_CHARS:
            raise AuditConfigError(f"audit key: {len(self._audit_key)} bytes, at least {MIN_KEY_CHARS} needed")
        return self._audit_key

    def anchor_store(self) -> AuditAnchors:
        if self.anchors is None:
            raise AuditConfigError(
                f"{self.root}: no audit anchor store configured (runtime.audit_anchor_root): "
                "an unanchored audit log cannot show truncation"
            )
        return self.anchors

    def artifact_path(self, key: str, run_id: str, step: str):
        return self.root / _key_segment(key) / run_segment(run_id) / f"{run_segment(step)}.json"

    def write(self, key: str, run_id: str, step: str, artifact: BaseModel) -> str:
        path = self.artifact_path(key, run_id, step)
        self._write_atomic(path, artifact.model_dump_json(indent=2))
        self._latest[(key, step)] = artifact.model_copy(deep=True)  # the newest now: no need to read it back
        return str(path)

    def _file_path(self, key: str, run_id: str, name: str):
        return self.root / _key_segment(key) / run_segment(run_id) / run_segment(name)

    def location(self, key: str, run_id: str, name: str) -> str:
        """Where a file of the run is (or will be) kept, as evidence indexes cite it."""
        return str(self._file_path(key, run_id, name))

    def write_text(self, key: str, run_id: str, name: str, text: str) -> str:
        """Rendered views (Markdown, HTML, ADF) beside the artifacts."""
        path = self._file_path(key, run_id, name)
        self._write_atomic(path, text)
        return str(path)

    def write_bytes(self, key: str, run_id: str, name: str, data: bytes) -> str:
        """Binary evidence beside the artifacts (e.g. the incident timeline PNG)."""
        path = self._file_path(key, run_id, name)
        self._write_atomic(path, data)
        return str(path)

    def read_bytes(self, key: str, run_id: str, name: str) -> bytes | None:
        path = self._file_path(key, run_id, name)
        return path.read_bytes() if path.exists() else None

    def files(self, key: str) -> list[tuple[str, bytes]]:
        """Every artifact and rendered file of the ticket, run by run ((path, content), in name order): what
        the governance record's bundle hash covers. The audit log is not a run and is not included."""
        out = []
        for run in self.runs(key):
            for path in sorted((self.root / _key_segment(key) / run).iterdir(), key=lambda p: p.name):
                if path.is_file() and not path.name.startswith("."):
                    out.append((str(path), path.read_bytes()))
        return out

    def probe(self) -> str:
        """Write, read back and delete a probe object at the root: can this process keep evidence here?"""
        probe = self.root / f".itsm-doctor-probe-{uuid.uuid4().hex}"
        self.root.mkdir(parents=True, exist_ok=True)
        probe.write_text("probe")
        if probe.read_text() != "probe":
            raise EvidenceError(f"{probe}: read back something else")
        probe.unlink()
        return f"{self.root}: write, read, delete of a probe object"

    def keys(self) -> list[str]:
        """Every ticket key with evidence (org pseudo-keys left out)."""
        if not self.root.exists():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.name not in ORG_KEYS and TICKET_KEY_PATTERN.fullmatch(p.name)
        )

    def read(self, key: str, run_id: str, step: str, model: type[M]) -> M:
        """The artifact of `step` in run `run_id` (from memory when this store already holds it)."""
        known = self._latest.get((key, step))
        if known is not None and isinstance(known, model) and getattr(known, "run_id", None) == run_id:
            return known.model_copy(deep=True)
        path = self.artifact_path(key, run_id, step)
        if not path.exists():
            raise EvidenceError(f"{key}: no {step} artifact in run {run_id}: run the {step} step first")
        self.reads[(key, step)] += 1
        return model.model_validate_json(path.read_text())

    def runs(self, key: str) -> list[str]:
        base = self.root / _key_segment(key)
        if not base.exists():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name != AUDIT_DIR)

    def latest(self, key: str, step: str, model: type[M]) -> M:
        """The newest artifact of `step` for `key` across runs (by the artifact's created time).

        Read once per store: a run asks for the same inputs many times (every step reads discover's
        artifact); the answer is kept until this store writes that step again."""
        cached = self._latest.get((key, step))
        if cached is not None and isinstance(cached, model):
            return cached.model_copy(deep=True)
        found: list[M] = []
        self.reads[(key, step)] += 1
        for run in self.runs(key):
            path = self.root / _key_segment(key) / run / f"{run_segment(step)}.json"
            if path.exists():
                found.append(model.model_validate_json(path.read_text()))
        if not found:
            raise EvidenceError(f"{key}: no {step} artifact yet: run the {step} step first")
        newest = max(found, key=lambda artifact: getattr(artifact, "created", 0))
        self._latest[(key, step)] = newest
        return newest.model_copy(deep=True)

    # --- audit log -------------------------------------------------------------------------

    def _audit_dir(self, key: str):
        return self.root / _key_segment(key) / AUDIT_DIR

    def audit_entries(self, key: str) -> Iterator[AuditEntry]:
        for _, text in self._records(self._audit_dir(key)):
            yield AuditEntry.model_validate_json(text)

    def _entry(self, key: str, seq: int) -> AuditEntry:
        return AuditEntry.model_validate_json(self._read_text(self._audit_dir(key) / f"{seq:08d}.json"))

    def _head(self, key: str, secret: bytes) -> AuditEntry | None:
        """The entry to chain onto, after checking the stored tail against the anchored head and
        anchoring any checked entry an interrupted append left unanchored; refuses a broken tail."""
        anchors = self.anchor_store()
        head = anchors.head(key, secret)  # read before the log: a concurrent append only lengthens the log
        seqs = _seqs(self._names(self._audit_dir(key)))
        last, anchored = (seqs[-1] if seqs else 0), (head.seq if head else 0)
        if last < anchored:
            raise AuditChainError(
                f"{key}: the audit log ends at seq {last} but its anchor says {anchored} (truncated?): "
                f"run `itsm audit verify {key}`; nothing appended"
            )
        previous: AuditEntry | None = None
        for seq in range(max(anchored, 1), last + 1):
            try:
                entry = self._entry(key, seq)
            except (OSError, ValueError) as exc:
                problem = f"unreadable ({type(exc).__name__})"
            else:
                if entry.seq != seq or entry.ticket != key:
                    problem = f"holds seq {entry.seq} of {entry.ticket}"
                elif seq == anchored:
                    same = entry.hash == head.hash == entry.content_hash()
                    problem = None if same else "entry differs from its anchor record"
                else:
                    problem = (entry_problem(entry, previous, secret) or (None, None))[1]
            if problem:
                raise AuditChainError(
                    f"{key}: audit entry {seq}: {problem}: run `itsm audit verify {key}`; nothing appended"
                )
            if seq > anchored:
                anchors.put(anchor_for(entry, secret))
            previous = entry
        return previous

    def audit(
        self,
        key: str,
        *,
        actor: str,
        action: str,
        step: str | None = None,
        run_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one signed entry and its anchor. The entry's object name is its seq, created
        exclusively: a racing writer's loss is retried on the new head, never overwritten."""
        _key_segment(key)
        secret = self.audit_secret()
        for attempt in range(APPEND_ATTEMPTS):
            previous = self._head(key, secret)
            entry = next_entry(
                previous, key=secret, ticket=key, actor=actor, action=action, step=step, run_id=run_id, detail=detail
            )
            try:
                self._create_exclusive(
                    self._audit_dir(key) / f"{entry.seq:08d}.json",
                    json.dumps(entry.model_dump(mode="json"), sort_keys=True),
                )
            except ObjectExists:
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # jitter, not a secret
                continue
            self.anchor_store().put(anchor_for(entry, secret))
            return entry
        raise AuditChainError(f"{key}: audit entry not appended: {APPEND_ATTEMPTS} racing writers won first")

    def verify_audit(self, key: str) -> ChainVerdict:
        """The chain against its anchors (read first: an append during the check only lengthens the log)."""
        secret = self.audit_secret()
        anchors = self.anchor_store().records(key)
        entries = self._records(self._audit_dir(key))
        return verify_chain(key, entries, anchors, secret, has_evidence=bool(self.runs(key)))


# --- retention ---------------------------------------------------------------------------------


class PrunedObject(BaseModel):
    path: str
    kind: str
    age_days: float
    retention_days: int
    action: str  # "deleted" | "would delete" | "locked until <date>" | "error: ..."


def artifact_kind(name: str) -> str:
    """`cross-validate.json` / `cross-validate.md` -> `cross-validate`; `timeline.png` -> `timeline`."""
    return name.split(".", 1)[0] if not name.startswith(".") else name.lstrip(".").split(".", 1)[0]


def retention_for(kind: str, retention_days: dict[str, int]) -> int | None:
    """Days to keep an artifact kind: exact kind, else the longest configured `<step>` the kind starts
    with (`govern-email-cfo` -> `govern`), else `*`; None keeps it forever."""
    if kind in retention_days:
        return retention_days[kind]
    prefixes = [k for k in retention_days if k != "*" and kind.startswith(k + "-")]
    if prefixes:
        return retention_days[max(prefixes, key=len)]
    return retention_days.get("*")


def prune(
    store: EvidenceStore, retention_days: dict[str, int], *, execute: bool = False, now: datetime | None = None
) -> list[PrunedObject]:
    """Expired artifacts under `<root>/<KEY>/<run>/` (never `<KEY>/audit/`); deleted only with `execute`.

    An object still under S3 Object Lock retention is refused (reported `locked until ...`), whatever
    the configured retention says.
    """
    if "audit" in retention_days:
        raise ValueError("the audit log is never pruned: remove `audit` from retention_days")
    now = now or datetime.now(UTC)
    objects = _s3_objects(store) if store.is_s3 else _local_objects(store)
    out: list[PrunedObject] = []
    for path, parts, modified in objects:
        if len(parts) < 3 or parts[1] == AUDIT_DIR:
            continue  # the audit log, or something that is not a run's artifact
        kind = artifact_kind(parts[-1])
        days = retention_for(kind, retention_days)
        age = (now - modified).total_seconds() / 86400
        if days is None or age < days:
            continue
        action = "would delete"
        locked = _locked_until(store, path) if store.is_s3 else None
        if locked and locked > now:
            action = f"locked until {locked.isoformat()}"
        elif execute:
            try:
                _delete(store, path)
                action = "deleted"
            except Exception as exc:  # noqa: BLE001 - reported per object, the rest continue
                action = f"error: {exc}"
        out.append(PrunedObject(path=str(path), kind=kind, age_days=round(age, 2), retention_days=days, action=action))
    return out


def _local_objects(store: EvidenceStore):
    root = store.root
    if not root.exists():
        return
    for key_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if not key_dir.is_dir() or key_dir.name == AUDIT_DIR:
            continue
        for run_dir in sorted(key_dir.iterdir(), key=lambda p: p.name):
            if not run_dir.is_dir():
                continue
            for item in sorted(run_dir.iterdir(), key=lambda p: p.name):
                if item.is_file():
                    info = item.fs.info(item.path)
                    modified = datetime.fromtimestamp(info.get("mtime") or info.get("created"), UTC)
                    yield item, (key_dir.name, run_dir.name, item.name), modified


def _s3_objects(store: EvidenceStore):
    bucket, prefix = store.s3_location(store.root)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    for page in store.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            parts = tuple(obj["Key"][len(prefix) :].split("/"))
            yield f"s3://{bucket}/{obj['Key']}", parts, obj["LastModified"]


def _locked_until(store: EvidenceStore, path) -> datetime | None:
    bucket, key = store.s3_location(path)
    head = store.s3_client().head_object(Bucket=bucket, Key=key)
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        return datetime.max.replace(tzinfo=UTC)
    return head.get("ObjectLockRetainUntilDate")


def _delete(store: EvidenceStore, path) -> None:
    if store.is_s3:
        bucket, key = store.s3_location(path)
        client = store.s3_client()
        versions = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        for version in [v for v in versions if v["Key"] == key] or [{"VersionId": None}]:
            kwargs = {"VersionId": version["VersionId"]} if version["VersionId"] else {}
            client.delete_object(Bucket=bucket, Key=key, **kwargs)  # every version: really gone
    else:
        path.unlink()
