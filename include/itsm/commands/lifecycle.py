"""`itsm lifecycle KEY`, and the seed's single-step shortcuts `cross-validate`, `create-change`,
`create-cr`: preview in-process by default; `--execute` triggers the ticket's lifecycle DAG
through Airflow's REST API as you (ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD),
where every write waits for its gate's approval."""

from __future__ import annotations

import argparse
import json

from include.itsm.commands._args import add_key_argument, terminal_progress
from include.itsm.commands.exit_codes import ExitCode

SHORTCUTS = {
    "cross-validate": (["cross-validate"], "step 4: verify the scope against 4 independent sources"),
    "create-change": (["implement"], "step 6A/6B: draft the change record (and CAB sub-task) for approval"),
    "create-cr": (["implement"], "step 6B: the CAB sub-task under the change record"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lifecycle", help="run a ticket through its lifecycle steps (preview by default)", description=__doc__
    )
    add_key_argument(parser)
    parser.add_argument("--steps", help="comma-separated steps, e.g. classify,cross-validate (default: all that apply)")
    _common(parser)
    for name, (steps, help_text) in SHORTCUTS.items():
        shortcut = subparsers.add_parser(name, help=help_text, description=__doc__)
        add_key_argument(shortcut)
        shortcut.set_defaults(steps=",".join(steps))
        _common(shortcut)


def _common(parser) -> None:
    parser.add_argument(
        "--execute", action="store_true", help="trigger the lifecycle run in Airflow (writes after approvals)"
    )
    parser.add_argument("--reason", default="", help="why (recorded in the audit log)")
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def _print_preview(result) -> None:
    print(
        f"{result.key}: {result.ticket_type}{'/' + result.change_type if result.change_type else ''} "
        f"(preview run {result.run_id}; nothing sent to Jira or AWS)"
    )
    for step in result.steps:
        status = f"FAILED: {step.error}" if step.error else json.dumps(step.result, default=str)[:300]
        print(f"  {step.step:<15} {status}")
        for gate in step.gates:
            print(
                f"    gate {gate.gate} (approvers: {', '.join(gate.approvers)})"
                + (f"  REFUSED: {gate.error}" if gate.error else "")
            )
            for request in gate.planned:
                body = json.dumps(request.get("body"), default=str)
                print(f"      would send {request['method']} {request['path']} {body[:160]}")


def _first_gate_line(policy_change, name: str, key: str) -> str:
    from include.itsm.commands._gates import gate_named
    from include.itsm.lifecycle.plan import approvers

    gate = gate_named(name)
    return (
        f"next gate: {name} (approvers: {', '.join(approvers(policy_change, gate))}), opens when "
        f"{gate.reviews_task} finishes; follow with `itsm status {key}`, answer with `itsm approve {key} --gate {name}`"
    )


def run(args: argparse.Namespace) -> int:
    from include.itsm.commands._context import cli_context
    from include.itsm.lifecycle import run as lifecycle_run

    key = args.key
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    ctx = cli_context("lifecycle", customer_id=args.customer)
    if args.execute:
        from include.itsm.adapters.airflow_api import AirflowApi

        result = lifecycle_run.trigger(ctx, AirflowApi.from_env(), key, steps, args.reason)
        if args.json:
            print(result.model_dump_json(indent=2))
            return ExitCode.OK
        print(f"triggered {result.dag_id} run {result.run_id} (steps: {', '.join(result.steps)})")
        if result.gates:
            print(_first_gate_line(ctx.settings.policy.change, result.gates[0], key))
        return ExitCode.OK
    result = lifecycle_run.preview(ctx, key, steps, progress=terminal_progress())
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_preview(result)
    return ExitCode.FAILED if any(step.error for step in result.steps) else ExitCode.OK
