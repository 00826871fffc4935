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
    def __init__(self, root: str):
        from airflow.sdk import ObjectStoragePath  # lazy: keeps CLI start-up cheap

        self.root = ObjectStoragePath(root)

    def _write_atomic(self, path, data: str) -> None:
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
