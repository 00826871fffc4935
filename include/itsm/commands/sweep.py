"""`itsm sweep [--execute] [--json]`: the nightly sweep's logic, in-process."""

from __future__ import annotations

import argparse
import json

from include.itsm.commands._args import terminal_progress
from include.itsm.commands.exit_codes import ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="steps 1-3 for every open OPS ticket (one org-wide discovery), in-process",
        description="Runs the nightly sweep's logic against the configured board and AWS. Preview by default: "
        "artifacts are written, Jira is only read. --execute also upserts the ITSM assessment comment; "
        "labels are never written here (they wait for the labels approval).",
    )
    parser.add_argument("--execute", action="store_true", help="write the assessment comment on each ticket")
    parser.add_argument("--jql", help="extra JQL to narrow the open tickets")
    parser.add_argument("--max-tickets", type=int, help="stop after this many tickets")
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from include.itsm.commands._context import cli_context
    from include.itsm.sweep import run_sweep

    ctx = cli_context("sweep", execute=args.execute, customer_id=args.customer)
    summary = run_sweep(ctx, jql=args.jql, max_tickets=args.max_tickets, progress=terminal_progress())
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(
            f"sweep {summary.run_id} ({summary.mode}): {summary.succeeded}/{summary.tickets} tickets classified, "
            f"{summary.failed} failed"
        )
        print(f"  by type:     {json.dumps(summary.by_type)}")
        print(f"  by priority: {json.dumps(summary.by_priority)}")
        print(
            f"  inventory:   {summary.snapshot.get('resources')} resources in {summary.snapshot.get('accounts')} "
            f"accounts, {summary.snapshot.get('api_calls')} API calls"
        )
        for failure in summary.failures:
            print(f"  FAILED {failure['key']}: {failure['error']}")
        print(f"  evidence:    {ctx.settings.evidence_root(ctx.customer)}  (run {summary.run_id})")
    return ExitCode.FAILED if summary.failed else ExitCode.OK
