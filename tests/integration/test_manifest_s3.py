"""The lifecycle manifest as an S3 object (no shared disk), against the local AWS over HTTP: concurrent
writers all keep their entries, and readers work from a copy of their own that they refresh when it
is older than they allow, or keep using while S3 cannot be reached."""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime

import pytest

from include.itsm.adapters.manifest_store import S3Manifest
from include.itsm.lifecycle.manifest import ManifestEntry, read_manifest, update_manifest

BUCKET = "itsm-state-test"


@pytest.fixture(scope="module")
def bucket(bare_aws):
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_CONN_AWS_EVIDENCE", bare_aws.connection())
    client = bare_aws.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": bare_aws.region})
    try:
        yield client
    finally:
        mp.undo()


@pytest.fixture
def own_temp(tmp_path, monkeypatch):
    """This test's temp folder, so the reader's copy is this test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _adding(key: str):
    entry = ManifestEntry(key=key, ticket_type="incident", updated=datetime.now(UTC))
    return lambda manifest: manifest.model_copy(update={"tickets": manifest.tickets | {key: entry}})


def test_writers_racing_on_the_object_all_keep_their_entries(bucket):
    url = f"s3://aws_evidence@{BUCKET}/race/manifest.json"

    def writer(first: int) -> None:
        for n in range(first, first + 10):
            update_manifest(url, _adding(f"OPS-{n}"))

    threads = [threading.Thread(target=writer, args=(first,)) for first in (1, 11, 21, 31)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = read_manifest(url).tickets
    assert sorted(kept, key=lambda k: int(k[4:])) == [f"OPS-{n}" for n in range(1, 41)]


def test_a_reader_keeps_its_copy_until_it_is_too_old(bucket, own_temp):
    url = f"s3://aws_evidence@{BUCKET}/cache/manifest.json"
    assert read_manifest(url, max_age_s=300).tickets == {}  # not written yet: empty, and that is remembered
    update_manifest(url, _adding("OPS-1"))
    assert read_manifest(url, max_age_s=300).tickets == {}  # the copy is young enough
    assert list(read_manifest(url, max_age_s=0).tickets) == ["OPS-1"]  # too old: read again
    update_manifest(url, _adding("OPS-2"))
    assert list(read_manifest(url, max_age_s=300).tickets) == ["OPS-1"]
    assert S3Manifest(url).cache_file().parent == own_temp


def test_a_reader_that_cannot_reach_s3_uses_its_last_copy_and_without_one_fails(bucket, own_temp, bare_aws, caplog):
    url = f"s3://aws_evidence@{BUCKET}/outage/manifest.json"
    update_manifest(url, _adding("OPS-7"))
    assert list(read_manifest(url).tickets) == ["OPS-7"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "AIRFLOW_CONN_AWS_EVIDENCE",
            bare_aws.connection(endpoint_url="http://127.0.0.1:9", config_kwargs={"retries": {"max_attempts": 1}}),
        )
        assert list(read_manifest(url).tickets) == ["OPS-7"]
        assert "unreadable" in caplog.text and url in caplog.text
        S3Manifest(url).cache_file().unlink()
        with pytest.raises(Exception, match="127.0.0.1:9"):
            read_manifest(url)
