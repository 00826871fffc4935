"""Gate latency under the real scheduler: how soon a gate asks after the task it reviews finished.

OPS-180 (the worked example, 11 gates) runs once through its whole lifecycle on one LocalAirflow
(airflow standalone: SQLite, LocalExecutor, parallelism 4) with the demo board and local AWS, and
each gate is answered by its approver as soon as it asks (after a 1 s settle, see
tests/e2e/lifecycle_helpers.py's wait_for_hitl). For each gate: the latency from the reviewed
lifecycle task's end to the gate's question (its HITL detail's `created_at`). The run is made twice
in the same Airflow, with the product's `runtime.gate_poke_seconds` (2 s) and with the 10 s it had
before (the baseline), by rewriting the ITSM_CONFIG file between runs (every task process reads it).
Also reported: the time from trigger to the last gate's question, and from trigger to the run's end.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench._common import Result

KEY = "OPS-180"
TARGET_P95_S = 5.0
BASELINE_POKE_S = 10.0
ROLLBACK = "rollback rehearsed in sandbox 2026-11-20 (runbook RB-42)"


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _run_once(airflow, config_path: Path, poke_s: float) -> dict:
    """One lifecycle run, every gate answered as soon as it asks: latencies and totals."""
    from include.itsm.lifecycle.plan import approvals_dag_id, lifecycle_dag_id, plan_for
    from tests.e2e.lifecycle_helpers import APPROVER_OF

    config = yaml.safe_load(config_path.read_text())
    config["runtime"]["gate_poke_seconds"] = poke_s
    config_path.write_text(yaml.safe_dump(config))
    time.sleep(6)  # the DAG processor re-parses (the waits' poke interval is fixed at parse time)
    client = airflow.client()
    plan = plan_for(KEY, "change", "normal")
    now = datetime.now(UTC)
    run_id = f"bench__poke{poke_s:g}__{now:%Y%m%dT%H%M%S%f}"
    started = time.time()
    client.trigger_at(lifecycle_dag_id(KEY), run_id, now, conf={"execute": True, "reason": "gate latency benchmark"})
    pending = [g.name for g in plan.gates]
    deadline = time.monotonic() + 1_200
    while pending and time.monotonic() < deadline:
        try:
            states = {t["task_id"]: t["state"] for t in client.task_instances(approvals_dag_id(KEY), run_id)}
        except Exception:  # noqa: BLE001 - the approvals run is not there yet
            states = {}
        for gate in [g for g in pending if states.get(g) == "awaiting_input"]:
            time.sleep(1)  # settle: Airflow 3.3 fails an answer that beats the parking worker's event
            airflow.client(APPROVER_OF[gate]).respond(
                approvals_dag_id(KEY),
                run_id,
                gate,
                approve=True,
                params={"evidence": ROLLBACK} if gate == "go_no_go_engineering" else {},
            )
            pending.remove(gate)
        time.sleep(0.5)
    state = client.wait_for_run(lifecycle_dag_id(KEY), run_id, timeout_s=600)
    ended = time.time()
    lifecycle = {t["task_id"]: t for t in client.task_instances(lifecycle_dag_id(KEY), run_id)}
    details = {
        d["task_instance"]["task_id"]: d
        for d in client.get(f"/dags/{approvals_dag_id(KEY)}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    }
    latencies, last_asked = {}, None
    for gate in plan.gates:
        asked, reviewed_end = (
            _when(details.get(gate.name, {}).get("created_at")),
            _when(lifecycle.get(gate.reviews_task, {}).get("end_date")),
        )
        if asked and reviewed_end:
            latencies[gate.name] = (asked - reviewed_end).total_seconds()
            last_asked = max(last_asked or asked, asked)
    return {
        "state": state,
        "unanswered": pending,
        "latencies": latencies,
        "to_last_gate_s": last_asked.timestamp() - started if last_asked else None,
        "to_end_s": ended - started,
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def run(quick: bool) -> Result:
    from include.itsm.devstack.local_airflow import ADMIN_PASSWORD, ADMIN_USER, LocalAirflow
    from include.itsm.devstack.services import free_port
    from include.itsm.lifecycle.plan import lifecycle_dag_id
    from tests.e2e.conftest import E2E_POLICY
    from tests.e2e.lifecycle_helpers import APPROVER_OF, add_to_manifest
    from tests.integration.aws_fixtures import start_local_aws
    from tests.integration.demo_fixtures import connection_env, seeded_board, write_test_config

    result = Result(
        name="gate latency (OPS-180, 11 gates, real scheduler)",
        target=f"p95 reviewed task end -> gate asks <= {TARGET_P95_S:g} s",
        ratio_label=f"p95 at the old {BASELINE_POKE_S:g} s poke / p95 now",
    )
    users = {ADMIN_USER: (ADMIN_PASSWORD, "admin"), **{u: (f"{u}-pw", "op") for u in set(APPROVER_OF.values())}}
    with tempfile.TemporaryDirectory(prefix="bench-gates-") as tmp:
        directory = Path(tmp)
        aws_proc, local_aws = start_local_aws(directory / "aws.log")
        airflow = None
        try:
            with seeded_board(directory, local_aws.endpoint_url) as board:
                env = connection_env(board.url, board.user, board.token, local_aws.endpoint_url)
                config_path = write_test_config(directory, policy=E2E_POLICY, sweep_schedule=None)
                env["ITSM_CONFIG"] = str(config_path)
                airflow = LocalAirflow(home=directory / "airflow", port=free_port(0), users=users, extra_env=env)
                airflow.config_dir = directory
                airflow.start(timeout_s=240)
                add_to_manifest(airflow, KEY, "change", "normal")
                airflow.client().wait_for_dag(lifecycle_dag_id(KEY), timeout_s=240)
                now_run = _run_once(airflow, config_path, 2.0)
                before_run = None if quick else _run_once(airflow, config_path, BASELINE_POKE_S)
        finally:
            if airflow:
                airflow.stop()
            aws_proc.terminate()
            aws_proc.wait(timeout=30)
    for label, r in (("now (poke 2 s)", now_run), (f"before (poke {BASELINE_POKE_S:g} s)", before_run)):
        if r is None:
            continue
        values = list(r["latencies"].values())
        result.figures[label] = (
            f"p50 {statistics.median(values):.1f} s, p95 {_p95(values):.1f} s, max {max(values):.1f} s over "
            f"{len(values)} gates; trigger -> last gate asks {r['to_last_gate_s']:.0f} s, -> run end "
            f"{r['to_end_s']:.0f} s; run {r['state']}"
        )
        result.figures[f"{label} per gate"] = ", ".join(f"{g} {s:.1f}" for g, s in r["latencies"].items())
    p95_now = _p95(list(now_run["latencies"].values()))
    if before_run:
        result.ratio = _p95(list(before_run["latencies"].values())) / p95_now
    result.passed = now_run["state"] == "success" and not now_run["unanswered"] and p95_now <= TARGET_P95_S
    return result
