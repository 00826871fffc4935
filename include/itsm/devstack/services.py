"""Start, stop and describe the embedded default: the local board and the local AWS.

Both run as background processes (own session, pid and log under the devstack home), so
`itsm devstack up` returns and a later `down` finds them. `up` is idempotent: a service
whose recorded process still answers its health check is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
BOARD_USER = "itsm-bot@example.com"
BOARD_TOKEN = "devstack-api-token"
AWS_ACCESS_KEY_ID = "testing"
AWS_SECRET_ACCESS_KEY = "testing"
AWS_REGION = "ap-southeast-2"
HEALTH_PATH = "/_devstack/health"


def devstack_home() -> Path:
    return Path(os.environ.get("ITSM_DEVSTACK_HOME", REPO_ROOT / ".devstack")).resolve()


def free_port(preferred: int) -> int:
    """The preferred port when it is free, else any free port the kernel offers."""
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    default_port: int
    port_env: str
    start_timeout_s: float

    def command(self, port: int, home: Path) -> list[str]:
        args = [sys.executable, "-m", self.module, "--host", "127.0.0.1", "--port", str(port)]
        if self.name == "board":
            args += ["--db", str(home / "board.sqlite")]
        return args


SERVICES = (
    ServiceSpec("aws", "include.itsm.devstack.aws", 8781, "ITSM_AWS_PORT", 120.0),
    ServiceSpec("board", "include.itsm.devstack.board", 8780, "ITSM_BOARD_PORT", 60.0),
)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + HEALTH_PATH, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def read_state() -> dict:
    path = devstack_home() / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def audit_key() -> str:
    """This devstack home's audit HMAC key: random, made once, kept beside the board's data (mode 0600)."""
    path = devstack_home() / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".audit.key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # a racing `up` keeps the first key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _write_state(state: dict) -> None:
    home = devstack_home()
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(home / "state.json")


def _start(spec: ServiceSpec, home: Path) -> dict:
    port = int(os.environ.get(spec.port_env) or free_port(spec.default_port))
    url = f"http://127.0.0.1:{port}"
    log_path = home / f"{spec.name}.log"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            spec.command(port, home),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + spec.start_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"devstack {spec.name} exited with {process.returncode}; see {log_path}")
        if _healthy(url):
            (home / f"{spec.name}.pid").write_text(str(process.pid))
            return {"url": url, "port": port, "pid": process.pid, "log": str(log_path)}
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError(f"devstack {spec.name} not healthy within {spec.start_timeout_s:.0f}s; see {log_path}")


def up(seed: bool = True) -> dict:
    """Start what is not running, seed the board with the demo tickets, return the status."""
    home = devstack_home()
    home.mkdir(parents=True, exist_ok=True)
    state = read_state()
    for spec in SERVICES:
        current = state.get(spec.name, {})
        if not (_alive(current.get("pid")) and _healthy(current.get("url", ""))):
            state[spec.name] = _start(spec, home)
            _write_state(state)
    if seed:
        from include.itsm.devstack.board.store import BoardStore
        from include.itsm.devstack.demo.seed import instance_ids_from_local_aws, seed_board

        seed_board(BoardStore(str(home / "board.sqlite")), instance_ids_from_local_aws(state["aws"]["url"]))
    return status()


def down() -> dict:
    """Stop every devstack process this home recorded; the board's data stays on disk."""
    state = read_state()
    for spec in SERVICES:
        pid = state.get(spec.name, {}).get("pid")
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
        state.pop(spec.name, None)
        (devstack_home() / f"{spec.name}.pid").unlink(missing_ok=True)
    _write_state(state)
    return status()


def status() -> dict:
    """The stable contract scripts read: board and aws connection values plus liveness."""
    state = read_state()
    board, aws = state.get("board", {}), state.get("aws", {})
    result = {
        "board": {
            "url": board.get("url"),
            "user": BOARD_USER,
            "password": BOARD_TOKEN,
            "running": bool(board) and _alive(board.get("pid")) and _healthy(board["url"]),
            "pid": board.get("pid"),
        },
        "aws": {
            "endpoint_url": aws.get("url"),
            "region": AWS_REGION,
            "access_key_id": AWS_ACCESS_KEY_ID,
            "secret_access_key": AWS_SECRET_ACCESS_KEY,
            "running": bool(aws) and _alive(aws.get("pid")) and _healthy(aws["url"]),
            "pid": aws.get("pid"),
        },
        "home": str(devstack_home()),
    }
    result["airflow_connections"] = airflow_connections(result)
    return result


def airflow_connections(current: dict) -> dict[str, str]:
    """`AIRFLOW_CONN_*` values (JSON form) that point Airflow at the devstack."""
    board, aws = current["board"], current["aws"]
    if not board["url"] or not aws["endpoint_url"]:
        return {}
    aws_conn = {
        "conn_type": "aws",
        "login": aws["access_key_id"],
        "password": aws["secret_access_key"],
        "extra": {"endpoint_url": aws["endpoint_url"], "region_name": aws["region"]},
    }
    return {
        "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
            {"conn_type": "jira", "host": board["url"], "login": board["user"], "password": board["password"]}
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_conn),
        "AIRFLOW_CONN_AWS_OPERATIONS": json.dumps(aws_conn),
        "AIRFLOW_CONN_ITSM_AUDIT": json.dumps({"conn_type": "generic", "password": audit_key()}),
    }


def board_requests() -> list[dict]:
    current = status()["board"]
    if not current["running"]:
        raise RuntimeError("the local board is not running: run `itsm devstack up` first")
    response = requests.get(current["url"] + "/_devstack/requests", auth=(BOARD_USER, BOARD_TOKEN), timeout=10)
    response.raise_for_status()
    return response.json()
