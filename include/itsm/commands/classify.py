"""`itsm classify KEY [--json]`: steps 1-3 for one ticket, preview."""

from __future__ import annotations

import argparse

from include.itsm.commands._args import add_key_argument
from include.itsm.commands.exit_codes import ExitCode


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="intake, discover and classify one ticket (preview: writes artifacts, not Jira)",
        description="Reuses the newest org-wide inventory snapshot younger than runtime.snapshot_max_age_hours "
        "(24 h by default), else takes one.",
    )
    add_key_argument(parser)
    parser.add_argument("--customer", help="customer id from the configuration (default: the first)")
    parser.add_argument("--json", action="store_true", help="print the three artifacts as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from include.itsm.commands._context import cli_context
    from include.itsm.steps.assess import assess_ticket
    from include.itsm.steps.discover.service import current_snapshot

    key = args.key
    ctx = cli_context("classify", customer_id=args.customer)
    result = assess_ticket(ctx, ctx.jira.get_ticket(key), current_snapshot(ctx))
    if args.json:
        print(result.model_dump_json(indent=2, exclude={"ticket": {"description_adf"}}))
        return ExitCode.OK
    c, d, i = result.proposal.classification, result.discovery, result.intake.result
    print(f"{key}: {result.ticket.summary}")
    print(
        f"  intake:    service {i.service}, env {i.environment}, accounts {[a.value for a in i.account_ids]}, "
        f"resources {[r.value for r in i.resource_ids][:10]}"
    )
    print(
        f"  discover:  {d.resource_count} resources in {d.account_count} accounts (scope: {d.scope.basis})"
        + (f"; org-wide {d.org_wide.resource_count} in {d.org_wide.account_count} accounts" if d.org_wide else "")
    )
    if d.org_wide and d.org_wide.tag_gap:
        gap = d.org_wide.tag_gap
        print(
            f"             tag gap: {gap.instances} instances in {gap.accounts} accounts "
            f"(non-standard {dict(gap.non_standard_values)}, missing in {sorted(gap.missing)})"
        )
    for error in d.errors:
        print(f"             NOT READABLE {error.account_id} {error.operation}: {error.code}")
    print(
        f"  classify:  {c.ticket_type}{'/' + c.change_type if c.change_type else ''} {c.priority} "
        f"(impact {c.impact}, urgency {c.urgency}), SLA due {c.sla_due}"
    )
    print(f"  labels:    +{result.proposal.labels_to_add} -{result.proposal.labels_to_remove}")
    for finding in result.proposal.findings:
        print(
            f"  lint:      {finding.label}: {finding.reason}"
            + (f" -> {finding.replacement}" if finding.replacement else "")
        )
    print(
        f"  evidence:  {ctx.settings.evidence_root(ctx.customer)}/{key}/  (run {ctx.run_id}); preview: nothing written to Jira"
    )
    return ExitCode.OK
