"""`itsm triage` / `itsm scrub` file safety, through the real entry point: the input is never the output (whatever
path or link names it), an interrupted or killed run never leaves half an output over the previous one, a line
that is not UTF-8 is one error line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TICKET = {"key": "OPS-1", "summary": "prod ec2 i-0123456789abcdef0 down", "description": "account 318274650011"}


def _itsm(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", *args], cwd=REPO, input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def tickets(tmp_path) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps({**TICKET, "key": f"OPS-{i}"}) + "\n" for i in range(1, 21)))
    return path


@pytest.mark.parametrize("command", ["triage", "scrub"])
@pytest.mark.parametrize("alias", ["same path", "relative path", "symlink", "hard link"])
def test_the_input_is_never_the_output(command, alias, tickets, tmp_path):
    before = tickets.read_bytes()
    output = {
        "same path": lambda: tickets,
        "relative path": lambda: Path(os.path.relpath(tmp_path / "sub" / ".." / tickets.name, REPO)),
        "symlink": lambda: (tmp_path / "link.jsonl").symlink_to(tickets) or tmp_path / "link.jsonl",
        "hard link": lambda: os.link(tickets, tmp_path / "hard.jsonl") or tmp_path / "hard.jsonl",
    }[alias]()
    (tmp_path / "sub").mkdir(exist_ok=True)
    done = _itsm(command, "--input", str(tickets), "--output", str(output))
    assert done.returncode == 2, done.stderr
    assert b"is the same file as --input" in done.stderr and done.stderr.count(b"\n") == 1
    assert tickets.read_bytes() == before


def _wait_for_temporary(folder: Path, name: str, timeout_s: float = 60) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp")]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no temporary output for {name} appeared")


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)])
def test_a_run_stopped_midway_leaves_the_previous_output(stop, code, tmp_path):
    """The run reads stdin that never ends; stopped while writing, the earlier output is still whole."""
    output = tmp_path / "out.jsonl"
    output.write_text('{"previous": "run"}\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "include.itsm", "triage", "--input", "-", "--output", str(output)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for i in range(50):
            process.stdin.write(json.dumps({**TICKET, "key": f"OPS-{i}"}).encode() + b"\n")
        process.stdin.flush()
        temporary = _wait_for_temporary(tmp_path, output.name)
        process.send_signal(stop)
        returncode = process.wait(timeout=60)
    finally:
        process.kill()
        _, err = process.communicate()
    assert returncode == code
    assert output.read_text() == '{"previous": "run"}\n'
    if stop == signal.SIGINT:  # a kill cannot clean up: its hidden temporary file stays, the output is intact
        assert not temporary.exists() and err.decode().strip().endswith("itsm triage: interrupted")


def test_a_line_that_is_not_utf8_fails_alone_and_the_run_exits_1(tickets, tmp_path):
    lines = tickets.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b"down", b"d\xc3\x28wn")  # an invalid two-byte sequence
    tickets.write_bytes(b"".join(lines))
    output = tmp_path / "out.jsonl"
    done = _itsm("triage", "--input", str(tickets), "--output", str(output))
    assert done.returncode == 1 and done.stderr.decode().strip() == "triaged 20 lines, 1 failed"
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 20 and [i for i, row in enumerate(rows) if "error" in row] == [4]
    assert rows[4]["error"].startswith("line 5: not UTF-8 (byte 0xc3 at offset")
    assert rows[5]["key"] == "OPS-6" and rows[5]["classification"]["priority"]


def test_an_output_link_is_replaced_at_its_target_keeping_its_mode(tickets, tmp_path):
    target, link = tmp_path / "real.jsonl", tmp_path / "latest.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    link.symlink_to(target)
    assert _itsm("scrub", "--input", str(tickets), "--output", str(link)).returncode == 1  # no `text` field
    assert link.is_symlink() and len(target.read_text().splitlines()) == 20
    assert target.stat().st_mode & 0o777 == 0o640
    assert _itsm("triage", "--input", str(tickets), "--output", os.devnull).returncode == 0  # not a regular file
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_output_in_a_missing_folder_is_a_usage_error(tickets, tmp_path):
    done = _itsm("triage", "--input", str(tickets), "--output", str(tmp_path / "nowhere" / "out.jsonl"))
    assert done.returncode == 2 and b"--output" in done.stderr and b"Traceback" not in done.stderr
