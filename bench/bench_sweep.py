"""The nightly sweep under the real scheduler: batched mapping against one task per ticket.

A board seeded with `tickets` generated tickets (BoardStore.seed_issue in a temp db; texts from
bench/tickets.py), the seeded local AWS, and one LocalAirflow (airflow standalone: SQLite,
LocalExecutor, parallelism 4). The sweep DAG is triggered twice, first with
`runtime.sweep_batch_size` 50 (the product's way) and then 1 (one mapped task per ticket, the
baseline), by rewriting the ITSM_CONFIG file between runs (every task process reads it).
Measured: wall time from trigger to the run's end, mapped task count, and the peak resident
memory of the whole Airflow process tree (sampled every 0.5 s).
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import yaml

from bench._common import Result
from bench.tickets import generate
from include.itsm.core import adf

DAG_ID = "itsm_nightly_sweep"


def seed(store, count: int) -> None:
    for n, record in enumerate(generate(count, seed=23)):
        store.seed_issue(
            project="OPS",
            issue_type=("Incident", "Change", "Service Request", "Problem")[n % 4],
            summary=record["summary"][:250],
            description_adf=adf.doc(adf.paragraph(record["description"])),
            status="Open",
            key=f"OPS-{5000 + n}",
        )


class PeakMemory:
    """Peak summed RSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.root, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for proc in [self.root, *self.root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.5)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _sweep(airflow, config_path: Path, batch_size: int, tickets: int, timeout_s: float) -> dict:
    config = yaml.safe_load(config_path.read_text())
    config["runtime"]["sweep_batch_size"] = batch_size
    config_path.write_text(yaml.safe_dump(config))
    client = airflow.client()
    now = datetime.now(UTC)
    run_id = f"bench__b{batch_size}__{now:%Y%m%dT%H%M%S%f}"
    with PeakMemory(airflow.process.pid) as memory:
        start = time.perf_counter()
        client.trigger_at(DAG_ID, run_id, now, conf={"execute": False})
        state = client.wait_for_run(DAG_ID, run_id, timeout_s=timeout_s)
        elapsed = time.perf_counter() - start
    tis = _all_task_instances(client, run_id)
    mapped = [ti for ti in tis if ti["task_id"] == "assess_batch"]
    return {
        "state": state,
        "seconds": elapsed,
        "mapped": len(mapped),
        "peak_mb": memory.peak / 2**20,
        "failed": [ti["task_id"] for ti in tis if ti["state"] in ("failed", "upstream_failed")],
    }


def _all_task_instances(client, run_id: str) -> list[dict]:
    """Every task instance of the run (the REST API pages at 100 at most)."""
    found, offset = [], 0
    while True:
        page = client.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", limit=100, offset=offset)["task_instances"]
        found += page
        if len(page) < 100:
            return found
        offset += len(page)


def run(quick: bool, tickets: int | None = None) -> Result:
    from include.itsm.devstack.board.catalog import BOT_TOKEN, BOT_USER
    from include.itsm.devstack.board.server import BoardServer
    from include.itsm.devstack.local_airflow import LocalAirflow
    from include.itsm.devstack.services import free_port
    from tests.integration.aws_fixtures import start_local_aws
    from tests.integration.demo_fixtures import connection_env, write_test_config

    tickets = tickets or (100 if quick else 1_000)
    result = Result(
        name=f"nightly sweep ({tickets:,} tickets, real scheduler)",
        target="batched >= 5x faster than 1 per task",
        ratio_label="one-per-task time / batched time",
    )
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        directory = Path(tmp)
        aws_proc, local_aws = start_local_aws(directory / "aws.log")
        board = BoardServer(str(directory / "board.sqlite")).start()
        airflow = None
        try:
            seed(board.store, tickets)
            env = connection_env(board.url, BOT_USER, BOT_TOKEN, local_aws.endpoint_url)
            config_path = write_test_config(directory, sweep_schedule=None)
            env["ITSM_CONFIG"] = str(config_path)
            airflow = LocalAirflow(home=directory / "airflow", port=free_port(0), extra_env=env)
            airflow.start(timeout_s=240)
            airflow.client().wait_for_dag(DAG_ID, timeout_s=240)
            timeout = 600 if quick else 3_600
            batched = _sweep(airflow, config_path, 50, tickets, timeout)
            single = _sweep(airflow, config_path, 1, tickets, timeout)
        finally:
            if airflow:
                airflow.stop()
            board.stop()
            aws_proc.terminate()
            aws_proc.wait(timeout=30)
    for label, r in (("batched (sweep_batch_size 50)", batched), ("one task per ticket (sweep_batch_size 1)", single)):
        result.figures[label] = (
            f"{r['seconds']:.1f} s, {r['mapped']} mapped tasks, {tickets / r['seconds']:.1f} tickets/s, "
            f"peak RSS {r['peak_mb']:,.0f} MB, run {r['state']}"
        )
    result.ratio = single["seconds"] / batched["seconds"]
    result.passed = batched["state"] == "success" and single["state"] == "success" and result.ratio >= 5
    if batched["failed"] or single["failed"]:
        result.note = f"tasks not successful: {batched['failed'][:3]} / {single['failed'][:3]}"
    return result
