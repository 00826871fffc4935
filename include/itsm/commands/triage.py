"""`itsm triage --input F --output F [--json]`: offline intake + classify of a JSONL file (exit 1 if a line failed)."""

from __future__ import annotations

import argparse
import sys

from include.itsm.commands._jsonl import add_io_arguments, run_on_files
from include.itsm.triage import run_triage


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "triage",
        help="offline intake + classification of tickets in a JSONL file",
        description="Read {key,summary,description,created,reporter} lines, write one result line per input line "
        "(other input fields echoed; an input's own intake/classification/error/shadowed moved under shadowed). "
        "No AWS and no Jira are contacted; discovery-dependent fields are marked provisional. "
        "Exit 1 when any line failed.",
    )
    add_io_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_on_files(args, "triaged", lambda source, sink: run_triage(source, sink, progress=sys.stderr))
