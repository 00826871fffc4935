"""`itsm approve KEY --gate G [--reject --reason TEXT]`: answer a gate as yourself.

A client of Airflow's Human-in-the-loop REST API with your own Airflow login
(ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD): Airflow records who responded,
and only the users the configuration assigns to the gate may answer it.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("approve", help="approve or reject a lifecycle gate (as your Airflow user)",
                                   description=__doc__)
    parser.add_argument("key", help="ticket key, e.g. OPS-180")
    parser.add_argument("--gate", required=True, help="gate name, e.g. labels, evidence, go_no_go_business, cab_1")
    parser.add_argument("--reject", action="store_true", help="reject (requires --reason)")
    parser.add_argument("--reason", default="", help="why (required to reject)")
    parser.add_argument("--evidence", default="", help="evidence link or attestation (Engineering: rollback test)")
    parser.add_argument("--run", help="approvals run id (default: the ticket's newest)")
    parser.add_argument("--json", action="store_true", help="print Airflow's answer as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from include.itsm.adapters.airflow_api import AirflowApi, AirflowApiError
    from include.itsm.application.lifecycle import approvals_dag_id
    from include.itsm.domain.ticket import validate_ticket_key

    key = validate_ticket_key(args.key)
    if args.reject and not args.reason.strip():
        print("itsm approve: --reject needs --reason (it is recorded and shown on the ticket)", file=sys.stderr)
        return 2
    dag_id = approvals_dag_id(key)
    try:
        api = AirflowApi.from_env()
        run_id = args.run or (api.latest_run(dag_id) or {}).get("dag_run_id")
        if not run_id:
            raise AirflowApiError(f"{key} has no approvals run: trigger `itsm lifecycle {key} --execute` first")
        answer = api.respond(dag_id, run_id, args.gate, approve=not args.reject,
                             params={"reason": args.reason, "evidence": args.evidence})
    except AirflowApiError as exc:
        print(f"itsm approve: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2) if args.json else
          f"{key} gate {args.gate}: {'rejected' if args.reject else 'approved'} by "
          f"{answer.get('responded_by', {}).get('name')} (run {run_id})")
    return 0
