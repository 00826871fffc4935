"""Session-wide test set-up.

Airflow reads its configuration when first imported, so the environment is fixed here,
before any test module imports airflow: a private AIRFLOW_HOME (SQLite), no examples,
unit-test mode, and the repository's dags/ folder.
"""

import contextlib
import json
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
# The audit HMAC key every audited run needs (a deployment defines the connection; there is no default).
TEST_AUDIT_KEY = "test-audit-key-" + "0123456789abcdef" * 2
os.environ.setdefault("AIRFLOW_CONN_ITSM_AUDIT", json.dumps({"conn_type": "generic", "password": TEST_AUDIT_KEY}))

pytest_plugins = ["tests.integration.aws_fixtures", "tests.integration.demo_fixtures"]


def evidence_store(root: str):
    """A real evidence store at `root` with its audit anchors in the sibling `<root>.anchors` (never inside)."""
    from include.itsm.adapters.evidence import AuditAnchors, EvidenceStore

    return EvidenceStore(root, anchors=AuditAnchors(f"{root.rstrip('/')}.anchors"))


# --- the local board (include/itsm/devstack/board) -------------------------------------------

import pytest  # noqa: E402
import requests as _requests  # noqa: E402


class BoardHandle:
    """A running local board: its URL, the fixed credentials and its admin endpoints."""

    def __init__(self, url: str, store, app=None) -> None:
        from include.itsm.devstack.board.catalog import BOT_TOKEN, BOT_USER

        self.url, self.user, self.token, self.store = url, BOT_USER, BOT_TOKEN, store
        self.app = app  # the Flask app, for tests that enumerate its routes
        self.http = _requests.Session()
        self.http.auth = (self.user, self.token)
        register_board(self)

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
        yield BoardHandle(server.url, server.store, server.app)
    finally:
        server.stop()


# --- no sprint, ever: every board the session started is asked for refused sprint calls ----------

_BOARDS: dict[str, BoardHandle] = {}
_SPRINT_ATTEMPTS: dict[tuple, dict] = {}


@contextlib.contextmanager
def own_board(directory, *, watched: bool = True):
    """A board of one test's own over a fresh SQLite file. `watched=False` for a probe whose
    refused sprint calls are deliberate (the no-sprint-ever check below must not count them)."""
    from include.itsm.devstack.board.server import BoardServer

    server = BoardServer(str(directory / "board.sqlite")).start()
    handle = BoardHandle(server.url, server.store, server.app)
    if not watched:
        unregister_board(handle)
    try:
        yield handle
    finally:
        server.stop()


def register_board(handle: BoardHandle) -> None:
    _BOARDS[handle.url] = handle


def unregister_board(handle: BoardHandle) -> None:
    """For a test that probes the refusal on purpose (its attempts are not the product's)."""
    _BOARDS.pop(handle.url, None)


def _collect_sprint_attempts() -> None:
    for url, handle in list(_BOARDS.items()):
        try:
            attempts = handle.http.get(f"{url}/_devstack/sprint-attempts", timeout=5).json()
        except (_requests.RequestException, ValueError):
            _BOARDS.pop(url, None)  # stopped: its attempts were collected after the previous test
            continue
        for attempt in attempts:
            _SPRINT_ATTEMPTS[(url, attempt.get("ts"), attempt.get("method"), attempt.get("path"))] = attempt


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _collect_sprint_attempts()  # before this item's fixtures (perhaps a board) are torn down
    yield


def pytest_sessionfinish(session, exitstatus):
    _collect_sprint_attempts()
    if _SPRINT_ATTEMPTS:
        lines = [f"{a.get('method')} {a.get('path')} ({url})" for (url, *_), a in _SPRINT_ATTEMPTS.items()]
        print(
            "\nSPRINT ATTEMPTS (the product must never call agile endpoints or write the Sprint field):\n  "
            + "\n  ".join(lines)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
