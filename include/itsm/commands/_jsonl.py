"""The file plumbing `itsm triage` and `itsm scrub` share: `-` for stdin/stdout, errors as exit 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from typing import IO


def add_io_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="input JSONL file, or - for stdin")
    parser.add_argument("--output", required=True, help="output JSONL file, or - for stdout")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stderr")


def run_on_files(args: argparse.Namespace, command: str, verb: str,
                 process: Callable[[IO[str], IO[str]], dict], **summary_extra) -> int:
    """Open --input/--output, run `process(source, sink)`, print the summary on stderr."""
    with contextlib.ExitStack() as stack:
        try:
            source = sys.stdin if args.input == "-" else stack.enter_context(open(args.input, encoding="utf-8"))
            sink = sys.stdout if args.output == "-" else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        except OSError as exc:
            print(f"itsm {command}: {exc}", file=sys.stderr)
            return 2
        counts = process(source, sink)
    summary = {"input": args.input, "output": args.output, **summary_extra, **counts}
    print(json.dumps(summary) if args.json else f"{verb} {counts['lines']} lines, {counts['errors']} with errors",
          file=sys.stderr)
    return 0
