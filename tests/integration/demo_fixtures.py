"""The demo devstack for tests: a board seeded with the demo tickets beside the local AWS.

`demo_env` points the product at them the way a deployment does: Airflow connections in
`AIRFLOW_CONN_*`, and a configuration file (a copy of config/itsm.yaml with a private evidence
root and manifest) in `ITSM_CONFIG`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def seeded_board(directory: Path, aws_endpoint: str):
    """A board of its own holding the demo tickets (boards written by one suite stay out of another's)."""
    from include.itsm.devstack.board.server import BoardServer
    from include.itsm.devstack.demo.seed import instance_ids_from_local_aws, seed_board
    from tests.conftest import BoardHandle

    server = BoardServer(str(directory / "board.sqlite")).start()
    seed_board(server.store, instance_ids_from_local_aws(aws_endpoint))
    try:
        yield BoardHandle(server.url, server.store)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_board(tmp_path_factory, local_aws):
    """A second board (the contract tests keep theirs clean) holding the demo tickets."""
    with seeded_board(tmp_path_factory.mktemp("demo-board"), local_aws.endpoint_url) as board:
        yield board


def connection_env(board_url: str, board_user: str, board_token: str, aws_endpoint: str) -> dict[str, str]:
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": aws_endpoint, "region_name": "ap-southeast-2"},
    }
    return {
        "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
            {"conn_type": "jira", "host": board_url, "login": board_user, "password": board_token}
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        "AIRFLOW_CONN_AWS_OPERATIONS": json.dumps(aws),
        "AIRFLOW_CONN_ITSM_AUDIT": os.environ["AIRFLOW_CONN_ITSM_AUDIT"],  # the session's key (tests/conftest.py)
    }


def write_test_config(directory: Path, policy: dict | None = None, **runtime) -> Path:
    """config/itsm.yaml with this test's evidence root and manifest path (and any policy overrides)."""
    config = yaml.safe_load((REPO_ROOT / "config" / "itsm.yaml").read_text())
    config["runtime"].update(
        {
            "evidence_root": f"file://{directory / 'evidence'}",
            "audit_anchor_root": f"file://{directory / 'audit-anchors'}",
            "manifest_path": str(directory / "manifest.json"),
            **runtime,
        }
    )
    for customer in config["customers"]:  # the demo's outbox, inside this test's directory
        customer["notices"] = {
            "channel": "outbox",
            "outbox_path": str(directory / "outbox" / f"{customer['id']}.jsonl"),
        }
    if policy:
        config.setdefault("policy", {}).update(policy)
    path = directory / "itsm.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory, demo_board, local_aws):
    """Environment for in-process runs against the demo devstack; yields the config directory."""
    from include.itsm.config import settings

    directory = tmp_path_factory.mktemp("demo-env")
    values = connection_env(demo_board.url, demo_board.user, demo_board.token, local_aws.endpoint_url)
    values["ITSM_CONFIG"] = str(write_test_config(directory))
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    settings.cache_clear()
    try:
        yield directory
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.cache_clear()


@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the session's private Airflow metadata DB once (conftest fixed AIRFLOW_HOME)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
    )
