"""`itsm audit verify KEY [--json]`: check a ticket's hash-chained audit log in the evidence store.

Exit 0 when every entry links to the one before and its content still hashes to what was
written; exit 1 naming the first bad entry (edited, missing, reordered or unreadable); exit 2
for a bad key.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("audit", help="audit log tools (verify a ticket's hash chain)", description=__doc__)
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="verify the hash chain of KEY's audit log", description=__doc__)
    verify.add_argument("key", help="ticket key, e.g. OPS-180")
    verify.add_argument("--customer", help="customer id from the configuration (default: the first)")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(func=run_verify)


def _first_unreadable(store, key: str) -> str | None:
    from include.itsm.domain.audit import AuditEntry

    directory = store._audit_dir(key)
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json") and not path.name.startswith("."):
            try:
                AuditEntry.model_validate_json(path.read_text())
            except ValueError:
                return path.name
    return None


def run_verify(args: argparse.Namespace) -> int:
    from include.itsm.adapters.evidence import EvidenceStore
    from include.itsm.config import settings
    from include.itsm.domain.audit import ChainVerdict
    from include.itsm.domain.ticket import validate_ticket_key

    try:
        key = validate_ticket_key(args.key)
    except ValueError as exc:
        print(f"itsm audit verify: {exc}", file=sys.stderr)
        return 2
    current = settings()
    store = EvidenceStore(current.evidence_root(current.customer(args.customer)))
    try:
        verdict = store.verify_audit(key)
    except ValueError as exc:  # an entry that no longer parses is a broken chain too
        name = _first_unreadable(store, key)
        seq = int(name.split(".")[0]) if name and name.split(".")[0].isdigit() else None
        verdict = ChainVerdict(ticket=key, entries=0, ok=False, first_bad_seq=seq,
                               reason=f"entry {name} is unreadable: {str(exc).splitlines()[0]}")
    if args.json:
        print(json.dumps(verdict.model_dump(mode="json"), indent=2))
    elif verdict.ok:
        print(f"{key}: audit chain intact ({verdict.entries} entries)")
    else:
        print(f"{key}: audit chain BROKEN at entry {verdict.first_bad_seq}: {verdict.reason}")
    if verdict.ok and verdict.entries == 0 and not args.json:
        print(f"{key}: no audit entries under {store.root}", file=sys.stderr)
    return 0 if verdict.ok else 1
