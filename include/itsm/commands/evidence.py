"""`itsm evidence prune [--execute] [--customer ID] [--json]`: delete artifacts past their retention.

Retention is `runtime.retention_days` (`{step-or-kind: days}`, `"*"` for any other kind); kinds
without a retention are kept forever, the audit log always is. Preview by default (lists what
would go); objects under S3 Object Lock retention are refused and reported.
"""

from __future__ import annotations

import argparse
import json
import sys

from include.itsm.commands.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evidence", help="evidence store maintenance (retention)")
    sub = parser.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    prune = sub.add_parser("prune", help="delete artifacts older than runtime.retention_days (never the audit log)")
    prune.add_argument("--execute", action="store_true", help="really delete (default: list what would be deleted)")
    prune.add_argument("--customer", help="customer id (default: every customer)")
    prune.add_argument("--json", action="store_true", help="print the result as JSON")
    prune.set_defaults(func=_prune)


def _prune(args: argparse.Namespace) -> int:
    from include.itsm.adapters.evidence import EvidenceStore, prune
    from include.itsm.config import settings

    current = settings()
    customers = [current.customer(args.customer)] if args.customer else list(current.customers)
    runtime = current.runtime
    if not runtime.retention_days:
        print("itsm evidence prune: runtime.retention_days is empty: nothing expires", file=sys.stderr)
    result = []
    roots = dict.fromkeys(current.evidence_root(c) for c in customers)  # one root when not per customer
    for root in roots:
        store = EvidenceStore(root, object_lock=runtime.object_lock, conn_id=runtime.evidence_conn_id)
        result += [o.model_dump() for o in prune(store, runtime.retention_days, execute=args.execute)]
    if args.json:
        print(json.dumps({"execute": args.execute, "objects": result}, indent=2))
    else:
        for o in result:
            print(f"{o['action']:<14} {o['path']}  ({o['kind']}, {o['age_days']} d > {o['retention_days']} d)")
        print(
            f"{len(result)} expired object(s); "
            + ("deleted where not locked" if args.execute else "preview: nothing deleted")
        )
    return ExitCode.FAILED if any(o["action"].startswith("error") for o in result) else ExitCode.OK
