"""Every DAG file parses cleanly, cheaply and without touching the metadata DB or connections.

The parse runs in a child process whose environment holds no AIRFLOW_CONN_* values, so a
connection or Variable lookup must go to the metadata DB; every connect and statement sent to
any SQLAlchemy engine there is recorded, and the test requires none.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PARSE_SCRIPT = """
import json, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
db_activity = []
event.listen(Engine, "do_connect", lambda *a: db_activity.append("connect"))
event.listen(Engine, "before_cursor_execute", lambda conn, cursor, statement, *a: db_activity.append(statement[:200]))
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.hitl import ApprovalOperator
started = time.monotonic()
bag = DagBag(dag_folder={folder!r}, safe_mode=False)
elapsed = time.monotonic() - started
print(json.dumps({{
    "seconds": elapsed,
    "db_activity": db_activity,
    "errors": {{k: str(v)[-2000:] for k, v in bag.import_errors.items()}},
    "dags": {{dag_id: {{
        "file": dag.fileloc,
        "tags": sorted(dag.tags),
        "tasks": [{{"task_id": t.task_id, "retries": t.retries, "approval": isinstance(t, ApprovalOperator),
                   "fail_on_reject": getattr(t, "fail_on_reject", None)}} for t in dag.tasks],
    }} for dag_id, dag in bag.dags.items()}},
}}))
"""


MANIFEST_TICKETS = {  # one ticket of every kind, so every generated DAG shape is parsed
    "OPS-1": ("incident", None),
    "OPS-2": ("problem", None),
    "OPS-3": ("service_request", None),
    "OPS-4": ("change", "standard"),
    "OPS-5": ("change", "normal"),
    "OPS-6": ("change", "emergency"),
}


def _manifest_config(directory: Path) -> Path:
    manifest = {
        "generated": "2026-11-26T00:00:00Z",
        "tickets": {
            key: {
                "key": key,
                "ticket_type": kind,
                "change_type": sub,
                "summary": f"{kind} ticket",
                "updated": "2026-11-26T00:00:00Z",
            }
            for key, (kind, sub) in MANIFEST_TICKETS.items()
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    config = directory / "itsm.yaml"
    config.write_text(f"runtime:\n  manifest_path: {directory / 'manifest.json'}\n")
    return config


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["ITSM_CONFIG"] = str(_manifest_config(tmp_path_factory.mktemp("manifest")))
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{tmp_path_factory.mktemp('parse-db') / 'empty.db'}"
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT.format(folder=str(REPO_ROOT / "dags"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_import_errors(parsed):
    assert parsed["errors"] == {}


def test_parsing_touches_no_database_and_no_connection(parsed):
    assert parsed["db_activity"] == []


def test_parsing_is_cheap(parsed):
    assert parsed["seconds"] < 10, f"parsing dags/ took {parsed['seconds']:.1f}s"


def test_the_product_dags_are_present(parsed):
    assert "itsm_nightly_sweep" in parsed["dags"]
    for key in MANIFEST_TICKETS:
        assert {f"itsm_lifecycle__{key}", f"itsm_approvals__{key}"} <= set(parsed["dags"]), key


def test_each_ticket_pair_lives_in_the_one_lifecycle_file_its_key_names(parsed):
    from include.itsm.airflow.lifecycle_dags import LIFECYCLE_FILES, file_of

    files = sorted(p.name for p in (REPO_ROOT / "dags").glob("itsm_ticket_lifecycle*.py"))
    assert files == [f"itsm_ticket_lifecycle_{n}.py" for n in range(LIFECYCLE_FILES)]
    for key in MANIFEST_TICKETS:
        for dag_id in (f"itsm_lifecycle__{key}", f"itsm_approvals__{key}"):
            assert Path(parsed["dags"][dag_id]["file"]).name == f"itsm_ticket_lifecycle_{file_of(key)}.py", dag_id
    assert len({file_of(key) for key in MANIFEST_TICKETS}) > 1  # the six tickets do spread over the files


def test_every_dag_is_tagged(parsed):
    for dag_id, dag in parsed["dags"].items():
        assert "itsm" in dag["tags"], dag_id


def test_every_task_retries_except_human_approvals(parsed):
    for dag_id, dag in parsed["dags"].items():
        for task in dag["tasks"]:
            if task["approval"]:
                assert task["retries"] == 0, f"{dag_id}.{task['task_id']}: a retried approval re-opens the vote"
                assert task["fail_on_reject"], f"{dag_id}.{task['task_id']}: a rejection must fail the gate"
            else:
                assert task["retries"] >= 2, f"{dag_id}.{task['task_id']} retries {task['retries']}"


FORBIDDEN_AT_TOP_LEVEL = ("Variable.get", "get_connection", "Connection.get", "requests.", "boto3.", "urlopen")


def _top_level_calls(tree: ast.Module) -> list[str]:
    """Calls that run at import: everything outside function bodies (decorators included)."""
    found = []

    def visit(node, in_function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for decorator in getattr(node, "decorator_list", []):
                visit(decorator, in_function)
            in_function = True
        if isinstance(node, ast.Call) and not in_function:
            found.append(ast.unparse(node.func))
        for child in ast.iter_child_nodes(node):
            if child not in getattr(node, "decorator_list", []):
                visit(child, in_function)

    visit(tree, False)
    return found


@pytest.mark.parametrize("dag_file", sorted((REPO_ROOT / "dags").glob("*.py")), ids=lambda p: p.name)
def test_no_variable_connection_or_network_lookup_at_import(dag_file):
    calls = _top_level_calls(ast.parse(dag_file.read_text()))
    bad = [call for call in calls if any(pattern in call + "." for pattern in FORBIDDEN_AT_TOP_LEVEL)]
    assert not bad, f"{dag_file.name} calls {bad} at import time"
