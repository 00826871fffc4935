"""`itsm devstack up|down|status|env|requests`: the embedded board and AWS organisation.

`eval "$(itsm devstack env)"` exports the Airflow connections that point the other commands (and an
Airflow of your own) at the devstack; the product itself never looks for the devstack.
"""

from __future__ import annotations

import argparse
import json
import shlex

from include.itsm.commands.exit_codes import CommandError, ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser("devstack", help="start/stop the local Jira board and local AWS organisation")
    parser.add_argument("action", choices=("up", "down", "status", "env", "requests"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-seed", action="store_true", help="up: do not seed the demo tickets")
    parser.set_defaults(func=run)


def _print_status(current: dict) -> None:
    for name, piece in (("board", current["board"]), ("aws", current["aws"])):
        url = piece.get("url") or piece.get("endpoint_url")
        print(f"{name:6} {'running' if piece['running'] else 'stopped':8} {url or '-'}")
    print(f"board login: {current['board']['user']} / API token {current['board']['password']}")
    print(
        f"aws keys: {current['aws']['access_key_id']} / {current['aws']['secret_access_key']}"
        f"  region {current['aws']['region']}"
    )
    if current["airflow_connections"]:
        print("Airflow connections (export these to point Airflow at the devstack):")
        for name, value in current["airflow_connections"].items():
            print(f"  export {name}='{value}'")
    print(f"state: {current['home']}")


def run(args: argparse.Namespace) -> int:
    from include.itsm.devstack import services

    try:
        if args.action == "env":
            connections = services.status()["airflow_connections"]
            if not connections:
                raise CommandError(ExitCode.UNAVAILABLE, "the devstack is not running: itsm devstack up")
            for name, value in connections.items():
                print(f"export {name}={shlex.quote(value)}")
            return ExitCode.OK
        if args.action == "requests":
            log = services.board_requests()
            if args.json:
                print(json.dumps(log, indent=2))
            else:
                for entry in log:
                    print(f"{entry['seq']:>5} {entry['method']:6} {entry['status']} {entry['path']}")
            return ExitCode.OK
        actions = {"up": lambda: services.up(seed=not args.no_seed), "down": services.down, "status": services.status}
        current = actions[args.action]()
    except RuntimeError as exc:  # a service that did not start, or is not running
        raise CommandError(ExitCode.UNAVAILABLE, str(exc)) from None
    if args.json:
        print(json.dumps(current, indent=2))
    else:
        _print_status(current)
    running = current["board"]["running"] and current["aws"]["running"]
    return ExitCode.UNAVAILABLE if args.action == "up" and not running else ExitCode.OK
