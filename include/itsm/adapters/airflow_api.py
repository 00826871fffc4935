"""A small client of Airflow's public REST API (v2) with the caller's own credentials.

What `itsm ... --execute` uses: execute happens only inside Airflow runs, so the CLI
triggers the DAG run as the person at the keyboard (their Airflow user and password ->
`POST /auth/token` -> a JWT), never under a self-asserted name.
Environment: ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import requests

from include.itsm.ports import AirflowError

WRITE_ATTEMPTS = 6
READ_ATTEMPTS = 3  # a read that times out or loses its connection is asked again (reads change nothing)


class AirflowApiError(AirflowError):
    """Airflow refused the request or is not configured."""


class AirflowApi:
    def __init__(self, url: str, user: str, password: str, *, timeout: float = 30):
        self.url = url.rstrip("/").removesuffix("/api/v2")  # the api-server root, however it was given
        self.user = user
        self.timeout = timeout
        response = requests.post(
            f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=timeout
        )
        if response.status_code not in (200, 201):
            raise AirflowApiError(f"Airflow at {self.url} refused the login of {user!r}: HTTP {response.status_code}")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @classmethod
    def from_env(cls) -> AirflowApi:
        missing = [
            n for n in ("ITSM_AIRFLOW_URL", "ITSM_AIRFLOW_USER", "ITSM_AIRFLOW_PASSWORD") if not os.environ.get(n)
        ]
        if missing:
            raise AirflowApiError(f"--execute runs through Airflow: set {', '.join(missing)} (your own Airflow login)")
        return cls(os.environ["ITSM_AIRFLOW_URL"], os.environ["ITSM_AIRFLOW_USER"], os.environ["ITSM_AIRFLOW_PASSWORD"])

    def _check(self, response: requests.Response, what: str) -> dict:
        if response.status_code >= 400:
            raise AirflowApiError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def _read(self, path: str, **params) -> requests.Response:
        """GET `path`; a busy api-server that does not answer in time is asked again before giving up."""
        for attempt in range(READ_ATTEMPTS):
            try:
                return self.session.get(f"{self.url}/api/v2{path}", params=params, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == READ_ATTEMPTS - 1:
                    raise AirflowApiError(f"GET {path}: Airflow at {self.url} did not answer ({exc})") from exc
                time.sleep(2)
        raise AssertionError("unreachable")

    def get(self, path: str, **params) -> dict:
        return self._check(self._read(path, **params), f"GET {path}")

    def _write(self, method: str, path: str, body: dict, what: str) -> dict:
        """A keyed write (explicit run id, one HITL answer), retried on 5xx: on SQLite the api-server
        can answer "database is locked" while the scheduler writes. A 409 after a retry means the
        earlier attempt got through."""
        for attempt in range(WRITE_ATTEMPTS):
            response = self.session.request(method, f"{self.url}/api/v2{path}", json=body, timeout=self.timeout)
            if response.status_code == 409 and attempt:
                return {}
            if response.status_code < 500 or attempt == WRITE_ATTEMPTS - 1:
                return self._check(response, what)
            time.sleep(2)
        raise AssertionError("unreachable")

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        """Start a DAG run now; returns the dag run (its `dag_run_id`)."""
        now = datetime.now(UTC)
        return self.trigger_at(dag_id, f"manual__{now:%Y-%m-%dT%H-%M-%S-%f}", now, conf)

    def trigger_at(self, dag_id: str, run_id: str, logical_date: datetime, conf: dict | None = None) -> dict:
        """Start a run with an explicit run id and logical date (gates match on the logical date)."""
        body = {"dag_run_id": run_id, "logical_date": logical_date.isoformat(), "conf": conf or {}}
        return self._write("POST", f"/dags/{dag_id}/dagRuns", body, f"trigger {dag_id}") or {"dag_run_id": run_id}

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120.0) -> dict:
        """Wait until the DAG processor has parsed `dag_id` (a new manifest entry takes one refresh)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self._read(f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            time.sleep(1)
        raise AirflowApiError(
            f"DAG {dag_id} not parsed within {timeout_s:.0f}s; import errors: {self.get('/importErrors')}"
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 300.0, until=("success", "failed")) -> str:
        deadline = time.monotonic() + timeout_s
        state = "unknown"
        while time.monotonic() < deadline:
            state = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in until:
                return state
            time.sleep(1)
        raise AirflowApiError(f"{dag_id}/{run_id} still {state} after {timeout_s:.0f}s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def latest_run(self, dag_id: str) -> dict | None:
        runs = self.get(f"/dags/{dag_id}/dagRuns", order_by="-logical_date", limit=1)["dag_runs"]
        return runs[0] if runs else None

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str):
        """A task's XCom value (None when it pushed none under `key`)."""
        response = self._read(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        if response.status_code == 404:
            return None
        value = self._check(response, f"GET xcom {key} of {dag_id}/{run_id}/{task_id}").get("value")
        return json.loads(value) if isinstance(value, str) else value

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails")

    def respond(self, dag_id: str, run_id: str, task_id: str, approve: bool, params: dict | None = None) -> dict:
        """Answer a Human-in-the-loop approval as this client's user (Airflow records who).

        The answer carries exactly the gate's form fields (Airflow refuses any other set): those in
        `params`, the form's defaults for the rest; a non-empty value for a field the form lacks is an error."""
        form = self.hitl_detail(dag_id, run_id, task_id).get("params") or {}
        given = params or {}
        if unknown := sorted(name for name, value in given.items() if value and name not in form):
            raise AirflowApiError(
                f"{task_id} has no field {', '.join(unknown)} (its form: {', '.join(form) or 'none'})"
            )
        values = {name: given.get(name, (spec or {}).get("value")) for name, spec in form.items()}
        body = {"chosen_options": ["Approve" if approve else "Reject"], "params_input": values}
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
        return self._write("PATCH", path, body, f"respond to {dag_id}/{run_id}/{task_id}")
