"""The `itsm` command: one sub-command module per verb under `include/itsm/commands/`.

Each module defines `register(subparsers)`, adding its parser with `set_defaults(func=...)`;
`func(args)` returns the process exit code. Modules are imported lazily by name so that
`itsm --help` stays fast and a broken optional piece cannot stop the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "devstack",
    "triage",
    "sweep",
    "classify",
    "bridge",
    "scrub",
    "lifecycle",
    "approve",
    "doctor",
    "evidence",
    "audit",
    "pir",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
