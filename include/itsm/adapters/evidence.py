"""The evidence store: step artifacts and the audit log under one ObjectStoragePath root.

Layout: `<root>/<KEY>/<run id>/<step>.json` (earlier runs are kept) and the audit log as
one object per entry, `<root>/<KEY>/audit/<seq>.json`, so appending never rewrites an
object (works on S3 and under Object Lock). Writes go to a temporary sibling first and are
then renamed, so a reader never sees half an artifact.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel

from include.itsm.domain.audit import AuditEntry, ChainVerdict, next_entry, verify_chain
from include.itsm.domain.ticket import TICKET_KEY_PATTERN

ORG_KEYS = ("_org", "_sweep", "_bridge")
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")

M = TypeVar("M", bound=BaseModel)


class EvidenceError(RuntimeError):
    """An artifact is missing or unreadable; the message names the step to run first."""


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


class EvidenceStore:
    """`object_lock` (mode COMPLIANCE|GOVERNANCE, days) on an `s3://` root: every object is written with
    S3 Object Lock retention (`ObjectLockMode` / `ObjectLockRetainUntilDate` on the PUT) through the
    `conn_id` connection's S3 client; the bucket must have been created with Object Lock enabled."""

    def __init__(self, root: str, *, object_lock=None, conn_id: str = "aws_evidence", s3_client=None):
        from airflow.sdk import ObjectStoragePath  # lazy: keeps CLI start-up cheap

        self.root = ObjectStoragePath(root)
        self.object_lock = object_lock
        self.conn_id = conn_id
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
        bucket, _, key = str(path).split("://", 1)[1].partition("/")
        return bucket, key

    def lock_headers(self, now: datetime | None = None) -> dict[str, Any]:
        """The PutObject parameters of the configured Object Lock (empty without one)."""
        if self.object_lock is None:
            return {}
        until = (now or datetime.now(timezone.utc)) + timedelta(days=self.object_lock.days)
        return {"ObjectLockMode": self.object_lock.mode, "ObjectLockRetainUntilDate": until}

    def _write_atomic(self, path, data: str) -> None:
        if self.is_s3 and self.object_lock is not None:
            # A PUT is atomic on S3 (no temporary object to rename, which Object Lock would keep forever).
            bucket, key = self.s3_location(path)
            self.s3_client().put_object(Bucket=bucket, Key=key, Body=data.encode(), ChecksumAlgorithm="SHA256",
                                        **self.lock_headers())
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(data)
        tmp.rename(path)

    def artifact_path(self, key: str, run_id: str, step: str):
        return self.root / _key_segment(key) / run_segment(run_id) / f"{run_segment(step)}.json"

    def write(self, key: str, run_id: str, step: str, artifact: BaseModel) -> str:
        path = self.artifact_path(key, run_id, step)
        self._write_atomic(path, artifact.model_dump_json(indent=2))
        return str(path)

    def write_text(self, key: str, run_id: str, name: str, text: str) -> str:
        """Rendered views (Markdown, HTML, ADF) beside the artifacts."""
        path = self.root / _key_segment(key) / run_segment(run_id) / run_segment(name)
        self._write_atomic(path, text)
        return str(path)

    def read(self, key: str, run_id: str, step: str, model: type[M]) -> M:
        path = self.artifact_path(key, run_id, step)
        if not path.exists():
            raise EvidenceError(f"{key}: no {step} artifact in run {run_id}: run the {step} step first")
        return model.model_validate_json(path.read_text())

    def runs(self, key: str) -> list[str]:
        base = self.root / _key_segment(key)
        if not base.exists():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name != "audit")

    def latest(self, key: str, step: str, model: type[M]) -> M:
        """The newest artifact of `step` for `key` across runs (by the artifact's created time)."""
        found: list[M] = []
        for run in self.runs(key):
            path = self.root / _key_segment(key) / run / f"{run_segment(step)}.json"
            if path.exists():
                found.append(model.model_validate_json(path.read_text()))
        if not found:
            raise EvidenceError(f"{key}: no {step} artifact yet: run the {step} step first")
        return max(found, key=lambda artifact: getattr(artifact, "created", 0))

    # --- audit log -------------------------------------------------------------------------

    def _audit_dir(self, key: str):
        return self.root / _key_segment(key) / "audit"

    def audit_entries(self, key: str) -> Iterator[AuditEntry]:
        directory = self._audit_dir(key)
        if not directory.exists():
            return
        for path in sorted(directory.iterdir(), key=lambda p: p.name):
            if path.name.endswith(".json") and not path.name.startswith("."):
                yield AuditEntry.model_validate_json(path.read_text())

    def audit(self, key: str, *, actor: str, action: str, step: str | None = None,
              run_id: str | None = None, detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry; the entry's object name is its sequence number, never reused."""
        previous = None
        for previous in self.audit_entries(key):
            pass
        entry = next_entry(previous, ticket=key, actor=actor, action=action, step=step,
                           run_id=run_id, detail=detail)
        path = self._audit_dir(key) / f"{entry.seq:08d}.json"
        if path.exists():
            raise EvidenceError(f"{key}: audit entry {entry.seq} already exists (concurrent writer?)")
        self._write_atomic(path, json.dumps(entry.model_dump(mode="json"), sort_keys=True))
        return entry

    def verify_audit(self, key: str) -> ChainVerdict:
        return verify_chain(key, self.audit_entries(key))


# --- retention ---------------------------------------------------------------------------------

AUDIT_DIR = "audit"


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


def prune(store: EvidenceStore, retention_days: dict[str, int], *, execute: bool = False,
          now: datetime | None = None) -> list[PrunedObject]:
    """Expired artifacts under `<root>/<KEY>/<run>/` (never `<KEY>/audit/`); deleted only with `execute`.

    An object still under S3 Object Lock retention is refused (reported `locked until ...`), whatever
    the configured retention says.
    """
    if "audit" in retention_days:
        raise ValueError("the audit log is never pruned: remove `audit` from retention_days")
    now = now or datetime.now(timezone.utc)
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
                    modified = datetime.fromtimestamp(info.get("mtime") or info.get("created"), timezone.utc)
                    yield item, (key_dir.name, run_dir.name, item.name), modified


def _s3_objects(store: EvidenceStore):
    bucket, prefix = store.s3_location(store.root)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    for page in store.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            parts = tuple(obj["Key"][len(prefix):].split("/"))
            yield f"s3://{bucket}/{obj['Key']}", parts, obj["LastModified"]


def _locked_until(store: EvidenceStore, path) -> datetime | None:
    bucket, key = store.s3_location(path)
    head = store.s3_client().head_object(Bucket=bucket, Key=key)
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        return datetime.max.replace(tzinfo=timezone.utc)
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
