"""The lifecycle manifest as one S3 object, for deployments where no disk is shared (several hosts,
Kubernetes, a read-only DAG folder).

Writers (the sweep's manifest task, the register task) change it by compare-and-swap: read it with
its ETag, write it back with `If-Match` (`If-None-Match: *` when it does not exist yet), and start
again from a fresh read when another writer got there first, so two writers finishing together both
keep their entries. Readers (every parse of a lifecycle DAG file, in the DAG processor and in each
worker) read a copy in their own temp folder that is at most `max_age_s` old: one small GET per
process per refresh, not one per parse, and a parse still succeeds on the last copy while S3 cannot
be reached.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
DEFAULT_CONN_ID = "aws_evidence"
WRITE_ATTEMPTS = 20
_CONFLICT = (409, 412)  # ConditionalRequestConflict, PreconditionFailed


def is_s3(path: str | Path) -> bool:
    return str(path).startswith(("s3://", "s3a://"))


class ManifestConflict(RuntimeError):
    """Other writers kept winning the compare-and-swap: nothing of this change was written."""


class S3Manifest:
    """`s3://[conn_id@]bucket/key`: the connection named in the URL, else `aws_evidence`."""

    def __init__(self, url: str, s3_client=None) -> None:
        from include.itsm.adapters.evidence import ObjectRoot  # lazy: the DAG parse imports this module

        self.bucket, self.object_key = ObjectRoot.s3_location(url)
        conn_id = url.split("://", 1)[1].partition("/")[0].rpartition("@")[0]
        self.url, self.conn_id, self._s3 = url, conn_id or DEFAULT_CONN_ID, s3_client

    def client(self):
        if self._s3 is None:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # lazy: only S3 manifests pay for it

            self._s3 = S3Hook(aws_conn_id=self.conn_id).get_conn()
        return self._s3

    def get(self) -> tuple[str | None, str | None]:
        """(text, ETag); (None, None) while no writer has created it."""
        try:
            found = self.client().get_object(Bucket=self.bucket, Key=self.object_key)
        except self.client().exceptions.NoSuchKey:
            return None, None
        return found["Body"].read().decode(), found["ETag"]

    def put(self, text: str, etag: str | None) -> bool:
        """Write `text` if the object is still at `etag` (absent when None); False if another writer won."""
        from botocore.exceptions import ClientError

        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self.client().put_object(Bucket=self.bucket, Key=self.object_key, Body=text.encode(), **condition)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in _CONFLICT:
                return False
            raise
        return True

    def update(self, change: Callable[[str | None], str]) -> str:
        """Apply `change` to the current text and write the result, again on a fresh read if it lost a race."""
        for attempt in range(WRITE_ATTEMPTS):
            text, etag = self.get()
            changed = change(text)
            if self.put(changed, etag):
                return changed
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        raise ManifestConflict(f"{self.url}: {WRITE_ATTEMPTS} writes in a row lost to other writers")

    def cache_file(self) -> Path:
        """This process's copy (its own temp folder: nothing shared with another process)."""
        return Path(tempfile.gettempdir()) / f"itsm-manifest-{hashlib.sha256(self.url.encode()).hexdigest()[:16]}.json"

    def cached(self, max_age_s: float) -> str | None:
        """The manifest's text from a copy at most `max_age_s` old (a GET when it is older); the last copy
        if S3 cannot be reached; None while the manifest does not exist."""
        cache = self.cache_file()
        try:
            if time.time() - cache.stat().st_mtime < max_age_s:
                return cache.read_text() or None
        except FileNotFoundError:
            pass
        try:
            text, _ = self.get()
        except Exception as exc:  # any failure to reach S3: a parse keeps its DAGs on the last copy
            if not cache.exists():
                raise
            log.warning("%s: unreadable (%s); using the copy of %s", self.url, exc, time.ctime(cache.stat().st_mtime))
            return cache.read_text() or None
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".itsm-manifest-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text or "")
        os.replace(tmp, cache)
        return text
