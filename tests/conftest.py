"""Session-wide test set-up.

Airflow reads its configuration when first imported, so the environment is fixed here,
before any test module imports airflow: a private AIRFLOW_HOME (SQLite), no examples,
unit-test mode, and the repository's dags/ folder.
"""

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="itsm-test-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ.setdefault("ITSM_DEVSTACK_HOME", tempfile.mkdtemp(prefix="itsm-test-devstack-"))

pytest_plugins = ["tests.integration.aws_fixtures", "tests.integration.demo_fixtures"]


# --- the local board (include/itsm/devstack/board) -------------------------------------------

import pytest  # noqa: E402
import requests as _requests  # noqa: E402


class BoardHandle:
    """A running local board: its URL, the fixed credentials and its admin endpoints."""

    def __init__(self, url: str, store) -> None:
        from include.itsm.devstack.board.catalog import BOT_TOKEN, BOT_USER

        self.url, self.user, self.token, self.store = url, BOT_USER, BOT_TOKEN, store
        self.http = _requests.Session()
        self.http.auth = (self.user, self.token)

    def requests(self) -> list[dict]:
        """The board's request log (admin calls excluded)."""
        resp = self.http.get(f"{self.url}/_devstack/requests", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def clear_requests(self) -> None:
        self.http.delete(f"{self.url}/_devstack/requests", timeout=10).raise_for_status()

    def fault(self, **spec) -> None:
        """Queue a fault (status, retry_after, delay_s, count, path_regex, method)."""
        self.http.post(f"{self.url}/_devstack/faults", json=spec, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete(f"{self.url}/_devstack/faults", timeout=10).raise_for_status()

    def sprint_attempts(self) -> list[dict]:
        return self.http.get(f"{self.url}/_devstack/sprint-attempts", timeout=10).json()


@pytest.fixture(scope="session")
def board(tmp_path_factory):
    """The real board on a free localhost port over a fresh SQLite file, for the whole session."""
    from include.itsm.devstack.board.server import BoardServer

    server = BoardServer(str(tmp_path_factory.mktemp("board") / "board.sqlite")).start()
    try:
        yield BoardHandle(server.url, server.store)
    finally:
        server.stop()
