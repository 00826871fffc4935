"""Tampering with a ticket's audit log, on the real evidence and anchor stores (temp dirs): every case is
detected, `itsm audit verify` names it with its exit code, and an append onto a broken chain is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import shutil
from pathlib import Path

import pytest
import yaml

from include.itsm.adapters.evidence import AuditAnchors, AuditChainError, EvidenceStore
from include.itsm.cli import main
from include.itsm.config import Settings, settings
from include.itsm.core.artifact import Artifact
from include.itsm.core.audit import AuditEntry, ChainStatus, key_id
from tests.conftest import TEST_AUDIT_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "OPS-42"


class Note(Artifact):
    text: str = ""


@pytest.fixture
def chain(tmp_path, monkeypatch):
    """OPS-42 with one artifact and three audit entries, configured through ITSM_CONFIG as a deployment is."""
    config = yaml.safe_load((REPO_ROOT / "config" / "itsm.yaml").read_text())
    config["runtime"]["evidence_root"] = f"file://{tmp_path / 'evidence'}"
    config["runtime"]["audit_anchor_root"] = f"file://{tmp_path / 'anchors'}"
    (tmp_path / "itsm.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "itsm.yaml"))
    settings.cache_clear()
    store = EvidenceStore.from_settings(settings())
    store.write(KEY, "r0", "classify", Note(key=KEY, step="classify", run_id="r0"))
    for i in range(3):
        store.audit(KEY, actor="user:sre-engineer", action="preview", step="classify", run_id=f"r{i}")
    yield store, tmp_path / "evidence" / KEY / "audit", tmp_path / "anchors" / KEY
    settings.cache_clear()


def _verify(capsys, *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", KEY, *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out.strip()


def _entry(log: Path, seq: int) -> dict:
    return json.loads((log / f"{seq:08d}.json").read_text())


def _rewrite(log: Path, seq: int, data: dict) -> None:
    (log / f"{seq:08d}.json").write_text(json.dumps(data, sort_keys=True))


def test_intact_chain_verifies(chain, capsys):
    code, out = _verify(capsys)
    assert code == 0 and out == f"{KEY}: audit chain intact (3 entries, anchored at seq 3)"
    code, out = _verify(capsys, "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["ok"] and verdict["status"] == "intact"
    assert (verdict["entries"], verdict["anchored_seq"]) == (3, 3)


def test_tampered_entry_is_detected_and_named(chain, capsys):
    """A one-field edit without recomputing the hash: edited at that seq; an unreadable entry likewise."""
    _, log, _ = chain
    data = _entry(log, 2)
    data["actor"] = "user:mallory"
    _rewrite(log, 2, data)
    code, out = _verify(capsys)
    assert code == 1 and out.startswith(f"{KEY}: audit chain EDITED at seq 2: content was changed")
    assert json.loads(_verify(capsys, "--json")[1])["first_bad_seq"] == 2
    (log / "00000002.json").write_text("{not json")
    code, out = _verify(capsys)
    assert code == 1 and "EDITED at seq 2: entry 00000002.json is unreadable" in out


def test_removing_the_last_entries_is_truncation(chain, capsys):
    _, log, _ = chain
    (log / "00000003.json").unlink()
    code, out = _verify(capsys)
    assert code == 1 and out == f"{KEY}: audit chain TRUNCATED (log ends at 2, anchor says 3)"
    (log / "00000002.json").unlink()
    assert _verify(capsys)[1] == f"{KEY}: audit chain TRUNCATED (log ends at 1, anchor says 3)"


def test_deleting_the_whole_log_is_named(chain, capsys):
    _, log, _ = chain
    shutil.rmtree(log)
    code, out = _verify(capsys)
    assert code == 1 and out == f"{KEY}: audit chain DELETED (no entries; anchor says 3)"


def test_removing_a_middle_entry_is_an_edit(chain, capsys):
    _, log, _ = chain
    (log / "00000002.json").unlink()
    code, out = _verify(capsys)
    assert code == 1 and "EDITED at seq 2: expected seq 2, found 3 (entry removed, renamed or reordered)" in out


def _rehash_from(log: Path, seq: int, last: int, secret: bytes | None) -> None:
    """What a forger does after an edit: recompute every hash (and, with a guessed key, every MAC) and link."""
    previous = _entry(log, seq - 1)["hash"] if seq > 1 else "0" * 64
    for n in range(seq, last + 1):
        entry = AuditEntry.model_validate(_entry(log, n))
        entry.prev_hash = previous
        if secret is not None:
            entry.key_id = key_id(secret)
        entry.hash = entry.content_hash()
        if secret is not None:
            entry.mac = entry.content_mac(secret)
        _rewrite(log, n, entry.model_dump(mode="json"))
        previous = entry.hash


def test_an_edit_rehashed_through_the_end_is_forged(chain, capsys):
    _, log, _ = chain
    data = _entry(log, 2)
    data["action"] = "approval"
    _rewrite(log, 2, data)
    _rehash_from(log, 2, 3, secret=None)
    code, out = _verify(capsys)
    assert code == 1 and out.startswith(f"{KEY}: audit chain FORGED at seq 2 (HMAC mismatch)")


def test_an_edit_resigned_with_a_guessed_key_is_forged_and_the_key_id_named(chain, capsys):
    _, log, _ = chain
    data = _entry(log, 3)
    data["actor"] = "user:mallory"
    _rewrite(log, 3, data)
    guessed = b"g" * 64
    _rehash_from(log, 3, 3, secret=guessed)
    code, out = _verify(capsys)
    assert code == 1 and "FORGED at seq 3 (HMAC mismatch)" in out
    assert f"signed with key id {key_id(guessed)}" in out and key_id(TEST_AUDIT_KEY.encode()) in out


def test_a_forged_anchor_record_is_named(chain, capsys):
    _, _, anchors = chain
    record = json.loads((anchors / "00000003.json").read_text())
    record["hash"] = hashlib.sha256(b"other").hexdigest()
    record["mac"] = hmac.new(b"x" * 40, b"guess", hashlib.sha256).hexdigest()
    (anchors / "00000003.json").write_text(json.dumps(record))
    code, out = _verify(capsys)
    assert code == 1 and out.startswith(f"{KEY}: audit chain FORGED at seq 3 (HMAC mismatch): anchor record 3")


def test_lost_anchor_records_are_named(chain, capsys):
    """One missing in the middle: edited; the last two gone: more unanchored entries than an interrupted append
    leaves."""
    _, _, anchors = chain
    (anchors / "00000002.json").unlink()
    code, out = _verify(capsys)
    assert code == 1 and "EDITED at seq 2: anchor record 2 is missing" in out
    (anchors / "00000003.json").unlink()
    code, out = _verify(capsys)
    assert code == 1 and out.startswith(f"{KEY}: audit chain UNANCHORED (3 entries, anchor says 1)")


def test_an_interrupted_append_verifies_and_the_next_append_anchors_it(chain, capsys):
    """Entry written, anchor not (the writer died between the two): intact with a note; the next append anchors
    the checked entry before its own."""
    store, _, anchors = chain
    (anchors / "00000003.json").unlink()
    code, out = _verify(capsys)
    assert code == 0 and out == (
        f"{KEY}: audit chain intact (3 entries, anchored at seq 2): entry 3 not anchored yet (an append was interrupted)"
    )
    store.audit(KEY, actor="user:sre-engineer", action="approval")
    assert sorted(p.name for p in anchors.iterdir()) == [f"{n:08d}.json" for n in range(1, 5)]
    assert _verify(capsys)[1] == f"{KEY}: audit chain intact (4 entries, anchored at seq 4)"


def test_appending_onto_a_broken_chain_is_refused_and_writes_nothing(chain):
    store, log, anchors = chain
    (log / "00000003.json").unlink()
    with pytest.raises(AuditChainError, match="ends at seq 2 but its anchor says 3"):
        store.audit(KEY, actor="user:mallory", action="write")
    assert sorted(p.name for p in log.iterdir()) == ["00000001.json", "00000002.json"]
    _rewrite(log, 2, _entry(log, 2) | {"actor": "user:mallory"})
    _rehash_from(log, 2, 2, secret=None)
    (anchors / "00000003.json").unlink()
    (anchors / "00000002.json").unlink()
    with pytest.raises(AuditChainError, match="audit entry 2: entry was written or rewritten without the audit key"):
        store.audit(KEY, actor="user:mallory", action="write")
    assert len(list(log.iterdir())) == 2 and len(list(anchors.iterdir())) == 1


def test_a_ticket_with_evidence_but_no_chain_is_missing(chain, capsys):
    store, log, anchors = chain
    shutil.rmtree(log)
    shutil.rmtree(anchors)
    code, out = _verify(capsys)
    assert code == 1 and out.startswith(f"{KEY}: audit chain MISSING: the ticket has evidence artifacts")


def test_a_ticket_with_nothing_recorded_is_a_usage_error_not_intact(chain, capsys):
    code = main(["audit", "verify", "OPS-4242"])
    out = capsys.readouterr().out.strip()
    assert code == 2 and out == "OPS-4242: nothing recorded: no audit entries, no anchor and no evidence artifact"


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        (None, "connection 'itsm_audit' is not defined"),
        (json.dumps({"conn_type": "generic", "password": "short"}), "has a 5-character password"),
        (json.dumps({"conn_type": "generic"}), "has a 0-character password"),
    ],
)
def test_a_missing_or_weak_audit_key_fails_loudly(chain, capsys, monkeypatch, connection, message):
    """No silent default: verify (and any append) stops with a configuration error naming the connection."""
    store, _, _ = chain
    if connection is None:
        monkeypatch.delenv("AIRFLOW_CONN_ITSM_AUDIT")
    else:
        monkeypatch.setenv("AIRFLOW_CONN_ITSM_AUDIT", connection)
    assert main(["audit", "verify", KEY]) == 3
    err = capsys.readouterr().err
    assert message in err and "openssl rand" in err and "Traceback" not in err
    from include.itsm.adapters.evidence import AuditConfigError

    fresh = EvidenceStore.from_settings(settings())
    with pytest.raises(AuditConfigError, match=message):
        fresh.audit(KEY, actor="x", action="preview")


def test_a_different_key_reads_every_entry_as_forged_naming_both_key_ids(chain, capsys, monkeypatch):
    other = "another-deployments-key-" + "f" * 32
    monkeypatch.setenv("AIRFLOW_CONN_ITSM_AUDIT", json.dumps({"conn_type": "generic", "password": other}))
    code, out = _verify(capsys)
    assert code == 1 and "FORGED at seq 1 (HMAC mismatch)" in out
    assert key_id(TEST_AUDIT_KEY.encode()) in out and key_id(other.encode()) in out


def test_anchors_inside_the_evidence_root_are_refused(tmp_path):
    with pytest.raises(ValueError, match="audit_anchor_root"):
        Settings.model_validate(
            {"runtime": {"evidence_root": f"file://{tmp_path}", "audit_anchor_root": f"file://{tmp_path}/anchors"}}
        )
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="overlaps"):
        Settings.model_validate(
            {"runtime": {"evidence_root": f"file://{tmp_path}/e", "audit_anchor_root": f"file://{tmp_path}/link/e/a"}}
        )
    with pytest.raises(ValueError, match="must be too"):
        Settings.model_validate({"runtime": {"evidence_root": "s3://bucket/evidence"}})
    with pytest.raises(ValueError, match="outside the evidence root"):
        EvidenceStore(f"file://{tmp_path}", anchors=AuditAnchors(f"file://{tmp_path}/a"))
    Settings.model_validate(
        {"runtime": {"evidence_root": "s3://bucket/evidence", "audit_anchor_root": "s3://bucket/evidence-anchors"}}
    )


def _append_many(args: tuple[str, str, int]) -> int:
    evidence, anchors, count = args
    store = EvidenceStore(evidence, anchors=AuditAnchors(anchors), audit_key=TEST_AUDIT_KEY.encode())
    for i in range(count):
        store.audit(KEY, actor="system:race", action=f"append-{i}")
    return count


def test_racing_appends_never_lose_an_entry(tmp_path):
    """One writer per ticket is the design; three processes appending at once still keep every entry.

    The writers are spawned, not forked: a fork of this threaded test process (the devstack server,
    log handlers) can copy a held lock into a child and hang it."""
    evidence, anchors = f"file://{tmp_path / 'evidence'}", f"file://{tmp_path / 'anchors'}"
    store = EvidenceStore(evidence, anchors=AuditAnchors(anchors), audit_key=TEST_AUDIT_KEY.encode())  # warm imports
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        written = sum(pool.map_async(_append_many, [(evidence, anchors, 20)] * 3).get(timeout=120))
    verdict = store.verify_audit(KEY)
    assert written == 60
    assert (verdict.status, verdict.entries, verdict.anchored_seq) == (ChainStatus.INTACT, 60, 60)
    assert not list((tmp_path / "evidence").rglob("*.tmp")) and not list((tmp_path / "anchors").rglob("*.tmp"))
