"""`itsm triage --input F --output F [--json]`: offline intake + classify of a JSONL file."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from include.itsm.application.triage import run_triage


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "triage",
        help="offline intake + classification of tickets in a JSONL file",
        description="Read {key,summary,description,created,reporter} lines, write one result line per input line. "
        "No AWS and no Jira are contacted; discovery-dependent fields are marked provisional.",
    )
    parser.add_argument("--input", required=True, help="input JSONL file, or - for stdin")
    parser.add_argument("--output", required=True, help="output JSONL file, or - for stdout")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stderr")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        try:
            source = sys.stdin if args.input == "-" else stack.enter_context(open(args.input, encoding="utf-8"))
            sink = sys.stdout if args.output == "-" else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        except OSError as exc:
            print(f"itsm triage: {exc}", file=sys.stderr)
            return 2
        counts = run_triage(source, sink, progress=sys.stderr)
    summary = {"input": args.input, "output": args.output, **counts}
    print(json.dumps(summary) if args.json else f"triaged {counts['lines']} lines, {counts['errors']} with errors", file=sys.stderr)
    return 0
