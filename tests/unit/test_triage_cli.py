"""`itsm triage`: DESIGN section 7 shape, per-line errors, echo of extra fields, stdin/stdout."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from include.itsm.application.triage import run_triage, triage_line
from include.itsm.domain.policy import Policy

REPO = Path(__file__).resolve().parents[2]
GOOD = {"key": "OPS-1", "id": 7, "summary": "prod ec2 i-0123456789abcdef0 down", "description": "account 318274650011",
        "created": "2026-11-26T10:00:00Z", "reporter": "a@b.example"}  # fmt: skip
LINES = [json.dumps(GOOD), "not json", json.dumps({"summary": "no key", "id": 8}), json.dumps({"key": "bad key"}),
         json.dumps({"key": "OPS-2", "created": "yesterday"}), json.dumps([1, 2])]  # fmt: skip


def test_output_shape_and_vocabulary() -> None:
    out = triage_line(json.dumps(GOOD), Policy())
    assert out["id"] == 7 and out["key"] == "OPS-1"
    assert out["intake"] == {"service": "compute", "environment": "prod", "account_ids": ["318274650011"],
                             "resource_ids": ["i-0123456789abcdef0"]}  # fmt: skip
    c = out["classification"]
    assert set(c) == {"ticket_type", "change_type", "impact", "urgency", "priority", "rca", "labels", "provisional"}
    assert (c["ticket_type"], c["priority"], c["rca"], c["change_type"]) == ("incident", "P1", None, None)
    assert "priority" in c["provisional"]


def test_errors_per_line_name_the_field() -> None:
    sink = io.StringIO()
    counts = run_triage(io.StringIO("\n".join(LINES) + "\n"), sink)
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert counts == {"lines": 6, "errors": 5} and len(rows) == 6
    assert "error" not in rows[0]
    assert rows[1]["error"].startswith("line: invalid JSON")
    assert rows[2]["error"] == "key: missing"
    assert rows[2]["id"] == 8
    assert rows[3]["error"].startswith("key:") and rows[4]["error"].startswith("created:")
    assert rows[5]["error"] == "line: not a JSON object"


def test_cli_subprocess_files_and_stdio(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "include.itsm", "triage", "--input", str(src), "--output", str(dst), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1])["errors"] == 5
    assert len(dst.read_text().splitlines()) == 6
    piped = subprocess.run([sys.executable, "-m", "include.itsm", "triage", "--input", "-", "--output", "-"],
                           cwd=REPO, input=json.dumps(GOOD) + "\n", capture_output=True, text=True, timeout=60)  # fmt: skip
    assert json.loads(piped.stdout)["classification"]["priority"] == "P1"
    assert "triaged" in piped.stderr and "\r" not in piped.stderr  # no progress bar when stderr is not a terminal


def test_streams_many_lines() -> None:
    class Lines:
        def __iter__(self):
            return (json.dumps({**GOOD, "key": f"OPS-{i}"}) for i in range(2000))

    sink = io.StringIO()
    assert run_triage(Lines(), sink)["lines"] == 2000
