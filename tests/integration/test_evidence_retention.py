"""Evidence retention: prune deletes expired artifacts (never the audit log); S3 Object Lock on writes
(moto S3): every object carries the configured retention and prune refuses to delete a locked one."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from pydantic import BaseModel

from include.itsm.adapters.evidence import EvidenceStore, prune, retention_for
from include.itsm.config import ObjectLock
from tests.conftest import evidence_store


class Art(BaseModel):
    key: str = "OPS-1"
    value: int = 1


def test_retention_lookup():
    days = {"discover": 30, "govern": 2555, "*": 365}
    assert retention_for("discover", days) == 30
    assert retention_for("govern-email-cfo", days) == 2555
    assert retention_for("timeline", days) == 365
    assert retention_for("timeline", {"discover": 30}) is None


def test_prune_local_keeps_audit_and_unexpired(tmp_path):
    store = evidence_store(f"file://{tmp_path}")
    store.write("OPS-1", "run-old", "discover", Art())
    store.write("OPS-1", "run-old", "govern", Art())
    store.write("OPS-1", "run-new", "discover", Art())
    store.audit("OPS-1", actor="t", action="preview", step="discover", run_id="run-old")
    old = time.time() - 40 * 86400
    for path in [
        tmp_path / "OPS-1" / "run-old" / "discover.json",
        tmp_path / "OPS-1" / "run-old" / "govern.json",
        *(tmp_path / "OPS-1" / "audit").iterdir(),
    ]:
        os.utime(path, (old, old))
    retention = {"discover": 30, "govern": 2555}
    preview = prune(store, retention)
    assert [(o.kind, o.action) for o in preview] == [("discover", "would delete")]
    assert (tmp_path / "OPS-1" / "run-old" / "discover.json").exists()
    done = prune(store, retention, execute=True)
    assert [o.action for o in done] == ["deleted"]
    assert not (tmp_path / "OPS-1" / "run-old" / "discover.json").exists()
    assert (tmp_path / "OPS-1" / "run-old" / "govern.json").exists() and (
        tmp_path / "OPS-1" / "run-new" / "discover.json"
    ).exists()
    assert store.verify_audit("OPS-1").ok and len(list(store.audit_entries("OPS-1"))) == 1
    with pytest.raises(ValueError, match="audit log is never pruned"):
        prune(store, {"audit": 1})


def test_config_refuses_audit_retention():
    from include.itsm.config import ConfigError, Settings

    with pytest.raises(ValueError, match="audit log is never pruned"):
        Settings.model_validate({"runtime": {"retention_days": {"audit": 30}}})
    assert ConfigError


@mock_aws
def test_object_lock_on_s3_writes_and_prune_refuses_locked():
    s3 = boto3.client("s3", region_name="ap-southeast-2")
    s3.create_bucket(
        Bucket="itsm-evidence",
        ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
    )
    store = EvidenceStore("s3://itsm-evidence/prod", object_lock=ObjectLock(mode="COMPLIANCE", days=7), s3_client=s3)
    before = datetime.now(UTC)
    path = store.write("OPS-1", "run-1", "discover", Art())
    assert path == "s3://itsm-evidence/prod/OPS-1/run-1/discover.json"
    head = s3.head_object(Bucket="itsm-evidence", Key="prod/OPS-1/run-1/discover.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert (
        before + timedelta(days=7) - timedelta(minutes=1) <= until <= datetime.now(UTC) + timedelta(days=7, minutes=1)
    )
    # (moto 5.2.5 answers GetObjectRetention with a 500; HeadObject carries the same retention)

    later = datetime.now(UTC) + timedelta(days=3)  # expired by the 1-day retention, still locked
    result = prune(store, {"discover": 1}, execute=True, now=later)
    assert len(result) == 1 and result[0].action.startswith("locked until")
    assert s3.list_object_versions(Bucket="itsm-evidence", Prefix="prod/")["Versions"]  # still there

    much_later = datetime.now(UTC) + timedelta(days=8)  # lock expired (moto checks against its clock)
    assert prune(store, {"discover": 1}, now=much_later)[0].action == "would delete"


def test_governance_lock_headers():
    store = EvidenceStore("s3://b/r", object_lock=ObjectLock(mode="GOVERNANCE", days=30))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert store.lock_headers(now) == {
        "ObjectLockMode": "GOVERNANCE",
        "ObjectLockRetainUntilDate": now + timedelta(days=30),
    }
    assert EvidenceStore("s3://b/r").lock_headers() == {}
