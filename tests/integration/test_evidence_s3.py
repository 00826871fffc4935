"""The evidence store on an s3:// root (production's layout), against the local AWS over HTTP."""

from __future__ import annotations

import json

import boto3
import pytest

from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.domain.artifact import Artifact
from tests.integration.aws_fixtures import start_local_aws

BUCKET = "itsm-evidence-test"


class Sample(Artifact):
    count: int


@pytest.fixture()
def s3_store(tmp_path, monkeypatch):
    """An unseeded local AWS of its own: the bucket must not show up in the demo organisation."""
    process, aws = start_local_aws(tmp_path / "aws.log", seed=False)
    connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                  "extra": {"endpoint_url": aws.endpoint_url, "region_name": aws.region}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_EVIDENCE", json.dumps(connection))
    s3 = boto3.client("s3", endpoint_url=aws.endpoint_url, region_name=aws.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": aws.region})
    try:
        yield EvidenceStore(f"s3://aws_evidence@{BUCKET}/evidence"), s3
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_artifacts_and_the_audit_chain_live_in_the_bucket(s3_store):
    store, s3 = s3_store
    store.write("OPS-7", "run-1", "discover", Sample(key="OPS-7", step="discover", run_id="run-1", count=117))
    assert store.read("OPS-7", "run-1", "discover", Sample).count == 117
    assert store.latest("OPS-7", "discover", Sample).count == 117
    for action in ("preview", "approval"):
        store.audit("OPS-7", actor="alice", action=action)
    assert store.verify_audit("OPS-7").ok
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="evidence/OPS-7/")["Contents"]}
    assert {"evidence/OPS-7/run-1/discover.json", "evidence/OPS-7/audit/00000001.json",
            "evidence/OPS-7/audit/00000002.json"} <= keys
    assert not any(key.endswith(".tmp") for key in keys)  # no half-written artifact is left behind
