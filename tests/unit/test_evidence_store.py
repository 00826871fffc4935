"""Evidence store and audit chain on a real file:// ObjectStoragePath root."""

import json

import pytest

from include.itsm.adapters.evidence import EvidenceError, run_segment
from include.itsm.core.artifact import Artifact
from include.itsm.core.audit import ChainStatus
from tests.conftest import evidence_store


class Sample(Artifact):
    count: int


@pytest.fixture()
def store(tmp_path):
    return evidence_store(f"file://{tmp_path}")


def test_write_then_read_round_trips_and_names_compliance_area(store):
    store.write(
        "OPS-1",
        "manual__2026-11-26T10:00:00+00:00",
        "discover",
        Sample(key="OPS-1", step="discover", run_id="r", count=117),
    )
    back = store.read("OPS-1", "manual__2026-11-26T10:00:00+00:00", "discover", Sample)
    assert back.count == 117
    assert back.compliance_area == "Asset inventory and cross-account scope"


def test_missing_artifact_names_the_step_to_run_first(store):
    with pytest.raises(EvidenceError, match="run the classify step first"):
        store.latest("OPS-2", "classify", Sample)


def test_latest_picks_the_newest_run(store):
    for run, count in (("run-a", 1), ("run-b", 2)):
        store.write("OPS-3", run, "discover", Sample(key="OPS-3", step="discover", run_id=run, count=count))
    assert store.latest("OPS-3", "discover", Sample).count == 2


@pytest.mark.parametrize("key", ["../etc", "OPS-1/../../x", "ops-1", "", "OPS-1\x00"])
def test_keys_that_could_escape_the_root_are_refused(store, key):
    with pytest.raises(ValueError):
        store.artifact_path(key, "run", "intake")


def test_run_ids_become_one_safe_segment():
    assert "/" not in run_segment("a/../../b") and ".." not in run_segment("../..x")


def test_audit_chain_verifies_and_detects_tampering(store, tmp_path):
    for action in ("preview", "approval", "write"):
        store.audit("OPS-9", actor="alice", action=action, step="classify", run_id="r1")
    assert store.verify_audit("OPS-9").ok
    entry_file = tmp_path / "OPS-9" / "audit" / "00000002.json"
    entry = json.loads(entry_file.read_text())
    entry["actor"] = "mallory"
    entry_file.write_text(json.dumps(entry))
    verdict = store.verify_audit("OPS-9")
    assert not verdict.ok and verdict.first_bad_seq == 2 and verdict.status == ChainStatus.EDITED


def test_audit_detects_a_removed_entry(store, tmp_path):
    for action in ("preview", "approval", "write"):
        store.audit("OPS-8", actor="bob", action=action)
    (tmp_path / "OPS-8" / "audit" / "00000002.json").unlink()
    verdict = store.verify_audit("OPS-8")
    assert verdict.status == ChainStatus.EDITED and verdict.first_bad_seq == 2
    assert "entry removed" in verdict.reason
