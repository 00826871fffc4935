"""Arguments several commands share, validated by argparse (a bad value is a one-line usage error, exit 2)."""

from __future__ import annotations

import argparse

from include.itsm.core.ticket import validate_ticket_key


def ticket_key(value: str) -> str:
    try:
        return validate_ticket_key(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_key_argument(parser: argparse.ArgumentParser, example: str = "OPS-180") -> None:
    parser.add_argument("key", type=ticket_key, help=f"ticket key, e.g. {example}")


def terminal_progress():
    """A progress callback writing one overwritten line to stderr when it is a terminal, else None."""
    import sys

    if not sys.stderr.isatty():
        return None

    def show(line: str) -> None:
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()

    return show
