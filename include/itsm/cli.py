"""The `itsm` command: one sub-command module per verb under `include/itsm/commands/`.

Each module defines `register(subparsers)`, adding its parser with `set_defaults(func=...)`;
`func(args)` returns an `ExitCode` (include/itsm/commands/exit_codes.py) or raises. An exception
the exit-code table knows becomes its code and one message on stderr; a usage error is one line.
Modules are imported lazily by name so that `itsm --help` stays fast and a broken optional piece
cannot stop the others. Log lines go to stderr (`commands/_logs.py`): stdout is the command's output.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from include.itsm.commands._logs import route_logs_to_stderr
from include.itsm.commands.exit_codes import ExitCode, exit_code_for

COMMAND_MODULES = (
    "devstack",
    "triage",
    "sweep",
    "classify",
    "bridge",
    "scrub",
    "lifecycle",
    "approve",
    "status",
    "approvers",
    "doctor",
    "evidence",
    "audit",
    "pir",
)
# Commands that never import Airflow: their log lines need no rerouting, and they skip Airflow's start-up.
OFFLINE_COMMANDS = frozenset({"devstack", "triage", "scrub"})


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit 2) instead of the usage block; sub-parsers inherit it."""

    def error(self, message: str):
        self.exit(ExitCode.USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="itsm",
        description="ITSM lifecycle for cloud-operations teams on Apache Airflow 3. "
        "Every command previews by default; --execute applies changes through Airflow.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"include.itsm.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command not in OFFLINE_COMMANDS:
            route_logs_to_stderr()
        return int(args.func(args) or ExitCode.OK)
    except BaseException as exc:  # noqa: BLE001 - mapped to the exit-code table, or re-raised
        code = exit_code_for(exc)
        if code is None:
            raise
        message = "interrupted" if code is ExitCode.INTERRUPTED else (str(exc).strip() or type(exc).__name__)
        print(f"itsm {args.command}: {message}", file=sys.stderr)
        return int(code)


if __name__ == "__main__":
    sys.exit(main())
