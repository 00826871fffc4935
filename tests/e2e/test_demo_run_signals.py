"""`make run` stopped during its start-up (SIGTERM from a supervisor, Ctrl-C at the terminal): it
exits cleanly and leaves no process behind, neither the devstack's nor Airflow's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.demo_fixtures import REPO_ROOT, write_test_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
AIRFLOW_STARTING = "starting Airflow on"


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (this demo's private folders)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_make_run_stopped_while_airflow_starts_leaves_nothing_running(tmp_path, sig):
    devstack = tmp_path / ".devstack"
    env = os.environ | {
        "ITSM_DEVSTACK_HOME": str(devstack),
        "ITSM_CONFIG": str(write_test_config(tmp_path)),
        "PYTHONUNBUFFERED": "1",
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "include.itsm.devstack.demo_run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in demo.stdout:  # the board and the local AWS are up once Airflow starts
        lines.append(line)
        if AIRFLOW_STARTING in line:
            break
    assert any(AIRFLOW_STARTING in line for line in lines), "".join(lines)
    time.sleep(3)  # inside Airflow's start-up: its database migration or its first processes
    assert _processes_with(f"ITSM_DEVSTACK_HOME={devstack}"), "nothing started"
    demo.send_signal(sig)
    output = "".join(lines) + demo.communicate(timeout=120)[0]
    assert demo.returncode == 0 and "stopped." in output, output
    deadline = time.monotonic() + 30
    while (left := _processes_with(f"ITSM_DEVSTACK_HOME={devstack}")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == [], output
