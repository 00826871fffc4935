"""`itsm bridge [--execute] [--json]`: the pattern bridge (recurring OPS incidents -> SPM stories)."""

from __future__ import annotations

import argparse
import json

from include.itsm.commands.exit_codes import ExitCode

DAG_ID = "itsm_pattern_bridge"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bridge",
        help="draft PII-scrubbed SPM stories from recurring OPS incidents (preview in-process)",
        description="Preview (default): loads the OPS incidents of the lookback window, detects recurring "
        "service+rca patterns (3+ in any 90-day window), P0s and MTTR > 3x SLA, drafts one scrubbed story per "
        "pattern, writes drafts and the daily report to the evidence store and shows the requests --execute "
        "would send. --execute triggers the itsm_pattern_bridge DAG through Airflow's REST API with your own "
        "credentials (ITSM_AIRFLOW_URL, ITSM_AIRFLOW_USER, ITSM_AIRFLOW_PASSWORD); stories are created after "
        "the `stories` approval.",
    )
    parser.add_argument("--execute", action="store_true", help="trigger the bridge DAG with execute=true")
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.execute:
        from include.itsm.adapters.airflow_api import AirflowApi
        from include.itsm.config import settings
        from include.itsm.tenancy import dag_id_for

        dag_id = dag_id_for(settings(), DAG_ID, args.customer)  # the customer's own bridge DAG
        dag_run = AirflowApi.from_env().trigger(dag_id, conf={"execute": True})
        result = {
            "dag_id": dag_id,
            "dag_run_id": dag_run.get("dag_run_id"),
            "state": dag_run.get("state"),
            "next": "approve the `stories` gate in Airflow (Human-in-the-loop) to create the stories",
        }
        print(
            json.dumps(result, indent=2)
            if args.json
            else f"triggered {dag_id} run {result['dag_run_id']}; {result['next']}"
        )
        return ExitCode.OK

    from include.itsm.bridge.service import run_bridge
    from include.itsm.commands._context import cli_context

    ctx = cli_context("bridge", execute=False, customer_id=args.customer)
    result = run_bridge(ctx, publish=False)  # a preview never replaces the day's report
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return ExitCode.OK
    print(f"bridge {result['run_id']} (preview): {result['incidents']} incidents, {len(result['patterns'])} patterns")
    for p in result["patterns"]:
        story = p["story_key"] or "new story"
        print(f"  {p['pattern_id']:<40} {story:<10} {', '.join(p['incidents'])}")
        print(f"      {p['title']}")
    print(
        f"  {len(result['planned_requests'])} request(s) --execute would send; preview report in "
        f"{ctx.settings.evidence_root(ctx.customer)}/_bridge/{ctx.run_id}/ (the day's report is the DAG's)"
    )
    return ExitCode.OK
