"""Outside systems behind the CLI's exit codes, through the real entry point and real servers: an unreachable Jira
is 4, an issue Jira does not have is 2, an undefined connection is 3; each is one message, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: connections are refused


def _classify(key: str, tmp_path: Path, **connections: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_JIRA", "AIRFLOW_CONN_AWS"))}
    env.update(connections, ITSM_DEVSTACK_HOME=str(tmp_path / "no-devstack"))
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", "classify", key],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _jira(url: str, user: str = "bot", token: str = "token") -> str:
    return json.dumps({"conn_type": "jira", "host": url, "login": user, "password": token})


def _aws(url: str) -> str:
    extra = {"endpoint_url": url, "region_name": "ap-southeast-2"}
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


def _last_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_an_unreachable_jira_is_exit_4(tmp_path):
    closed = f"http://127.0.0.1:{_closed_port()}"
    done = _classify("OPS-1", tmp_path, AIRFLOW_CONN_JIRA_DEFAULT=_jira(closed), AIRFLOW_CONN_AWS_DEFAULT=_aws(closed))
    assert done.returncode == 4
    assert _last_line(done).startswith("itsm classify: get OPS-1: Jira still failing after")


def test_an_issue_jira_does_not_have_is_exit_2(private_board, tmp_path):
    closed = f"http://127.0.0.1:{_closed_port()}"
    jira = _jira(private_board.url, private_board.user, private_board.token)
    done = _classify("OPS-999999", tmp_path, AIRFLOW_CONN_JIRA_DEFAULT=jira, AIRFLOW_CONN_AWS_DEFAULT=_aws(closed))
    assert done.returncode == 2, done.stderr
    assert _last_line(done).startswith("itsm classify: get OPS-999999:")


def test_an_undefined_connection_is_exit_3(tmp_path):
    done = _classify("OPS-1", tmp_path)
    assert done.returncode == 3
    assert _last_line(done) == "itsm classify: The conn_id `jira_default` isn't defined"
