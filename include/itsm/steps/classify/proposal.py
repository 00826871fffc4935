"""Step 3's artifact: the classification and the label change the labels gate approves.

Also the one ITSM comment the nightly sweep may write per ticket (when the deployment enables
annotations): the discovery metadata and the *proposed* labels. Labels themselves are written
only after the labels gate of the lifecycle.
"""

from __future__ import annotations

from pydantic import Field

from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.steps.classify.domain import Classification, LabelFinding
from include.itsm.steps.discover.domain import Discovery


class LabelProposal(Artifact):
    """Step 3's artifact: the classification and the label change the labels gate approves."""

    classification: Classification
    existing_labels: list[str] = Field(default_factory=list)
    findings: list[LabelFinding] = Field(default_factory=list)  # non-canonical labels already on the ticket
    labels_to_add: list[str] = Field(default_factory=list)
    labels_to_remove: list[str] = Field(default_factory=list)


TAXONOMY_PREFIXES = ("blast:", "rca:", "ke:", "service:", "env:", "tier:", "itsm-type:", "cr:")


def propose_labels(existing: list[str], classification: Classification) -> tuple[list[str], list[str]]:
    """Add what is missing; remove taxonomy labels the classification replaces (free labels stay)."""
    proposed = set(classification.labels)
    to_add = [label for label in classification.labels if label not in existing]
    to_remove = [label for label in existing if label.lower().startswith(TAXONOMY_PREFIXES) and label not in proposed]
    return to_add, to_remove


def assessment_comment(discovery: Discovery, proposal: LabelProposal) -> dict:
    """The sweep's ITSM comment (ADF): discovery metadata and the proposed labels."""
    c = proposal.classification
    nodes = [
        adf.heading("ITSM assessment (steps 1-3, proposal)", 3),
        adf.paragraph(
            [
                adf.text("Classification: ", bold=True),
                f"{c.ticket_type}{' / ' + c.change_type if c.change_type else ''}, {c.priority} "
                f"(impact {c.impact} x urgency {c.urgency})",
            ]
        ),
        adf.paragraph(
            [
                adf.text("Discovery: ", bold=True),
                f"{discovery.resource_count} resources in {discovery.account_count} accounts "
                f"(scope: {discovery.scope.basis}; inventory as of {discovery.as_of:%Y-%m-%d %H:%M} UTC)",
            ]
        ),
    ]
    if discovery.counts_by_account:
        nodes.append(adf.table(["account", "resources"], sorted(discovery.counts_by_account.items())))
    org = discovery.org_wide
    if org:
        nodes.append(
            adf.paragraph(
                f"Organisation-wide ({', '.join(org.resource_types)}): {org.resource_count} "
                f"resources in {org.account_count} accounts."
            )
        )
        if org.tag_gap:
            gap = org.tag_gap
            nodes.append(
                adf.paragraph(
                    f"Tagging gap: {gap.instances} instances in {gap.accounts} accounts "
                    f"({sum(gap.non_standard.values())} in {len(gap.non_standard)} accounts with non-standard "
                    f"`{gap.env_tag_key}` values, {sum(gap.missing.values())} in {len(gap.missing)} accounts without the tag)."
                )
            )
    for fallback in discovery.fallbacks:
        nodes.append(
            adf.paragraph(
                f"Account {fallback.account_id}: org-wide query found 0; per-account check found "
                f"{'nothing readable' if fallback.per_account_count is None else fallback.per_account_count}."
            )
        )
    for error in discovery.errors:
        nodes.append(adf.paragraph(f"Not readable: account {error.account_id} {error.operation}: {error.code}."))
    nodes.append(
        adf.paragraph(
            [adf.text("Proposed labels (written only after the labels approval): ", bold=True), ", ".join(c.labels)]
        )
    )
    if proposal.findings:
        nodes.append(
            adf.bullet_list(
                [
                    f"{f.label}: {f.reason}" + (f" -> {f.replacement}" if f.replacement else "")
                    for f in proposal.findings
                ]
            )
        )
    return adf.doc(nodes)
