"""Real Airflow for the embedded default and the end-to-end tests.

`airflow standalone` on SQLite with the LocalExecutor (scheduler, dag-processor, triggerer,
api-server), started in its own process group so that stopping it stops everything it
spawned. Users and passwords are fixed (Simple auth manager) so people and tests can log in
and approve as distinct Airflow users.

The production topology (docker-compose.yaml) is one option away: `sql_alchemy_conn` (a
PostgreSQL metadata DB), `executor="CeleryExecutor"` with `broker_url` (Redis), and
`celery_workers` (one `airflow celery worker` per name, each in its own process group; tasks
it runs report that name as their hostname, so a test can see which worker ran what), and
`auth_manager="fab"` (FAB users: the policy's approvers created by `itsm approvers sync`, as a
deployment does, the other users by `airflow users create`).

`isolated=True` runs each component as its own container would: its own AIRFLOW_HOME, HOME,
temp folder, working directory, log and copy of the ITSM configuration (`<home>/<component>/`),
sharing nothing on disk but the DAG and plugin folders (`dags_folder`, `plugins_folder`: give
read-only copies) and the code on PYTHONPATH (the image's installed package).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from include.itsm.adapters.airflow_api import AirflowApi
from include.itsm.devstack.services import REPO_ROOT, free_port

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
FAB_ROLES = {"admin": "Admin", "op": "Op"}
JWT_SECRET = "itsm-devstack-jwt-secret-not-for-production-0123456789abcdef-xyz!"  # 64+ bytes
WORKER_NAME_ENV = "ITSM_WORKER_HOSTNAME"
COMPONENTS = ("scheduler", "dag-processor", "triggerer")  # besides the api-server and the workers


def worker_hostname() -> str:
    """`[core] hostname_callable` of the local Celery workers: their name, else the machine's."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


@dataclass
class LocalAirflow:
    home: Path
    port: int = 0
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: {ADMIN_USER: (ADMIN_PASSWORD, "admin")})
    extra_env: dict[str, str] = field(default_factory=dict)
    executor: str = "LocalExecutor"
    sql_alchemy_conn: str | None = None  # default: SQLite in `home`
    broker_url: str | None = None  # CeleryExecutor: e.g. redis://127.0.0.1:6379/0
    celery_workers: tuple[str, ...] = ()  # one `airflow celery worker` per name
    auth_manager: str = "simple"  # or "fab"
    isolated: bool = False  # one private directory per component, as separate containers have
    dags_folder: Path = REPO_ROOT / "dags"
    plugins_folder: Path = REPO_ROOT / "plugins"
    process: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    components: list[subprocess.Popen] = field(default_factory=list)  # scheduler, dag-processor, triggerer

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        self.port = self.port or free_port(8080)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def component_dir(self, component: str) -> Path:
        """Where `component` (api-server, scheduler, worker-<name>, init, ...) keeps its files."""
        return self.home / component if self.isolated else self.home

    def env(self, component: str | None = None) -> dict[str, str]:
        """The environment every Airflow process (and `airflow` CLI call) must share; with `isolated`,
        plus `component`'s private folders and configuration copy."""
        passwords = self.home / "simple_auth_passwords.json"
        venv_bin = str(Path(sys.executable).parent)
        # A clean slate: Airflow settings of the calling process (a test session's unit-test
        # mode, say) must not leak into the real deployment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        env.update(
            {
                "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
                "PYTHONPATH": str(REPO_ROOT),
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",  # a new manifest entry's DAGs appear fast
                "AIRFLOW__API__HOST": "127.0.0.1",  # the demo's UI is this machine's only (Airflow's default: all interfaces)
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{u}:{role}" for u, (_, role) in self.users.items()
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            }
        )
        if self.auth_manager == "fab":
            env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
        if self.sql_alchemy_conn:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.sql_alchemy_conn
        if self.broker_url:
            env["AIRFLOW__CELERY__BROKER_URL"] = self.broker_url
            if self.sql_alchemy_conn:
                env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + self.sql_alchemy_conn
        if self.celery_workers:
            env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = f"{__name__}.worker_hostname"
        env.update(self.extra_env)
        if self.isolated and component:
            env.update(self._private(component, env))
        return env

    def _private(self, component: str, env: dict[str, str]) -> dict[str, str]:
        """`component`'s own AIRFLOW_HOME, HOME, temp folder and copy of the ITSM configuration."""
        root = self.component_dir(component)
        for folder in ("home", "tmp"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        private = {"AIRFLOW_HOME": str(root), "HOME": str(root / "home"), "TMPDIR": str(root / "tmp")}
        if "ITSM_CONFIG" in env:
            copy = root / "itsm.yaml"
            copy.write_bytes(Path(env["ITSM_CONFIG"]).read_bytes())
            private["ITSM_CONFIG"] = str(copy)
        return private

    def start(self, timeout_s: float = 120.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "simple_auth_passwords.json").write_text(
            json.dumps({user: password for user, (password, _) in self.users.items()})
        )
        init = self.env("init")  # the one-shot `airflow-init` of a deployment
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=init,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.component_dir("init"),
        )
        if self.auth_manager == "fab":
            self._create_fab_users(init)
        if free_port(self.port) != self.port:  # taken since __post_init__ (another Airflow): the health check
            self.port = free_port(0)  # below would otherwise be answered by that one
        if self.executor == "LocalExecutor":
            self.process = self._spawn("standalone", ["standalone"])
        else:  # `airflow standalone` forces the LocalExecutor: run its components one by one
            self.process = self._spawn("api-server", ["api-server", "--port", str(self.port)])
            self.components = [self._spawn(name, [name]) for name in COMPONENTS]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in (self.process, *self.components)):
                raise RuntimeError(f"an airflow process exited; see the logs under {self.home}")
            try:
                if requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    for name in self.celery_workers:
                        self.workers.append(self._spawn_worker(name))
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"airflow not healthy within {timeout_s:.0f}s; see the logs under {self.home}")

    def _create_fab_users(self, env: dict[str, str]) -> None:
        """The approvers through `itsm approvers sync` (the documented command), then everyone else."""
        passwords = self.component_dir("init") / "approver_passwords.json"
        passwords.write_text(json.dumps({user: password for user, (password, _) in self.users.items()}))
        passwords.chmod(0o600)
        synced = subprocess.run(
            [sys.executable, "-m", "include.itsm", "approvers", "sync", "--passwords", str(passwords), "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=self.component_dir("init"),
        )
        approvers = set(json.loads(synced.stdout)["ids"])
        for user, (password, role) in self.users.items():
            if user in approvers:
                continue
            subprocess.run(
                [sys.executable, "-m", "airflow", "users", "create", "--username", user, "--password", password]
                + [
                    "--role",
                    FAB_ROLES[role],
                    "--firstname",
                    user,
                    "--lastname",
                    "user",
                    "--email",
                    f"{user}@x.invalid",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                cwd=self.component_dir("init"),
            )

    def _spawn(self, component: str, command: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        """`airflow <command>` as `component`, in its own process group (stopping it stops what it
        spawned), logging to its own file."""
        directory = self.component_dir(component)
        directory.mkdir(parents=True, exist_ok=True)
        log_name = f"{component}.log" if self.isolated or component.startswith("worker-") else "standalone.log"
        return subprocess.Popen(
            [sys.executable, "-m", "airflow", *command],
            env=self.env(component) | (extra_env or {}),
            cwd=directory,
            stdout=open(directory / log_name, "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _spawn_worker(self, name: str) -> subprocess.Popen:
        command = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2", "--skip-serve-logs"]
        return self._spawn(f"worker-{name}", command, {WORKER_NAME_ENV: name})

    def kill_worker(self, name: str) -> None:
        """A worker crash (SIGKILL to its process group): no warm shutdown, its tasks' heartbeats stop."""
        process = self.workers[self.celery_workers.index(name)]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def start_worker(self, name: str) -> None:
        """Start `name` again (after kill_worker), as a supervisor would."""
        index = self.celery_workers.index(name)
        if self.workers[index].poll() is None:
            raise RuntimeError(f"worker {name} is still running")
        self.workers[index] = self._spawn_worker(name)

    def restart_scheduler(self) -> None:
        """Stop the scheduler (SIGTERM, as a rolling restart does) and start a new one."""
        if not self.components:
            raise RuntimeError("the scheduler runs inside `airflow standalone` here: use a non-Local executor")
        scheduler = self.components[0]
        os.killpg(scheduler.pid, signal.SIGTERM)
        try:
            scheduler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait()
        self.components[0] = self._spawn("scheduler", ["scheduler"])

    def stop(self) -> None:
        """Workers first, then the scheduler and the rest, then the api-server (or standalone)."""
        processes = [*self.workers, *self.components, *([self.process] if self.process else [])]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.workers, self.components, self.process = [], [], None

    def client(self, user: str = ADMIN_USER) -> AirflowApi:
        """The product's REST client logged in as `user` (what `itsm approve` uses)."""
        return AirflowApi(self.url, user, self.users[user][0])
