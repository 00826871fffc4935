"""`itsm triage --input F --output F [--json]`: offline intake + classify of a JSONL file."""

from __future__ import annotations

import argparse
import sys

from include.itsm.application.triage import run_triage
from include.itsm.commands._jsonl import add_io_arguments, run_on_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "triage",
        help="offline intake + classification of tickets in a JSONL file",
        description="Read {key,summary,description,created,reporter} lines, write one result line per input line. "
        "No AWS and no Jira are contacted; discovery-dependent fields are marked provisional.",
    )
    add_io_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_on_files(args, "triage", "triaged", lambda source, sink: run_triage(source, sink, progress=sys.stderr))
