"""`itsm triage`: output shape, per-line errors with line numbers, echo without forged fields, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from include.itsm.triage import run_triage

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "key": "OPS-1",
    "id": 7,
    "summary": "prod ec2 i-0123456789abcdef0 down",
    "description": "account 318274650011",
    "created": "2026-11-26T10:00:00Z",
    "reporter": "a@b.example",
}
LINES = [
    json.dumps(GOOD),
    "not json",
    json.dumps({"summary": "no key", "id": 8}),
    json.dumps({"key": "bad key"}),
    json.dumps({"key": "OPS-2", "created": "yesterday"}),
    json.dumps([1, 2]),
]


def _triage(lines: list[str | bytes]) -> tuple[dict, list[dict]]:
    sink = io.StringIO()
    counts = run_triage([line if isinstance(line, bytes) else line.encode() for line in lines], sink)
    return counts, [json.loads(line) for line in sink.getvalue().splitlines()]


def test_output_shape_and_vocabulary() -> None:
    _, (out,) = _triage([json.dumps(GOOD)])
    assert out["id"] == 7 and out["key"] == "OPS-1"
    assert not {"summary", "description", "created", "reporter"} & set(out)  # consumed, not echoed
    assert out["intake"] == {
        "service": "compute",
        "environment": "prod",
        "account_ids": ["318274650011"],
        "resource_ids": ["i-0123456789abcdef0"],
    }
    c = out["classification"]
    assert set(c) == {"ticket_type", "change_type", "impact", "urgency", "priority", "rca", "labels", "provisional"}
    assert (c["ticket_type"], c["priority"], c["rca"], c["change_type"]) == ("incident", "P1", None, None)
    assert "priority" in c["provisional"]


def test_errors_per_line_name_the_field_or_the_line_number() -> None:
    counts, rows = _triage(LINES)
    assert counts == {"lines": 6, "errors": 5} and len(rows) == 6
    assert "error" not in rows[0]
    assert rows[1]["error"] == "line 2: invalid JSON (Expecting value at column 1)"
    assert rows[2] == {"id": 8, "error": "key: missing"}
    assert rows[3]["key"] == "bad key" and rows[3]["error"].startswith("key:")
    assert rows[4]["error"].startswith("created:")
    assert rows[5]["error"] == "line 6: not a JSON object"


def test_a_line_that_is_not_utf8_is_one_error_and_the_batch_goes_on() -> None:
    bad = json.dumps({**GOOD, "key": "OPS-3"}).encode().replace(b"down", b"d\xffwn")
    bom = b"\xef\xbb\xbf" + json.dumps(GOOD).encode()  # a byte-order mark on line 1 is skipped
    counts, rows = _triage([bom, bad, json.dumps(GOOD)])
    assert counts == {"lines": 3, "errors": 1}
    offset = bad.index(0xFF)
    assert rows[1] == {"error": f"line 2: not UTF-8 (byte 0xff at offset {offset})"}
    assert rows[0]["classification"] == rows[2]["classification"]  # the lines around it are triaged


def test_input_fields_named_like_ours_are_moved_under_shadowed() -> None:
    forged = {"priority": "P0", "labels": ["approved"]}
    success = {**GOOD, "classification": forged, "intake": "x", "error": "none", "shadowed": 1}
    failing = {"key": "bad key", "classification": forged}
    _, (ok, failed) = _triage([json.dumps(success), json.dumps(failing)])
    assert ok["classification"]["priority"] == "P1" and ok["intake"]["service"] == "compute"
    assert "error" not in ok
    assert ok["shadowed"] == {"classification": forged, "intake": "x", "error": "none", "shadowed": 1}
    assert "classification" not in failed and failed["shadowed"] == {"classification": forged}
    assert failed["error"].startswith("key:")


def _cli(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", "triage", *args],
        cwd=REPO,
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        timeout=60,
    )


def test_cli_files_stdio_and_exit_codes(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    done = _cli("--input", str(src), "--output", str(dst), "--json")
    assert done.returncode == 1, done.stderr  # some lines failed
    assert json.loads(done.stderr.decode().strip().splitlines()[-1])["errors"] == 5
    assert len(dst.read_text().splitlines()) == 6
    text = _cli("--input", str(src), "--output", str(dst))
    assert text.returncode == 1 and text.stderr.decode().strip() == "triaged 6 lines, 5 failed"
    piped = _cli("--input", "-", "--output", "-", stdin=json.dumps(GOOD) + "\n")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["classification"]["priority"] == "P1"
    assert b"triaged 1 lines, 0 failed" in piped.stderr and b"\r" not in piped.stderr  # no progress bar off a tty
    missing = _cli("--input", str(tmp_path / "nope.jsonl"), "--output", str(dst))
    assert missing.returncode == 2 and missing.stderr.decode().count("\n") == 1
    assert b"nope.jsonl" in missing.stderr and b"Traceback" not in missing.stderr


def test_streams_many_lines() -> None:
    class Lines:
        def __iter__(self):
            return (json.dumps({**GOOD, "key": f"OPS-{i}"}).encode() for i in range(2000))

    sink = io.StringIO()
    assert run_triage(Lines(), sink)["lines"] == 2000
