"""The ticket as every step sees it: a Jira issue reduced to what the lifecycle reads.

The Jira adapter builds it from the REST API v3 JSON; offline triage builds it from a JSONL
line. Descriptions arrive as ADF, wiki markup, HTML or plain text: `description` holds the
plain text the extractors read, `description_adf` the original ADF when there was one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

TICKET_KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9]+-[0-9]+$")


def validate_ticket_key(key: str) -> str:
    """Reject anything that is not a Jira issue key (keys end up in JQL and file paths)."""
    if not isinstance(key, str) or not TICKET_KEY_PATTERN.fullmatch(key):  # `$` alone admits a trailing newline
        raise ValueError(f"ticket key {key!r} is not a Jira issue key (expected e.g. OPS-180)")
    return key


def idempotency_label(idempotency_key: str) -> str:
    """The label that marks an issue created for `idempotency_key` (labels hold no spaces)."""
    return "itsm-key-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


class Attachment(BaseModel):
    id: str
    filename: str
    mime_type: str = ""
    size: int = 0
    content_url: str = ""
    created: datetime | None = None


class Comment(BaseModel):
    id: str
    author: str = ""
    body: str = ""  # plain text rendered from ADF
    created: datetime | None = None


class ChangelogItem(BaseModel):
    created: datetime
    author: str = ""
    field: str
    from_value: str | None = None
    to_value: str | None = None


class IssueLink(BaseModel):
    link_type: str  # e.g. "Relates", "Problem/Incident"
    direction: str  # "outward" or "inward"
    key: str


class Ticket(BaseModel):
    key: str
    summary: str = ""
    description: str = ""
    description_adf: dict | None = None
    issue_type: str = ""  # the Jira issue type name as filed (Incident, Change, ...)
    status: str = ""
    priority: str | None = None  # Jira priority name as filed, if any
    labels: list[str] = Field(default_factory=list)
    reporter: str | None = None
    assignee: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    resolved: datetime | None = None
    parent: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    comments: list[Comment] = Field(default_factory=list)
    changelog: list[ChangelogItem] = Field(default_factory=list)
    links: list[IssueLink] = Field(default_factory=list)
    # False when a search returned only part of the changelog or comments (Jira's enhanced search keeps
    # the newest 40 histories): whoever needs all of them reads the ticket itself.
    complete: bool = True

    @field_validator("key")
    @classmethod
    def _key_is_jira_key(cls, value: str) -> str:
        return validate_ticket_key(value)

    @property
    def project(self) -> str:
        return self.key.split("-", 1)[0]


class UnreadableTicket(BaseModel):
    """A ticket a search returned that cannot be read as a Ticket: reported, never silently dropped."""

    key: str
    error: str
