"""The evidence store on an s3:// root (production's layout), with its audit anchors in a bucket of their own
under S3 Object Lock, against the local AWS over HTTP."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from include.itsm.adapters.evidence import AuditAnchors, EvidenceStore, ObjectExists
from include.itsm.config import ObjectLock
from include.itsm.core.artifact import Artifact
from include.itsm.core.audit import AuditEntry, ChainStatus

BUCKET = "itsm-evidence-test"
ANCHORS = "itsm-audit-anchors-test"


class Sample(Artifact):
    count: int


@pytest.fixture(scope="module")
def s3(bare_aws):
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_CONN_AWS_EVIDENCE", bare_aws.connection())
    client = bare_aws.client("s3")
    where = {"LocationConstraint": bare_aws.region}
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration=where)
    client.create_bucket(Bucket=ANCHORS, CreateBucketConfiguration=where, ObjectLockEnabledForBucket=True)
    try:
        yield client
    finally:
        mp.undo()


def _store() -> EvidenceStore:
    anchors = AuditAnchors(f"s3://aws_evidence@{ANCHORS}/anchors", object_lock=ObjectLock(mode="COMPLIANCE", days=1))
    return EvidenceStore(f"s3://aws_evidence@{BUCKET}/evidence", anchors=anchors)


def _keys(client, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_artifacts_and_the_audit_chain_live_in_the_bucket(s3):
    store = _store()
    store.write("OPS-7", "run-1", "discover", Sample(key="OPS-7", step="discover", run_id="run-1", count=117))
    assert store.read("OPS-7", "run-1", "discover", Sample).count == 117
    assert store.latest("OPS-7", "discover", Sample).count == 117
    for action in ("preview", "approval"):
        store.audit("OPS-7", actor="alice", action=action)
    verdict = store.verify_audit("OPS-7")
    assert (verdict.status, verdict.entries, verdict.anchored_seq) == (ChainStatus.INTACT, 2, 2)
    keys = _keys(s3, BUCKET, "evidence/OPS-7/")
    assert {
        "evidence/OPS-7/run-1/discover.json",
        "evidence/OPS-7/audit/00000001.json",
        "evidence/OPS-7/audit/00000002.json",
    } <= set(keys)
    assert not any(key.endswith(".tmp") for key in keys)  # no half-written artifact is left behind
    assert _keys(s3, ANCHORS, "anchors/OPS-7/") == ["anchors/OPS-7/00000001.json", "anchors/OPS-7/00000002.json"]
    head = s3.head_object(Bucket=ANCHORS, Key="anchors/OPS-7/00000002.json")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"]


def test_anchors_are_write_once(s3):
    """An anchor cannot be replaced (If-None-Match) nor its version deleted (Object Lock)."""
    store = _store()
    store.audit("OPS-8", actor="alice", action="preview")
    with pytest.raises(ObjectExists):
        store.anchors._create_exclusive(store.anchors.path("OPS-8", 1), "{}")
    (version,) = s3.list_object_versions(Bucket=ANCHORS, Prefix="anchors/OPS-8/")["Versions"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=ANCHORS, Key=version["Key"], VersionId=version["VersionId"])
    assert store.verify_audit("OPS-8").ok


def test_truncating_deleting_and_rehashing_in_the_bucket_are_detected(s3):
    store = _store()
    for key in ("OPS-9", "OPS-10", "OPS-11"):
        for action in ("preview", "approval", "write"):
            store.audit(key, actor="alice", action=action)
    s3.delete_object(Bucket=BUCKET, Key="evidence/OPS-9/audit/00000003.json")
    verdict = store.verify_audit("OPS-9")
    assert (verdict.status, verdict.entries, verdict.anchored_seq) == (ChainStatus.TRUNCATED, 2, 3)
    for key in _keys(s3, BUCKET, "evidence/OPS-10/audit/"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert store.verify_audit("OPS-10").status == ChainStatus.DELETED
    previous = None
    for seq in (1, 2, 3):  # edit entry 1 and re-hash the whole chain (no key: the MACs stay)
        name = f"evidence/OPS-11/audit/{seq:08d}.json"
        entry = AuditEntry.model_validate_json(s3.get_object(Bucket=BUCKET, Key=name)["Body"].read())
        entry.actor = "mallory" if seq == 1 else entry.actor
        entry.prev_hash = previous or entry.prev_hash
        entry.hash = previous = entry.content_hash()
        s3.put_object(Bucket=BUCKET, Key=name, Body=entry.model_dump_json().encode())
    verdict = store.verify_audit("OPS-11")
    assert (verdict.status, verdict.first_bad_seq) == (ChainStatus.FORGED, 1)


def test_racing_appends_in_the_bucket_never_lose_an_entry(s3):
    errors: list[BaseException] = []

    def append(n: int) -> None:
        store = _store()  # a client of its own, as two workers have
        try:
            for i in range(8):
                store.audit("OPS-12", actor=f"worker-{n}", action=f"append-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = _store().verify_audit("OPS-12")
    assert errors == [] and (verdict.status, verdict.entries, verdict.anchored_seq) == (ChainStatus.INTACT, 24, 24)
