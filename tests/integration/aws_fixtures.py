"""Session-scoped local AWS for tests: one seeded server process shared by every test.

Enable with `pytest_plugins = ["tests.integration.aws_fixtures"]` in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import requests
from pydantic import BaseModel

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


class LocalAws(BaseModel):
    """How to reach the running local AWS (devstack credentials, see docs/architecture.md)."""

    endpoint_url: str
    region: str = "ap-southeast-2"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def connection(self, **extra) -> str:
        """An `AIRFLOW_CONN_*` value reaching this AWS (more connection extras in `extra`)."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": self.access_key_id,
                "password": self.secret_access_key,
                "extra": {"endpoint_url": self.endpoint_url, "region_name": self.region, **extra},
            }
        )

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def calls(self) -> list[dict]:
        """The front's log of AWS calls since the last `clear_calls()`."""
        response = requests.get(f"{self.endpoint_url}/_devstack/calls", timeout=10)
        response.raise_for_status()
        return response.json()

    def clear_calls(self) -> None:
        requests.delete(f"{self.endpoint_url}/_devstack/calls", timeout=10).raise_for_status()

    def fault(self, **spec) -> dict:
        """Add a fault (service, operation, account_id, region, code, status, message, count, delay_s);
        returns it with its id. The server is shared by the session: clear it (`clear_faults`, `faults`)."""
        response = requests.post(f"{self.endpoint_url}/_devstack/faults", json=spec, timeout=10)
        if response.status_code == 400:
            raise ValueError(f"fault rejected: {response.json()}")
        response.raise_for_status()
        return response.json()

    def active_faults(self) -> list[dict]:
        """Faults still active, with `remaining` (None = until cleared) and `hits`."""
        response = requests.get(f"{self.endpoint_url}/_devstack/faults", timeout=10)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        requests.delete(f"{self.endpoint_url}/_devstack/faults", timeout=10).raise_for_status()


@contextmanager
def faults(local_aws: LocalAws, *specs: dict) -> Iterator[list[dict]]:
    """Add `specs` as faults for the block (yields the stored faults); all faults are cleared on exit."""
    try:
        yield [local_aws.fault(**spec) for spec in specs]
    finally:
        local_aws.clear_faults()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local_aws(log_path: Path, *, seed: bool = True) -> tuple[subprocess.Popen, LocalAws]:
    """Start `python -m include.itsm.devstack.aws` and wait until it reports healthy."""
    port = _free_port()
    args = [sys.executable, "-m", "include.itsm.devstack.aws", "--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("wb")
    proc = subprocess.Popen(
        args + ([] if seed else ["--no-seed"]),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    aws = LocalAws(endpoint_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local AWS exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if requests.get(f"{aws.endpoint_url}/_devstack/health", timeout=1).status_code == 200:
                return proc, aws
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy seeding on a loaded host
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"local AWS not healthy after {START_TIMEOUT_S} s: {log_path.read_text()}")


@contextmanager
def serving(log_path: Path, *, seed: bool = True) -> Iterator[LocalAws]:
    """A local AWS for the block, stopped after it."""
    proc, aws = start_local_aws(log_path, seed=seed)
    try:
        yield aws
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory) -> LocalAws:
    with serving(tmp_path_factory.mktemp("local-aws") / "aws.log") as aws:
        yield aws


@pytest.fixture(scope="session")
def bare_aws(tmp_path_factory) -> LocalAws:
    """An unseeded local AWS of its own: buckets made there never show up in the demo organisation."""
    with serving(tmp_path_factory.mktemp("bare-aws") / "aws.log", seed=False) as aws:
        yield aws
