"""`itsm scrub --input F|- --output F|- [--config F] [--customer ID] [--json]`: PII scrub of a JSONL file."""

from __future__ import annotations

import argparse
import sys

from include.itsm.commands._jsonl import add_io_arguments, run_on_files
from include.itsm.commands.exit_codes import CommandError, ExitCode
from include.itsm.scrub.service import load_registers, run_scrub


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scrub",
        help="replace PII (accounts, IPs, customers, people, e-mails, phones) in texts of a JSONL file",
        description="Read {text,...} lines, write {text,scrubbed,...} lines, one per input line, in order. "
        "Registers (account types, customer personas, network tiers, people) come from the customer's "
        "scrub section of --config; without it the replacements are generic. Other input fields are echoed; an "
        "input's own scrubbed/error/shadowed is moved under shadowed. Exit 1 when any line failed.",
    )
    add_io_arguments(parser)
    parser.add_argument("--config", help="configuration YAML whose customer's scrub section gives the registers")
    parser.add_argument("--customer", help="customer id in --config (default: the first customer)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.customer and not args.config:
        raise CommandError(ExitCode.USAGE, "--customer names a customer of --config: give --config too")
    registers = load_registers(args.config, args.customer)  # a bad --config: ConfigError, exit 3
    return run_on_files(
        args,
        "scrubbed",
        lambda source, sink: run_scrub(source, sink, registers, progress=sys.stderr),
        config=args.config,
    )
