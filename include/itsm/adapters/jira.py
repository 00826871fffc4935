"""The only product code that talks to Jira: typed, idempotent, preview-able operations.

Built on `atlassian.Jira` configured for Cloud and REST v3 (the provider's JiraHook defaults
to v2/non-cloud and hits removed endpoints). atlassian's retry re-sends POSTs, so every
create looks first for an idempotency label, comments and description sections are found
again by their markers, and retries are bounded. With `execute=False` the adapter only reads
and records each write it would send in `planned`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pybreaker
import requests
from atlassian import Jira
from atlassian.errors import ApiError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from include.itsm.core import adf
from include.itsm.core.ticket import (
    Attachment,
    ChangelogItem,
    Comment,
    IssueLink,
    Ticket,
    UnreadableTicket,
    idempotency_label,
    validate_ticket_key,
)
from include.itsm.ports import PlannedRequest

T = TypeVar("T")
API = "rest/api/3"
TICKET_FIELDS = (
    "summary",
    "description",
    "issuetype",
    "status",
    "priority",
    "labels",
    "reporter",
    "assignee",
    "created",
    "updated",
    "resolutiondate",
    "parent",
    "attachment",
    "comment",
    "issuelinks",
)
_PROJECT = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")
RETRY_STATUS_CODES = [429, 500, 502, 503, 504]
# After this many consecutive "Jira unreachable" failures (connection refused/reset, timeouts, retries
# exhausted on 429/5xx) the adapter stops calling Jira for CIRCUIT_RESET_S: the rest of a sweep's
# batch fails fast as "Jira unavailable (circuit open)" instead of each ticket waiting out its retries.
CIRCUIT_FAIL_MAX = 3
CIRCUIT_RESET_S = 300
CIRCUIT_OPEN = "Jira unavailable (circuit open)"


class JiraAdapterError(RuntimeError):
    """Jira refused a request or stayed unavailable after the bounded retries."""


class JiraUnavailable(JiraAdapterError):
    """Jira could not be reached (the kind of failure the circuit breaker counts)."""


class JiraCircuitOpen(JiraUnavailable):
    """Too many consecutive unreachable-Jira failures: calls are not sent until the breaker resets."""


class JiraAuthError(JiraAdapterError):
    """Jira refused the credentials (401) or the permission (403)."""


def _not_unavailable(exc: BaseException) -> bool:
    return not isinstance(exc, JiraUnavailable)


def validate_operator_jql(jql: str) -> str:
    """The sweep's free JQL (operators' narrowing) must stay inside its wrapping parentheses.

    It is appended as `... AND (<jql>)`: parentheses must balance outside quoted strings (else
    `x) OR (project != OPS` would widen the scope), and it may not carry its own ORDER BY.
    """
    if not isinstance(jql, str) or not jql.strip():
        raise ValueError("jql: empty JQL")
    depth, quote, escaped = 0, None, False
    for ch in jql:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"jql {jql!r}: unbalanced parenthesis (a ')' closes nothing)")
    if quote or escaped:
        raise ValueError(f"jql {jql!r}: unterminated quoted string")
    if depth:
        raise ValueError(f"jql {jql!r}: unbalanced parenthesis ({depth} not closed)")
    if re.search(r"\border\s+by\b", re.sub(r"(\"(\\.|[^\"\\])*\")|('(\\.|[^'\\])*')", "", jql), re.IGNORECASE):
        raise ValueError(f"jql {jql!r}: ORDER BY is not allowed in the narrowing JQL")
    return jql


def validate_project_key(project: str) -> str:
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ValueError(f"project key {project!r} is not a Jira project key (expected e.g. OPS)")
    return project


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_time(value: str | None):
    """Jira writes `...+0000`; pydantic wants `+00:00`."""
    return re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value) if value else None


def _user(value: dict | None) -> str | None:
    return (value or {}).get("emailAddress") or (value or {}).get("displayName") or None


def _attachment(a: dict) -> Attachment:
    return Attachment(
        id=str(a["id"]),
        filename=a["filename"],
        mime_type=a.get("mimeType", ""),
        size=a.get("size", 0),
        content_url=a.get("content", ""),
        created=_parse_time(a.get("created")),
    )


def ticket_from_issue(issue: dict) -> Ticket:
    """A Jira v3 issue JSON (fields, optional changelog) as the domain Ticket.

    A field Jira sends that cannot be read (e.g. ADF nested too deep) is refused naming the ticket and field.
    """
    key = issue.get("key")
    try:
        return _ticket_from_issue(issue)
    except adf.AdfTooDeep as exc:
        field = "description" if _too_deep((issue.get("fields") or {}).get("description")) else "comment"
        raise ValueError(f"{key}: field {field}: {exc}") from exc


def _too_deep(node) -> bool:
    try:
        adf.to_plain_text(node) if isinstance(node, dict) else None
    except adf.AdfTooDeep:
        return True
    return False


def _ticket_from_issue(issue: dict) -> Ticket:
    f = issue.get("fields") or {}
    links = []
    for link in f.get("issuelinks") or []:
        for direction in ("outward", "inward"):
            other = link.get(f"{direction}Issue")
            if other:
                links.append(IssueLink(link_type=link["type"]["name"], direction=direction, key=other["key"]))
    changelog = [
        ChangelogItem(
            created=_parse_time(h["created"]),
            author=_user(h.get("author")) or "",
            field=item["field"],
            from_value=item.get("fromString"),
            to_value=item.get("toString"),
        )
        for h in (issue.get("changelog") or {}).get("histories") or []
        for item in h.get("items") or []
    ]
    comments = [
        Comment(
            id=str(c["id"]),
            author=_user(c.get("author")) or "",
            body=adf.to_plain_text(c.get("body")),
            created=_parse_time(c.get("created")),
        )
        for c in (f.get("comment") or {}).get("comments") or []
    ]
    description = f.get("description")
    log, thread = issue.get("changelog") or {}, f.get("comment") or {}
    complete = len(log.get("histories") or []) >= log.get("total", 0) and len(
        thread.get("comments") or []
    ) >= thread.get("total", 0)
    return Ticket(
        key=issue["key"],
        summary=f.get("summary") or "",
        description=adf.to_plain_text(description) if isinstance(description, dict) else (description or ""),
        description_adf=description if isinstance(description, dict) else None,
        issue_type=(f.get("issuetype") or {}).get("name", ""),
        status=(f.get("status") or {}).get("name", ""),
        priority=(f.get("priority") or {}).get("name"),
        labels=f.get("labels") or [],
        reporter=_user(f.get("reporter")),
        assignee=_user(f.get("assignee")),
        created=_parse_time(f.get("created")),
        updated=_parse_time(f.get("updated")),
        resolved=_parse_time(f.get("resolutiondate")),
        parent=(f.get("parent") or {}).get("key"),
        attachments=[_attachment(a) for a in f.get("attachment") or []],
        comments=comments,
        changelog=changelog,
        links=links,
        complete=complete,
    )


class JiraAdapter:
    """Typed Jira operations over an `atlassian.Jira` client; `execute=False` sends no writes."""

    def __init__(self, client: Jira, *, execute: bool = True) -> None:
        self.client = client
        self.execute = execute
        self.planned: list[PlannedRequest] = []
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=CIRCUIT_FAIL_MAX, reset_timeout=CIRCUIT_RESET_S, exclude=[_not_unavailable], name="jira"
        )

    @classmethod
    def from_credentials(
        cls,
        url: str,
        user: str,
        token: str,
        *,
        execute: bool = True,
        timeout: float = 30,
        max_retries: int = 3,
        max_backoff_seconds: int = 30,
        backoff_factor: float = 1.0,
    ) -> JiraAdapter:
        """Jira Cloud, API v3, bounded retries on 429/5xx honouring Retry-After."""
        client = Jira(
            url=url,
            username=user,
            password=token,
            cloud=True,
            api_version="3",
            timeout=timeout,
            backoff_and_retry=True,
            max_backoff_retries=max_retries,
            max_backoff_seconds=max_backoff_seconds,
            retry_status_codes=RETRY_STATUS_CODES,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_factor,
        )
        # atlassian builds Retry(total=None): connection errors are then retried forever. Re-mount
        # the same policy with every counter bounded, and no retry after a read timeout (the
        # request may have been applied; a re-run's look-before-write handles that case).
        retries = Retry(
            total=max_retries,
            connect=max_retries,
            read=0,
            other=0,
            status=max_retries,
            allowed_methods=None,
            status_forcelist=RETRY_STATUS_CODES,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_factor,
            backoff_max=max_backoff_seconds,
            respect_retry_after_header=True,
        )
        client.session.mount(client.url, HTTPAdapter(max_retries=retries))
        return cls(client, execute=execute)

    @classmethod
    def from_connection(cls, conn_id: str = "jira_default", *, execute: bool = True, **kwargs) -> JiraAdapter:
        """From the Airflow connection (metadata DB, secrets backend or AIRFLOW_CONN_JIRA_DEFAULT)."""
        from airflow.providers.atlassian.jira.hooks.jira import JiraHook

        conn = JiraHook.get_connection(conn_id)
        url = conn.host if "://" in (conn.host or "") else f"{conn.schema or 'https'}://{conn.host}"
        if conn.port:
            url = f"{url}:{conn.port}"
        return cls.from_credentials(url, conn.login, conn.password, execute=execute, **kwargs)

    # --- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one client call through the circuit breaker; transport/HTTP errors become JiraAdapterError."""
        try:
            return self.breaker.call(self._send, what, fn)
        except pybreaker.CircuitBreakerError as exc:
            raise JiraCircuitOpen(f"{what}: {CIRCUIT_OPEN}") from exc

    def _send(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.exceptions.RetryError, requests.exceptions.ConnectionError) as exc:
            # ConnectionError covers refused/reset connections and connect/read timeouts' kin
            raise JiraUnavailable(
                f"{what}: Jira still failing after {self.client.max_backoff_retries} retries ({exc})"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise JiraUnavailable(f"{what}: Jira timed out ({exc})") from exc
        except (requests.exceptions.RequestException, ApiError) as exc:
            raise JiraAdapterError(f"{what}: {exc}") from exc

    def _write(self, method: str, path: str, body: Any, send: Callable[[], T]) -> T | None:
        """Send a write, or in preview record it as a PlannedRequest and send nothing."""
        if not self.execute:
            self.planned.append(PlannedRequest(method=method, path=f"/{API}/{path}", body=body))
            return None
        return self._call(f"{method} /{API}/{path}", send)

    # --- reads ----------------------------------------------------------------------------------

    def search(
        self,
        jql: str,
        *,
        page_size: int = 100,
        fields: Sequence[str] = TICKET_FIELDS,
        expand: str | None = None,
        unreadable: list[UnreadableTicket] | None = None,
    ) -> Iterator[Ticket]:
        """Every issue matching `jql`, following nextPageToken until isLast. An issue that cannot be read
        as a Ticket raises, or, with an `unreadable` list, is appended to it and the search goes on."""
        token = None
        while True:
            page = self._call(
                "search",
                lambda token=token: self.client.enhanced_jql(
                    jql, fields=list(fields), nextPageToken=token, limit=page_size, expand=expand
                ),
            )
            for issue in page.get("issues") or []:
                try:
                    yield ticket_from_issue(issue)
                except ValueError as exc:
                    if unreadable is None:
                        raise
                    unreadable.append(UnreadableTicket(key=str(issue.get("key")), error=str(exc)))
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return

    def search_open_tickets(
        self,
        project: str = "OPS",
        jql: str | None = None,
        page_size: int = 100,
        unreadable: list[UnreadableTicket] | None = None,
    ) -> Iterator[Ticket]:
        """Open (not Done) tickets of `project`, oldest first, with every field the steps read and the
        changelog (the newest 40 histories: a truncated ticket says so in `complete`); `jql` narrows further."""
        query = f"project = {_quote(validate_project_key(project))} AND statusCategory != Done"
        if jql:  # free JQL for operators, wrapped so that it can only narrow the project's open tickets
            query += f" AND ({validate_operator_jql(jql)})"
        return self.search(
            query + " ORDER BY created ASC, key ASC", page_size=page_size, expand="changelog", unreadable=unreadable
        )

    def get_ticket(self, key: str) -> Ticket:
        """One ticket with its whole changelog and every comment, links and attachments (Jira embeds only
        the newest 100 histories: the rest, and comments beyond the embedded page, are read page by page)."""
        validate_ticket_key(key)
        issue = self._call(
            f"get {key}", lambda: self.client.get_issue(key, fields=",".join(TICKET_FIELDS), expand="changelog")
        )
        log, thread = issue.get("changelog") or {}, (issue.get("fields") or {}).get("comment") or {}
        if len(log.get("histories") or []) < log.get("total", 0):
            issue["changelog"] = {**log, "histories": self._changelog(key), "startAt": 0}
            issue["changelog"]["maxResults"] = issue["changelog"]["total"] = len(issue["changelog"]["histories"])
        if len(thread.get("comments") or []) < thread.get("total", 0):
            comments = self._comments(key)
            issue["fields"]["comment"] = {**thread, "comments": comments, "total": len(comments)}
        return ticket_from_issue(issue)

    def _changelog(self, key: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self._call(
                f"changelog {key}",
                lambda: self.client.get(
                    f"{API}/issue/{key}/changelog", params={"startAt": len(out), "maxResults": 100}
                ),
            )
            out.extend(page.get("values") or [])
            if not page.get("values") or page.get("isLast", True) or len(out) >= page.get("total", 0):
                return out

    def site(self, path: str) -> Any:
        """A read of the site's own metadata (`serverInfo`, `myself`, `issuetype`, `status`, `field`,
        `issueLinkType`, `issue/<key>/transitions`): what `itsm doctor` checks the configuration against."""
        response = self._call(
            f"GET /{API}/{path}",
            lambda: self.client.session.get(f"{self.client.url.rstrip('/')}/{API}/{path}", timeout=self.client.timeout),
        )
        if response.status_code in (401, 403):
            raise JiraAuthError(f"GET /{API}/{path}: HTTP {response.status_code} (credentials refused)")
        if response.status_code >= 400:
            raise JiraAdapterError(f"GET /{API}/{path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def download_attachment(self, attachment: Attachment) -> bytes:
        return self._call(f"download {attachment.filename}", lambda: self.client.get_attachment_content(attachment.id))

    def _comments(self, key: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self._call(
                f"comments {key}",
                lambda: self.client.get(f"{API}/issue/{key}/comment", params={"startAt": len(out), "maxResults": 100}),
            )
            out.extend(page.get("comments") or [])
            if not page.get("comments") or len(out) >= page.get("total", 0):
                return out

    def _issue_fields(self, key: str, *fields: str) -> dict:
        validate_ticket_key(key)
        return self._call(f"get {key}", lambda: self.client.get_issue(key, fields=",".join(fields)))["fields"]

    # --- writes ---------------------------------------------------------------------------------

    def _edit(self, key: str, update: dict) -> None:
        self._write("PUT", f"issue/{key}", {"update": update}, lambda: self.client.edit_issue(key, update))

    def add_labels(self, key: str, labels: Sequence[str]) -> list[str]:
        """Add the labels not yet on the ticket; returns those added."""
        current = set(self._issue_fields(key, "labels").get("labels") or [])
        missing = [label for label in dict.fromkeys(labels) if label not in current]
        if missing:
            self._edit(key, {"labels": [{"add": label} for label in missing]})
        return missing

    def remove_labels(self, key: str, labels: Sequence[str]) -> list[str]:
        """Remove the labels present on the ticket; returns those removed."""
        current = set(self._issue_fields(key, "labels").get("labels") or [])
        present = [label for label in dict.fromkeys(labels) if label in current]
        if present:
            self._edit(key, {"labels": [{"remove": label} for label in present]})
        return present

    def upsert_step_comment(self, key: str, step: str, body_adf: dict) -> str | None:
        """The one comment of `step` on `key`: created once, then updated in place; returns its id."""
        validate_ticket_key(key)
        body = adf.with_marker(f"step:{step}", body_adf)
        existing = next((c for c in self._comments(key) if adf.starts_with_marker(c.get("body"), f"step:{step}")), None)
        if existing is None:
            created = self._write(
                "POST", f"issue/{key}/comment", {"body": body}, lambda: self.client.issue_add_comment(key, body)
            )
            return created["id"] if created else None
        if existing["body"] != body:
            self._write(
                "PUT",
                f"issue/{key}/comment/{existing['id']}",
                {"body": body},
                lambda: self.client.issue_edit_comment(key, existing["id"], body),
            )
        return existing["id"]

    def replace_description_section(self, key: str, section_id: str, nodes: Sequence[dict]) -> bool:
        """Replace (or append) the marked ITSM section of the description; True if it changed."""
        current = self._issue_fields(key, "description").get("description")
        new = adf.replace_section(current, section_id, nodes)
        if new == current:
            return False
        self._edit(key, {"description": [{"set": new}]})
        return True

    def _find_by_idempotency(self, project: str, label: str) -> str | None:
        found = next(
            self.search(
                f"project = {_quote(project)} AND labels = {_quote(label)} ORDER BY key ASC",
                page_size=1,
                fields=("summary",),
            ),
            None,
        )
        return found.key if found else None

    def _create(self, project: str, idempotency_key: str, fields: dict) -> tuple[str | None, bool]:
        """(key, created) for an issue carrying the idempotency label; looks before it creates."""
        label = idempotency_label(idempotency_key)
        existing = self._find_by_idempotency(project, label)
        if existing:
            return existing, False
        fields = {**fields, "project": {"key": project}, "labels": [*fields.get("labels", ()), label]}
        created = self._write("POST", "issue", {"fields": fields}, lambda: self.client.create_issue(fields=fields))
        return (created["key"] if created else None), True

    def create_linked_issue(
        self,
        source_key: str,
        *,
        project: str,
        issue_type: str,
        summary: str,
        description_adf: dict,
        link_type: str,
        idempotency_key: str,
        labels: Sequence[str] = (),
        priority: str | None = None,
    ) -> str | None:
        """Create (once) an issue linked as `<new> <link outward> <source>`, e.g. Problem causes Incident.

        Returns its key (None in preview when it does not exist yet).
        """
        validate_ticket_key(source_key)
        fields = {
            "issuetype": {"name": issue_type},
            "summary": summary,
            "description": description_adf,
            "labels": list(labels),
        }
        if priority:
            fields["priority"] = {"name": priority}
        key, _ = self._create(validate_project_key(project), idempotency_key, fields)
        linked = key is not None and any(
            link.key == source_key and link.link_type == link_type for link in self.get_ticket(key).links
        )
        if not linked:
            # Jira gives the *inwardIssue* the outward description: inward=new reads "new causes source".
            body = {
                "type": {"name": link_type},
                "inwardIssue": {"key": key or "<new issue>"},
                "outwardIssue": {"key": source_key},
            }
            self._write("POST", "issueLink", body, lambda: self.client.create_issue_link(body))
        return key

    def create_subtask(
        self,
        parent_key: str,
        *,
        summary: str,
        description_adf: dict,
        idempotency_key: str,
        labels: Sequence[str] = (),
        issue_type: str = "Sub-task",
    ) -> str | None:
        """Create (once) a sub-task (`issue_type`: the site's sub-task type name) of `parent_key`; its key or None."""
        validate_ticket_key(parent_key)
        fields = {
            "issuetype": {"name": issue_type},
            "parent": {"key": parent_key},
            "summary": summary,
            "description": description_adf,
            "labels": list(labels),
        }
        key, _ = self._create(parent_key.split("-", 1)[0], idempotency_key, fields)
        return key

    def transition(self, key: str, to_status: str) -> bool:
        """Move `key` to `to_status` by its transition id (a string); False if already there."""
        if (self._issue_fields(key, "status").get("status") or {}).get("name", "").lower() == to_status.lower():
            return False
        available = self._call(f"transitions {key}", lambda: self.client.get(f"{API}/issue/{key}/transitions"))
        match = [t for t in available.get("transitions") or [] if t["to"]["name"].lower() == to_status.lower()]
        if not match:
            names = sorted(t["to"]["name"] for t in available.get("transitions") or [])
            raise JiraAdapterError(f"{key} cannot move to {to_status!r} from its current status; allowed: {names}")
        body = {"transition": {"id": str(match[0]["id"])}}
        self._write(
            "POST",
            f"issue/{key}/transitions",
            body,
            lambda: self.client.post(f"{API}/issue/{key}/transitions", data=body),
        )
        return True

    def attach_file(self, key: str, filename: str, content: bytes) -> bool:
        """Attach `content` as `filename` unless an attachment of that name and size exists."""
        existing = self._issue_fields(key, "attachment").get("attachment") or []
        if any(a["filename"] == filename and a.get("size") == len(content) for a in existing):
            return False
        self._write(
            "POST",
            f"issue/{key}/attachments",
            {"filename": filename, "size": len(content)},
            lambda: self.client.add_attachment_object(key, (filename, content)),
        )
        return True
