"""`itsm status KEY [--run RUN] [--json]`: where a ticket's lifecycle run is: its steps, its gates,
which are open, who may answer each, how long they have waited and what each waits for.

Reads Airflow's REST API as you (ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD).
"""

from __future__ import annotations

import argparse
import json

from include.itsm.commands._args import add_key_argument
from include.itsm.commands.exit_codes import CommandError, ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="a lifecycle run's steps and gates", description=__doc__)
    add_key_argument(parser)
    parser.add_argument("--run", help="lifecycle run id (default: the ticket's newest)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.set_defaults(func=run)


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f", waiting {seconds / 60:.0f} min"


def run(args: argparse.Namespace) -> int:
    from include.itsm.adapters.airflow_api import AirflowApi
    from include.itsm.commands._gates import gate_views, next_gate_line
    from include.itsm.config import settings
    from include.itsm.lifecycle.plan import ALL_STEPS, lifecycle_dag_id

    key = args.key
    api = AirflowApi.from_env()
    dag_id = lifecycle_dag_id(key)
    run_id = args.run or (api.latest_run(dag_id) or {}).get("dag_run_id")
    if not run_id:
        raise CommandError(
            ExitCode.USAGE, f"{key} has no lifecycle run: start one with `itsm lifecycle {key} --execute`"
        )
    state = api.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
    steps = {t["task_id"]: t.get("state") or "not started" for t in api.task_instances(dag_id, run_id)}
    gates = gate_views(api, key, run_id, settings().policy.change)
    if args.json:
        print(
            json.dumps(
                {
                    "key": key,
                    "run_id": run_id,
                    "state": state,
                    "steps": {s: steps[s] for s in ALL_STEPS if s in steps},
                    "gates": [g.model_dump() for g in gates],
                },
                indent=2,
            )
        )
        return ExitCode.OK
    print(f"{key} lifecycle run {run_id}: {state}")
    print("  steps: " + ", ".join(f"{s} {steps[s]}" for s in ALL_STEPS if s in steps))
    for g in gates:
        flag = "OPEN " if g.open else ""
        print(f"  gate {g.gate:<22} {flag}{g.state}: waits for {g.waits_for}{_minutes(g.waiting_s)}")
        for refusal in g.refusals:
            print(f"      refused {refusal['user']}: {'; '.join(refusal['problems'])}")
    print(next_gate_line(gates))
    return ExitCode.OK
