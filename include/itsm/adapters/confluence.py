"""Confluence Cloud pages through the v2 REST API (`/wiki/api/v2/...`), preview-able and idempotent.

Confluence Cloud lives on the same Atlassian site as Jira, so the adapter is built from the same
`jira_default` connection (same URL, same user and API token). A page is found by its title in
its space before anything is written: publishing twice updates the one page (version + 1), it
never creates a second. With `execute=False` the adapter only reads and records each write as a
`PlannedRequest` (optionally into a list shared with the Jira adapter, so a preview shows every
request of a step in order).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from include.itsm.adapters.jira import RETRY_STATUS_CODES, PlannedRequest

API = "wiki/api/v2"


class ConfluenceError(RuntimeError):
    """Confluence refused a request or stayed unavailable after the bounded retries."""


class ConfluenceAdapter:
    def __init__(
        self,
        url: str,
        user: str,
        token: str,
        *,
        execute: bool = True,
        timeout: float = 30,
        max_retries: int = 3,
        planned: list[PlannedRequest] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.execute = execute
        self.timeout = timeout
        self.planned: list[PlannedRequest] = planned if planned is not None else []
        self.session = requests.Session()
        self.session.auth = (user, token)
        self.session.headers.update({"Accept": "application/json"})
        # Bounded retries on 429/5xx for reads and for idempotent PUTs; POSTs are never retried here
        # (a re-run finds the page by title instead).
        retries = Retry(
            total=max_retries,
            connect=max_retries,
            read=0,
            other=0,
            status=max_retries,
            allowed_methods=frozenset({"GET", "PUT"}),
            status_forcelist=RETRY_STATUS_CODES,
            backoff_factor=0.5,
            respect_retry_after_header=True,
        )
        self.session.mount(self.url, HTTPAdapter(max_retries=retries))

    @classmethod
    def from_connection(cls, conn_id: str = "jira_default", *, execute: bool = True, **kwargs) -> ConfluenceAdapter:
        """From the Jira connection: Confluence Cloud is served by the same site and credentials."""
        from airflow.providers.atlassian.jira.hooks.jira import JiraHook

        conn = JiraHook.get_connection(conn_id)
        url = conn.host if "://" in (conn.host or "") else f"{conn.schema or 'https'}://{conn.host}"
        if conn.port:
            url = f"{url}:{conn.port}"
        return cls(url, conn.login, conn.password, execute=execute, **kwargs)

    # --- plumbing -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self.session.request(method, f"{self.url}/{API}/{path}", timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise ConfluenceError(f"{method} /{API}/{path}: {exc}") from exc
        if response.status_code >= 400:
            raise ConfluenceError(f"{method} /{API}/{path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def _write(self, method: str, path: str, body: dict) -> Any:
        if not self.execute:
            self.planned.append(PlannedRequest(method=method, path=f"/{API}/{path}", body=body))
            return None
        return self._request(method, path, json=body)

    # --- reads ----------------------------------------------------------------------------------

    def space_id(self, space_key: str) -> str:
        found = self._request("GET", "spaces", params={"keys": space_key}).get("results") or []
        match = [s for s in found if s.get("key") == space_key]
        if not match:
            raise ConfluenceError(f"Confluence space {space_key!r} not found (or not visible to this user)")
        return str(match[0]["id"])

    def find_page(self, space_id: str, title: str) -> dict | None:
        found = (
            self._request("GET", "pages", params={"space-id": space_id, "title": title, "body-format": "storage"}).get(
                "results"
            )
            or []
        )
        return next((p for p in found if p.get("title") == title), None)

    def page_url(self, page: dict) -> str:
        links = page.get("_links") or {}
        return f"{links.get('base', self.url + '/wiki')}{links.get('webui', '')}"

    # --- writes ---------------------------------------------------------------------------------

    def publish_page(self, space_key: str, title: str, storage_body: str) -> dict:
        """Create the page, or update it in place when one of that title exists in the space.

        Returns {"action": created|updated|unchanged|planned-create|planned-update, "id", "url", "version"}.
        """
        space_id = self.space_id(space_key)
        existing = self.find_page(space_id, title)
        body = {"representation": "storage", "value": storage_body}
        if existing is None:
            request = {"spaceId": space_id, "status": "current", "title": title, "body": body}
            created = self._write("POST", "pages", request)
            if created is None:
                return {"action": "planned-create", "id": None, "url": None, "version": None}
            return {
                "action": "created",
                "id": created["id"],
                "url": self.page_url(created),
                "version": created["version"]["number"],
            }
        current = ((existing.get("body") or {}).get("storage") or {}).get("value")
        version = existing["version"]["number"]
        if current == storage_body:
            return {"action": "unchanged", "id": existing["id"], "url": self.page_url(existing), "version": version}
        request = {
            "id": existing["id"],
            "status": "current",
            "title": title,
            "body": body,
            "version": {"number": version + 1, "message": "PIR updated by ITSM"},
        }
        updated = self._write("PUT", f"pages/{existing['id']}", request)
        if updated is None:
            return {
                "action": "planned-update",
                "id": existing["id"],
                "url": self.page_url(existing),
                "version": version,
            }
        return {
            "action": "updated",
            "id": updated["id"],
            "url": self.page_url(updated),
            "version": updated["version"]["number"],
        }
