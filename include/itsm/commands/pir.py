"""`itsm create-pir KEY [--input pir.yaml] [--execute] [--json]`: the Post-Incident Review of a
P0/P1 incident in Pending PIR.

Preview (default) runs in-process: drafts the PIR (timeline from the ticket's changelog, alarms,
linked changes), merges the people's 5 Whys / root cause / rca / action items from `--input`,
checks the quality gate, renders the page and lists the requests an approval would send
(Confluence page, action-item tickets, the transition to Resolved). Nothing is sent.

`--execute` triggers the ticket's lifecycle with steps ["pir"] through Airflow's REST API as you,
the input in the run's conf (the pir task stores it as `pir-input` on the Airflow side, never in
this machine's evidence store); the incident manager approves
gate `pir` (and may fill in or correct the PIR in its entry form), and only then is anything
published or the ticket resolved.

Input YAML:

    whys:
      - The API fleet crash-looped after the release
      - ...                                   # exactly 5, each one level deeper
      - "process: releases skip the canary stage on Fridays"   # or {text: ..., cause_kind: process}
    root_cause: Release 26.10.3 shipped without a canary stage
    rca: code-defect
    action_items:
      - action: Enforce canary stage in the pipeline
        owner: CloudOps Engineer
        due: 2026-06-30                       # or "action | owner | YYYY-MM-DD"
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from include.itsm.commands._args import add_key_argument
from include.itsm.commands.exit_codes import ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "create-pir",
        help="Post-Incident Review of a P0/P1 incident (preview by default)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_key_argument(parser, "OPS-152")
    parser.add_argument("--input", help="YAML file with whys, root_cause, rca, action_items")
    parser.add_argument(
        "--execute",
        action="store_true",
        help="trigger the lifecycle run (steps: pir) in Airflow; writes only after the pir gate",
    )
    parser.add_argument("--reason", default="", help="why (recorded in the audit log)")
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def read_input(path: str):
    import yaml

    from include.itsm.steps.pir.domain import input_from_mapping

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return input_from_mapping(data or {}, source=f"yaml:{Path(path).name}")


def preview(ctx, key: str, people) -> dict:
    """run + brief + apply in preview, the pir gate approved by a stand-in of its approver."""
    from include.itsm.lifecycle.plan import Gate, approvers
    from include.itsm.steps import GateDecision
    from include.itsm.steps.pir import service as step

    if people is not None:
        ctx.step_inputs["pir_input"] = people
    summary = step.run(ctx, key)
    brief = step.brief(ctx, key, "pir")
    approver = approvers(
        ctx.settings.policy.change, Gate(name="pir", step="pir", approvers_key="pir", reviews_task="pir")
    )[0]
    decision = GateDecision(
        gate="pir",
        approved=True,
        user_id=approver,
        user_name=f"{approver} (preview stand-in)",
        at=datetime.now(UTC),
    )
    result = {
        "key": key,
        "run_id": ctx.run_id,
        "draft": summary,
        "brief": brief.model_dump(),
        "applied": None,
        "refused": None,
    }
    try:
        result["applied"] = step.apply(ctx, key, "pir", {"pir": decision})
    except (ValueError, PermissionError) as exc:
        result["refused"] = str(exc)
    return result


def run(args: argparse.Namespace) -> int:
    from include.itsm.commands._context import cli_context

    key = args.key
    people = read_input(args.input) if args.input else None
    ctx = cli_context("create-pir", customer_id=args.customer)
    result = preview(ctx, key, people)
    if args.execute:
        # a refusal here only means the PIR is still incomplete: the entry form of gate pir completes it
        from include.itsm.adapters.airflow_api import AirflowApi
        from include.itsm.lifecycle import run as lifecycle_run

        inputs = {"pir": people.model_dump(mode="json")} if people is not None else None
        triggered = lifecycle_run.trigger(
            ctx, AirflowApi.from_env(), key, ["pir"], args.reason or "create-pir", inputs=inputs
        )
        print(
            triggered.model_dump_json(indent=2)
            if args.json
            else f"triggered {triggered.dag_id} run {triggered.run_id} (steps: pir); the incident manager "
            f"approves with `itsm approve {key} --gate pir`"
        )
        return ExitCode.OK
    refused = ExitCode.REFUSED if result["refused"] else ExitCode.OK
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return refused
    print(result["brief"]["body"])
    if result["refused"]:
        print(f"\nREFUSED: {result['refused']}")
        return refused
    print(f"\n{key}: preview run {ctx.run_id}; nothing sent. On approval of gate pir this would send:")
    for request in result["applied"]["planned"]:
        print(f"  {request['method']} {request['path']} {json.dumps(request.get('body'), default=str)[:160]}")
    return ExitCode.OK
