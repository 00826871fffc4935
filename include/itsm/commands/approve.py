"""`itsm approve KEY --gate G [--reject --reason TEXT] [--evidence TEXT] [--show]`: answer a gate as yourself.

A client of Airflow's Human-in-the-loop REST API with your own Airflow login
(ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD): Airflow records who responded,
and only the users the configuration assigns to the gate may answer it. The gate's subject and
body are shown first (`--show` shows them and answers nothing). The gate then checks the answer
(separation of duties, required evidence, the reviewed verdict): a refused answer is printed
with its reasons (exit 5) and the gate stays open for the right person. The last line names the
gates open next and who may answer them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from include.itsm.commands._args import add_key_argument
from include.itsm.commands.exit_codes import CommandError, ExitCode

CHECK_SECONDS = 120  # how long to wait for the gate to check the answer before leaving it to `itsm status`


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "approve", help="approve or reject a lifecycle gate (as your Airflow user)", description=__doc__
    )
    add_key_argument(parser)
    parser.add_argument("--gate", required=True, help="gate name, e.g. labels, evidence, go_no_go_business, cab_1")
    parser.add_argument("--reject", action="store_true", help="reject (requires --reason)")
    parser.add_argument("--reason", default="", help="why (required to reject)")
    parser.add_argument("--evidence", default="", help="evidence link or attestation (Engineering: rollback test)")
    parser.add_argument("--run", help="approvals run id (default: the ticket's newest)")
    parser.add_argument("--show", action="store_true", help="show the gate's question and answer nothing")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(func=run)


def _open_gate(api, key: str, dag_id: str, run_id: str, gate: str, policy_change) -> dict:
    """The gate's HITL detail if it is open now; otherwise a plain sentence on why it cannot be answered."""
    from include.itsm.commands._gates import gate_views

    views = {v.gate: v for v in gate_views(api, key, run_id, policy_change)}
    if gate not in views:
        raise CommandError(
            ExitCode.USAGE, f"{key} has no gate {gate!r} in run {run_id}; its gates: {', '.join(views) or 'none'}"
        )
    view = views[gate]
    if not view.open:
        answered = f", answered by {view.answered_by}" if view.answered_by else ""
        raise CommandError(
            ExitCode.REFUSED,
            f"{key} gate {gate} is not open ({view.state}{answered}): it waits for {view.waits_for}",
        )
    return api.hitl_detail(dag_id, run_id, gate) | {"_approvers": view.approvers}


def _answered(api, dag_id: str, run_id: str, gate: str, refused_before: int) -> dict | None:
    """Wait until the gate has checked the answer: the refusal if it refused it, None if it took it."""
    deadline = time.monotonic() + CHECK_SECONDS
    while time.monotonic() < deadline:
        refusals = api.xcom(dag_id, run_id, gate, "refusals") or []
        if len(refusals) > refused_before:
            return refusals[-1]
        state = {t["task_id"]: t["state"] for t in api.task_instances(dag_id, run_id)}.get(gate)
        if state in ("success", "failed"):
            return None
        time.sleep(2)
    print(f"the answer is recorded; {gate} has not checked it yet (see `itsm status`)", file=sys.stderr)
    return None


def run(args: argparse.Namespace) -> int:
    from include.itsm.adapters.airflow_api import AirflowApi, AirflowApiError
    from include.itsm.commands._gates import gate_views, next_gate_line
    from include.itsm.config import settings
    from include.itsm.lifecycle.plan import approvals_dag_id

    key, gate = args.key, args.gate
    if args.reject and not args.reason.strip():
        raise CommandError(ExitCode.USAGE, "--reject needs --reason (it is recorded and shown on the ticket)")
    dag_id = approvals_dag_id(key)
    api = AirflowApi.from_env()
    policy_change = settings().policy.change
    run_id = args.run or (api.latest_run(dag_id) or {}).get("dag_run_id")
    if not run_id:
        raise CommandError(
            ExitCode.USAGE, f"{key} has no approvals run: trigger `itsm lifecycle {key} --execute` first"
        )
    detail = _open_gate(api, key, dag_id, run_id, gate, policy_change)
    print(f"{detail['subject']}\n\n{detail.get('body') or ''}\n", file=sys.stdout if args.show else sys.stderr)
    if args.show:
        return ExitCode.OK
    refused_before = len(api.xcom(dag_id, run_id, gate, "refusals") or [])
    try:
        answer = api.respond(
            dag_id, run_id, gate, approve=not args.reject, params={"reason": args.reason, "evidence": args.evidence}
        )
    except AirflowApiError as exc:
        if "HTTP 403" in str(exc):
            raise CommandError(
                ExitCode.REFUSED,
                f"you ({api.user}) may not answer {key} gate {gate}: it is assigned to {', '.join(detail['_approvers'])}",
            ) from None
        if "HTTP 409" in str(exc):
            raise CommandError(ExitCode.REFUSED, f"{key} gate {gate} was answered already") from None
        raise
    refusal = _answered(api, dag_id, run_id, gate, refused_before)
    verb = "rejected" if args.reject else "approved"
    outcome = {
        "key": key,
        "gate": gate,
        "run_id": run_id,
        "answer": verb,
        "by": (answer.get("responded_by") or {}).get("name"),
        "refused": refusal,
    }
    if args.json:
        print(json.dumps(outcome, indent=2))
    elif refusal:
        print(f"{key} gate {gate}: your answer was refused and the gate stays open:")
        for problem in refusal["problems"]:
            print(f"  - {problem}")
    else:
        print(f"{key} gate {gate}: {verb} by {outcome['by']} (run {run_id})")
    if not args.json:
        print(next_gate_line(gate_views(api, key, run_id, policy_change)))
    return ExitCode.REFUSED if refusal else ExitCode.OK
