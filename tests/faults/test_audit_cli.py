"""`itsm audit verify KEY [--json]`: an intact chain passes; a tampered entry is detected and named."""

from __future__ import annotations

import json

import yaml

from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.cli import main
from include.itsm.config import settings


def _configure(tmp_path, monkeypatch) -> EvidenceStore:
    config = yaml.safe_load(open("config/itsm.yaml"))
    config["runtime"]["evidence_root"] = f"file://{tmp_path / 'evidence'}"
    (tmp_path / "itsm.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "itsm.yaml"))
    settings.cache_clear()
    store = EvidenceStore(config["runtime"]["evidence_root"])
    for i in range(3):
        store.audit("OPS-42", actor="user:sre-engineer", action="preview", step="classify", run_id=f"r{i}")
    return store


def test_intact_chain_verifies(tmp_path, monkeypatch, capsys):
    _configure(tmp_path, monkeypatch)
    assert main(["audit", "verify", "OPS-42", "--json"]) == 0
    out = capsys.readouterr().out
    verdict = json.loads(out[out.index("{"):])
    assert verdict["ok"] and verdict["entries"] == 3
    settings.cache_clear()


def test_tampered_entry_is_detected_and_named(tmp_path, monkeypatch, capsys):
    _configure(tmp_path, monkeypatch)
    entry = tmp_path / "evidence" / "OPS-42" / "audit" / "00000002.json"
    data = json.loads(entry.read_text())
    data["actor"] = "user:mallory"
    entry.write_text(json.dumps(data, sort_keys=True))
    assert main(["audit", "verify", "OPS-42"]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out
    assert main(["audit", "verify", "OPS-42", "--json"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["first_bad_seq"] == 2
    entry.write_text("{not json")
    assert main(["audit", "verify", "OPS-42"]) == 1
    assert "00000002.json is unreadable" in capsys.readouterr().out
    settings.cache_clear()
