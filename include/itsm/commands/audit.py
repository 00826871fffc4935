"""`itsm audit verify KEY [--customer ID] [--json]`: check a ticket's audit log against its anchors.

Each entry must hash to what was written, carry a valid HMAC under the audit key (the password of
the `runtime.audit_conn_id` connection, `itsm_audit` by default) and link to the one before; the
log must reach the head the anchor store (`runtime.audit_anchor_root`) holds. The verdict names what
was found: intact (n entries, anchored at seq m), truncated (log ends at n, anchor says m), deleted,
edited at seq k, forged at seq k (HMAC mismatch), unanchored, or missing (evidence but no log).

Exit 0 intact; 1 any other verdict; 2 nothing recorded for KEY (check the key and --customer); 3 no
audit key or a bad configuration.
"""

from __future__ import annotations

import argparse

from include.itsm.commands._args import add_key_argument
from include.itsm.commands.exit_codes import ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser("audit", help="audit log tools (verify a ticket's chain)", description=__doc__)
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="verify KEY's audit log: hashes, HMACs, links and the anchored head",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_key_argument(verify)
    verify.add_argument("--customer", help="customer id from the configuration (default: the first)")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from include.itsm.adapters.evidence import EvidenceStore
    from include.itsm.config import settings
    from include.itsm.core.audit import ChainStatus

    current = settings()
    store = EvidenceStore.from_settings(current, current.customer(args.customer))
    verdict = store.verify_audit(args.key)
    print(verdict.model_dump_json(indent=2) if args.json else verdict.summary())
    if verdict.ok:
        return ExitCode.OK
    return ExitCode.USAGE if verdict.status is ChainStatus.NONE else ExitCode.FAILED
