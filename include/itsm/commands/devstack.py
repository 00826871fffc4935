"""`itsm devstack up|down|status|requests`: the embedded board and AWS organisation."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("devstack", help="start/stop the local Jira board and local AWS organisation")
    parser.add_argument("action", choices=("up", "down", "status", "requests"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-seed", action="store_true", help="up: do not seed the demo tickets")
    parser.set_defaults(func=run)


def _print_status(current: dict) -> None:
    for name, piece in (("board", current["board"]), ("aws", current["aws"])):
        url = piece.get("url") or piece.get("endpoint_url")
        print(f"{name:6} {'running' if piece['running'] else 'stopped':8} {url or '-'}")
    print(f"board login: {current['board']['user']} / API token {current['board']['password']}")
    print(f"aws keys: {current['aws']['access_key_id']} / {current['aws']['secret_access_key']}"
          f"  region {current['aws']['region']}")
    if current["airflow_connections"]:
        print("Airflow connections (export these to point Airflow at the devstack):")
        for name, value in current["airflow_connections"].items():
            print(f"  export {name}='{value}'")
    print(f"state: {current['home']}")


def run(args: argparse.Namespace) -> int:
    from include.itsm.devstack import services

    if args.action == "requests":
        log = services.board_requests()
        if args.json:
            print(json.dumps(log, indent=2))
        else:
            for entry in log:
                print(f"{entry['seq']:>5} {entry['method']:6} {entry['status']} {entry['path']}")
        return 0
    current = {"up": lambda: services.up(seed=not args.no_seed), "down": services.down,
               "status": services.status}[args.action]()
    if args.json:
        print(json.dumps(current, indent=2))
    else:
        _print_status(current)
    return 0 if args.action != "up" or (current["board"]["running"] and current["aws"]["running"]) else 1
