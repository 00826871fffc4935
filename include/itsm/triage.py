"""Offline triage: JSONL tickets in, intake + classification out.

One output line per input line, in order, streamed (flat memory on any file size). A line
that cannot be processed gets an `error` naming the field (or line) and reason; the run goes on.
The ticket fields are consumed; any other input field is echoed, except `intake`,
`classification`, `error` and `shadowed`, which are moved under `shadowed` (include/itsm/jsonl.py).
No AWS, no Jira: blast radius and priority are therefore marked `provisional`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import IO

from pydantic import ValidationError

from include.itsm.core.policy import Policy
from include.itsm.core.ticket import Ticket
from include.itsm.jsonl import LineError, stream
from include.itsm.steps.classify.domain import classify
from include.itsm.steps.intake.domain import extract

TEXT_FIELDS = ("summary", "description", "reporter")
CONSUMED = frozenset({"summary", "description", "created", "reporter"})  # read, not echoed (`key` is)
OWNED = frozenset({"intake", "classification"})


def _ticket(record: dict) -> Ticket:
    if "key" not in record:
        raise LineError("key: missing")
    for name in TEXT_FIELDS:
        if record.get(name) is not None and not isinstance(record[name], str):
            raise LineError(f"{name}: must be a string")
    created = record.get("created")
    try:
        created_at = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
    except (AttributeError, ValueError) as exc:
        raise LineError(f"created: not an ISO-8601 timestamp ({exc})") from None
    try:
        return Ticket(
            key=record["key"],
            summary=record.get("summary") or "",
            description=record.get("description") or "",
            reporter=record.get("reporter"),
            created=created_at,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "line"
        raise LineError(f"{field}: {first['msg']}") from None


def triage_record(record: dict, policy: Policy) -> dict:
    """Triage one parsed input record into the output fields `key`, `intake`, `classification`."""
    ticket = _ticket(record)
    intake = extract(ticket, policy)
    result = classify(ticket, intake, policy)
    return {
        "key": ticket.key,
        "intake": {
            "service": intake.service,
            "environment": intake.environment,
            "account_ids": intake.account_values,
            "resource_ids": intake.resource_values,
        },
        "classification": {
            "ticket_type": result.ticket_type,
            "change_type": result.change_type,
            "impact": result.impact,
            "urgency": result.urgency,
            "priority": result.priority,
            "rca": result.rca,
            "labels": result.labels,
            "provisional": result.provisional,
        },
    }


def run_triage(
    source: Iterable[bytes | str], sink: IO[str], policy: Policy | None = None, progress: IO[str] | None = None
) -> dict:
    """Triage `source` (lines) into `sink`; returns counts. Progress goes to `progress` if it is a terminal."""
    policy = policy or Policy()
    handle = lambda record: triage_record(record, policy)  # noqa: E731
    return stream(source, sink, handle, owned=OWNED, consumed=CONSUMED, verb="triaged", progress=progress)
