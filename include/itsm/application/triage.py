"""Offline triage (DESIGN section 7): JSONL tickets in, intake + classification out.

One output line per input line, in order, streamed (flat memory on any file size). A line
that cannot be processed gets an `error` naming the field and reason; the run goes on.
No AWS, no Jira: blast radius and priority are therefore marked `provisional`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO

from pydantic import ValidationError

from include.itsm.application.jsonl import stream
from include.itsm.domain.classify import classify
from include.itsm.domain.intake import extract
from include.itsm.domain.policy import Policy
from include.itsm.domain.ticket import Ticket

INPUT_FIELDS = ("key", "summary", "description", "created", "reporter")
TEXT_FIELDS = ("summary", "description", "reporter")


class LineError(ValueError):
    """A line that cannot be triaged; the message names the field and the reason."""


def _ticket(record: object) -> Ticket:
    if not isinstance(record, dict):
        raise LineError("line: not a JSON object")
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


def triage_record(record: object, policy: Policy) -> dict:
    """Triage one parsed input record into the DESIGN section 7 output shape."""
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


def triage_line(line: str, policy: Policy) -> dict:
    """One output object for one input line; never raises for bad input."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"line: invalid JSON ({exc.msg} at column {exc.colno})"}
    extra = {k: v for k, v in record.items() if k not in INPUT_FIELDS} if isinstance(record, dict) else {}
    key = record.get("key") if isinstance(record, dict) else None
    try:
        return {**extra, **triage_record(record, policy)}
    except LineError as exc:
        return {**extra, **({"key": key} if key is not None else {}), "error": str(exc)}


def run_triage(source: IO[str], sink: IO[str], policy: Policy | None = None, progress: IO[str] | None = None) -> dict:
    """Triage `source` into `sink`; returns counts. Progress goes to `progress` if it is a terminal."""
    policy = policy or Policy()
    return stream(source, sink, lambda line: triage_line(line, policy), verb="triaged", progress=progress)
