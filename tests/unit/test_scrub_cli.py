"""`itsm scrub`: output shape, echo of extra fields (never a forged `scrubbed`), per-line errors, exit codes,
config registers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINES = [
    json.dumps({"id": 1, "text": "Hi Jane, account 318274650011 at 10.20.1.5", "meta": {"k": [1]}}),
    "not json",
    json.dumps({"id": 3}),
    json.dumps({"id": 4, "text": 42}),
    json.dumps([1, 2]),
    "",
    json.dumps({"id": 7, "text": "Regards,\nTom Baker\nKiwi Freight Ltd"}),
    json.dumps({"id": 8, "text": "ok", "scrubbed": "forged", "error": "forged"}),
    json.dumps({"id": 9, "scrubbed": "forged"}),
]


def _run(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", "scrub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_stdin_stdout_echo_and_errors() -> None:
    proc = _run("--input", "-", "--output", "-", "--json", stdin="\n".join(LINES) + "\n")
    assert proc.returncode == 1, proc.stderr  # some lines failed
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(LINES)
    assert rows[0] == {
        "id": 1,
        "text": json.loads(LINES[0])["text"],
        "meta": {"k": [1]},
        "scrubbed": "Hi {person}, account {account} at {private-ip}",
    }
    assert rows[1]["error"] == "line 2: invalid JSON (Expecting value at column 1)"
    assert rows[2] == {"id": 3, "error": "text: missing"}
    assert rows[3] == {"id": 4, "text": 42, "error": "text: must be a string"}
    assert rows[4] == {"error": "line 5: not a JSON object"}
    assert rows[5] == {"error": "line 6: empty"}
    assert rows[6]["scrubbed"] == "Regards,\n{person}\n{customer}"
    assert rows[7] == {"id": 8, "text": "ok", "scrubbed": "ok", "shadowed": {"scrubbed": "forged", "error": "forged"}}
    assert rows[8] == {"id": 9, "shadowed": {"scrubbed": "forged"}, "error": "text: missing"}
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {
        "input": "-",
        "output": "-",
        "config": None,
        "lines": 9,
        "errors": 6,
    }


def test_files_and_config_registers(tmp_path: Path) -> None:
    config = tmp_path / "itsm.yaml"
    config.write_text(
        "customers:\n  - id: kiwi-freight\n    name: Kiwi Freight Ltd\n    scrub:\n"
        "      customers: [{name: Kiwi Freight Ltd, aliases: [KFL], persona: freight-logistics-customer}]\n"
        "      account_types: {'318274650011': prod-account}\n"
        "      network_tiers: [{cidr: 10.20.0.0/16, tier: prod-vpc}]\n"
        "      people: [Tom Baker]\n"
    )
    source, sink = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(LINES) + "\n")
    proc = _run("--input", str(source), "--output", str(sink), "--config", str(config), stdin="")
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(line) for line in sink.read_text().splitlines()]
    assert rows[0]["scrubbed"] == "Hi {person}, account {prod-account} at {prod-vpc}"
    assert rows[6]["scrubbed"] == "Regards,\n{person}\n{freight-logistics-customer}"


def test_bad_config_names_file_key_and_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "customers:\n  - id: a\n    name: A\n    scrub:\n      network_tiers: [{cidr: 10.0.0.999/8, tier: x}]\n"
    )
    proc = _run("--input", "-", "--output", "-", "--config", str(config), stdin="")
    assert proc.returncode == 3  # a configuration error
    assert str(config) in proc.stderr and "customers.0.scrub.network_tiers.0.cidr" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = _run("--input", str(tmp_path / "nope.jsonl"), "--output", "-", stdin="")
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr
