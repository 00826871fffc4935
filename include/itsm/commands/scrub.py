"""`itsm scrub --input F|- --output F|- [--config F] [--customer ID] [--json]`: PII scrub of a JSONL file."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from include.itsm.application.scrub import load_registers, run_scrub
from include.itsm.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scrub",
        help="replace PII (accounts, IPs, customers, people, e-mails, phones) in texts of a JSONL file",
        description="Read {text,...} lines, write {text,scrubbed,...} lines, one per input line, in order. "
        "Registers (account types, customer personas, network tiers, people) come from the customer's "
        "scrub section of --config; without it the replacements are generic.",
    )
    parser.add_argument("--input", required=True, help="input JSONL file, or - for stdin")
    parser.add_argument("--output", required=True, help="output JSONL file, or - for stdout")
    parser.add_argument("--config", help="configuration YAML whose customer's scrub section gives the registers")
    parser.add_argument("--customer", help="customer id in --config (default: the first customer)")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stderr")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        registers = load_registers(args.config, args.customer)
    except ConfigError as exc:
        print(f"itsm scrub: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        try:
            source = sys.stdin if args.input == "-" else stack.enter_context(open(args.input, encoding="utf-8"))
            sink = sys.stdout if args.output == "-" else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        except OSError as exc:
            print(f"itsm scrub: {exc}", file=sys.stderr)
            return 2
        counts = run_scrub(source, sink, registers, progress=sys.stderr)
    summary = {"input": args.input, "output": args.output, "config": args.config, **counts}
    print(json.dumps(summary) if args.json else f"scrubbed {counts['lines']} lines, {counts['errors']} with errors", file=sys.stderr)
    return 0
