"""`itsm doctor [--config F] [--json]`: check connections, permissions, mapping, evidence store and Airflow."""

from __future__ import annotations

import argparse
import json

from include.itsm.commands.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check this deployment: connections, permissions, Jira mapping, evidence store, Airflow",
        description="One line per check (OK/FAIL/SKIP) with the fix for each failure; exit 1 when any check fails.",
    )
    parser.add_argument("--config", help="configuration file (default: ITSM_CONFIG or config/itsm.yaml)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from include.itsm.doctor import render, run_doctor

    checks = run_doctor(args.config)
    if args.json:
        print(
            json.dumps(
                {"ok": not any(c.status == "FAIL" for c in checks), "checks": [c.model_dump() for c in checks]},
                indent=2,
            )
        )
    else:
        print(render(checks))
    return ExitCode.FAILED if any(c.status == "FAIL" for c in checks) else ExitCode.OK
