"""`itsm lifecycle KEY`, and the seed's single-step shortcuts `cross-validate`, `create-change`,
`create-cr`: preview in-process by default; `--execute` triggers the ticket's lifecycle DAG
through Airflow's REST API as you (ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD),
where every write waits for its gate's approval."""

from __future__ import annotations

import argparse
import json
import sys

SHORTCUTS = {
    "cross-validate": (["cross-validate"], "step 4: verify the scope against 4 independent sources"),
    "create-change": (["implement"], "step 6A/6B: draft the change record (and CAB sub-task) for approval"),
    "create-cr": (["implement"], "step 6B: the CAB sub-task under the change record"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("lifecycle", help="run a ticket through its lifecycle steps (preview by default)",
                                   description=__doc__)
    parser.add_argument("key", help="ticket key, e.g. OPS-180")
    parser.add_argument("--steps", help="comma-separated steps, e.g. classify,cross-validate (default: all that apply)")
    _common(parser)
    for name, (steps, help_text) in SHORTCUTS.items():
        shortcut = subparsers.add_parser(name, help=help_text, description=__doc__)
        shortcut.add_argument("key", help="ticket key, e.g. OPS-180")
        shortcut.set_defaults(steps=",".join(steps))
        _common(shortcut)


def _common(parser) -> None:
    parser.add_argument("--execute", action="store_true", help="trigger the lifecycle run in Airflow (writes after approvals)")
    parser.add_argument("--reason", default="", help="why (recorded in the audit log)")
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def _print_preview(result) -> None:
    print(f"{result.key}: {result.ticket_type}{'/' + result.change_type if result.change_type else ''} "
          f"(preview run {result.run_id}; nothing sent to Jira or AWS)")
    for step in result.steps:
        status = f"FAILED: {step.error}" if step.error else json.dumps(step.result, default=str)[:300]
        print(f"  {step.step:<15} {status}")
        for gate in step.gates:
            print(f"    gate {gate.gate} (approvers: {', '.join(gate.approvers)})"
                  + (f"  REFUSED: {gate.error}" if gate.error else ""))
            for request in gate.planned:
                body = json.dumps(request.get("body"), default=str)
                print(f"      would send {request['method']} {request['path']} {body[:160]}")


def run(args: argparse.Namespace) -> int:
    from include.itsm.application import lifecycle_run
    from include.itsm.commands._context import cli_context
    from include.itsm.domain.ticket import validate_ticket_key

    key = validate_ticket_key(args.key)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    ctx = cli_context("lifecycle", customer_id=args.customer)
    try:
        if args.execute:
            from include.itsm.adapters.airflow_api import AirflowApi

            result = lifecycle_run.trigger(ctx, AirflowApi.from_env(), key, steps, args.reason)
            print(json.dumps(result, indent=2) if args.json else
                  f"triggered {result['dag_id']} run {result['run_id']} (steps: {', '.join(result['steps'])}); "
                  f"approve its gates with `itsm approve {key} --gate <gate>`")
            return 0
        result = lifecycle_run.preview(ctx, key, steps)
    except (ValueError, RuntimeError) as exc:
        print(f"itsm lifecycle: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_preview(result)
    return 1 if any(step.error for step in result.steps) else 0
