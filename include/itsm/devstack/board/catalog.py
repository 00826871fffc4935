"""The board's fixed configuration: projects, issue types, workflow, priorities, link types.

One table each, read by the store (to reject bad seeds) and by the app (to render Jira's
metadata endpoints and check writes), so the two can never disagree.
"""

from __future__ import annotations

import hashlib

BOT_USER = "itsm-bot@example.com"
BOT_TOKEN = "devstack-api-token"

PROJECTS = {
    "OPS": {"id": "10000", "name": "Cloud Operations"},
    "SPM": {"id": "10001", "name": "Service Problem Management"},
    # A second customer's operations project: customers on Jira sites of their own keep distinct keys.
    "TPL": {"id": "10002", "name": "Tasman Ports Operations"},
}
ISSUE_TYPES = {
    "Incident": {"id": "10004", "subtask": False},
    "Problem": {"id": "10005", "subtask": False},
    "Change": {"id": "10006", "subtask": False},
    "Service Request": {"id": "10007", "subtask": False},
    "Story": {"id": "10008", "subtask": False},
    "Sub-task": {"id": "10009", "subtask": True},
}
# name -> (id, statusCategory key, statusCategory id, statusCategory name)
STATUSES = {
    "Open": ("1", "new", 2, "To Do"),
    "In Progress": ("3", "indeterminate", 4, "In Progress"),
    "Awaiting Approval": ("10010", "indeterminate", 4, "In Progress"),
    "Pending PIR": ("10011", "indeterminate", 4, "In Progress"),
    "Resolved": ("5", "done", 3, "Done"),
    "Closed": ("6", "done", 3, "Done"),
}
# transition id -> (name, target status); ids are strings, as Jira sends and expects them.
TRANSITIONS = {
    "11": ("Start Progress", "In Progress"),
    "21": ("Request Approval", "Awaiting Approval"),
    "31": ("Await PIR", "Pending PIR"),
    "41": ("Resolve", "Resolved"),
    "51": ("Close", "Closed"),
    "61": ("Reopen", "Open"),
}
WORKFLOW = {
    "Open": ("11", "41", "51"),
    "In Progress": ("21", "31", "41", "61"),
    "Awaiting Approval": ("11", "31", "41"),
    "Pending PIR": ("11", "41"),
    "Resolved": ("51", "61"),
    "Closed": ("61",),
}
PRIORITIES = {f"P{i}": str(i + 1) for i in range(5)}
# name -> (id, inward description, outward description)
LINK_TYPES = {
    "Relates": ("10000", "relates to", "relates to"),
    "Blocks": ("10001", "is blocked by", "blocks"),
    "Problem/Incident": ("10002", "is caused by", "causes"),
    "Cloners": ("10003", "is cloned by", "clones"),
}
SPRINT_FIELD = "customfield_10020"
CONFLUENCE_SPACES = {"OPS": {"id": "65538", "name": "Cloud Operations"}}


class CatalogError(ValueError):
    """A name that the board's configuration does not know."""


def check_issue(project: str, issue_type: str, status: str, priority: str | None) -> None:
    for value, table, what in (
        (project, PROJECTS, "project"),
        (issue_type, ISSUE_TYPES, "issue type"),
        (status, STATUSES, "status"),
    ):
        if value not in table:
            raise CatalogError(f"unknown {what} {value!r}; the board knows {sorted(table)}")
    if priority is not None and priority not in PRIORITIES:
        raise CatalogError(f"unknown priority {priority!r}; the board knows {sorted(PRIORITIES)}")


def link_type(name: str) -> tuple[str, str, str]:
    if name not in LINK_TYPES:
        raise CatalogError(f"unknown link type {name!r}; the board knows {sorted(LINK_TYPES)}")
    return LINK_TYPES[name]


def account_id(email: str) -> str:
    """A stable Atlassian-style account id for an e-mail address."""
    return "712020:" + hashlib.sha1(email.encode()).hexdigest()[:32]


def display_name(email: str) -> str:
    return email.split("@", 1)[0].replace(".", " ").replace("-", " ").title()
