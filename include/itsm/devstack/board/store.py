"""SQLite persistence of the local board: issues, comments, changelog, attachments, links, pages.

The store knows nothing about HTTP or Jira JSON shapes; `app.py` renders its rows. Seeding
(`seed_issue`, `link_issues`) is the interface fixed in docs/architecture.md, used by the demo
seed and by tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from include.itsm.devstack.board import catalog

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, project TEXT NOT NULL,
    num INTEGER NOT NULL, issue_type TEXT NOT NULL, summary TEXT NOT NULL, description TEXT,
    status TEXT NOT NULL, labels TEXT NOT NULL, priority TEXT, reporter TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL, resolved TEXT, parent_key TEXT);
CREATE TABLE IF NOT EXISTS comment (
    id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id INTEGER NOT NULL, author TEXT NOT NULL,
    body TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change (
    id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id INTEGER NOT NULL, created TEXT NOT NULL,
    author TEXT NOT NULL, field TEXT NOT NULL, from_string TEXT, to_string TEXT);
CREATE TABLE IF NOT EXISTS attachment (
    id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id INTEGER NOT NULL, filename TEXT NOT NULL,
    mime_type TEXT NOT NULL, content BLOB NOT NULL, author TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS link (
    id INTEGER PRIMARY KEY AUTOINCREMENT, link_type TEXT NOT NULL,
    outward_key TEXT NOT NULL, inward_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS page (
    id INTEGER PRIMARY KEY AUTOINCREMENT, space_id TEXT NOT NULL, title TEXT NOT NULL,
    parent_id TEXT, representation TEXT NOT NULL, body TEXT NOT NULL, version INTEGER NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL);
"""
# Jira ids start at 10000; sqlite rowids start at 1.
ID_OFFSET = 10000


def now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | str | None) -> str | None:
    """Store timestamps as UTC ISO strings so they sort and compare as text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class BoardStore:
    """The board's state in one SQLite file, safe to share between the server's threads."""

    def __init__(self, db_path: str) -> None:
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _q(self, sql: str, args: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _insert(self, sql: str, args: Iterable) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(args)).lastrowid

    # --- seeding interface (docs/architecture.md) -------------------------------------------

    def seed_issue(
        self,
        *,
        project: str,
        issue_type: str,
        summary: str,
        description_adf: dict | None,
        status: str = "Open",
        labels: Iterable[str] = (),
        priority: str | None = None,
        reporter: str = "customer@example.com",
        created: datetime | str | None = None,
        resolved: datetime | str | None = None,
        key: str | None = None,
        parent_key: str | None = None,
        attachments: Iterable[tuple[str, str, bytes]] = (),
        comments: Iterable[tuple[str, dict, datetime | str]] = (),
        changelog: Iterable[tuple[datetime | str, str, str, str | None, str | None]] = (),
    ) -> str:
        """Insert one issue with its history; returns its key."""
        catalog.check_issue(project, issue_type, status, priority)
        created_s = _ts(created) or _ts(now())
        with self._lock:
            if key is None:
                key = f"{project}-{self.next_number(project)}"
            num = int(key.rsplit("-", 1)[1])
            issue_id = self._insert(
                "INSERT INTO issue (key, project, num, issue_type, summary, description, status, labels,"
                " priority, reporter, created, updated, resolved, parent_key)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    project,
                    num,
                    issue_type,
                    summary,
                    json.dumps(description_adf) if description_adf else None,
                    status,
                    json.dumps(list(labels)),
                    priority,
                    reporter,
                    created_s,
                    created_s,
                    _ts(resolved),
                    parent_key,
                ),
            )
            for filename, mime_type, content in attachments:
                self.add_attachment(issue_id, filename, mime_type, content, reporter, created_s)
            for author, body, when in comments:
                self.add_comment(issue_id, author, body, when)
            for when, author, field, from_s, to_s in changelog:
                self.add_change(issue_id, author, field, from_s, to_s, when)
        return key

    def link_issues(self, link_type: str, outward_key: str, inward_key: str) -> int:
        """Link two issues: `outward_key` <outward description> `inward_key` (A blocks B)."""
        catalog.link_type(link_type)
        return self._insert(
            "INSERT INTO link (link_type, outward_key, inward_key) VALUES (?,?,?)", (link_type, outward_key, inward_key)
        )

    # --- issues ------------------------------------------------------------------------------

    def next_number(self, project: str) -> int:
        row = self._q("SELECT MAX(num) AS n FROM issue WHERE project = ?", (project,))[0]
        return (row["n"] or 0) + 1

    def issue_count(self) -> int:
        return self._q("SELECT COUNT(*) AS n FROM issue")[0]["n"]

    @staticmethod
    def is_row_id(text: str) -> bool:
        """Whether `text` is a Jira-style numeric id SQLite can look up (ASCII digits, within 64 bits)."""
        return text.isascii() and text.isdigit() and len(text) <= 18

    def get_issue(self, key_or_id: str) -> dict | None:
        """An issue row as a dict (labels and description decoded), by key or numeric id."""
        if key_or_id.isascii() and key_or_id.isdigit():
            if not self.is_row_id(key_or_id):
                return None
            rows = self._q("SELECT * FROM issue WHERE id = ?", (int(key_or_id) - ID_OFFSET,))
        else:
            rows = self._q("SELECT * FROM issue WHERE key = ?", (key_or_id.upper(),))
        return self._decode(rows[0]) if rows else None

    def all_issues(self) -> list[dict]:
        return [self._decode(r) for r in self._q("SELECT * FROM issue ORDER BY id")]

    @staticmethod
    def _decode(row: sqlite3.Row) -> dict:
        issue = dict(row)
        issue["labels"] = json.loads(issue["labels"])
        issue["description"] = json.loads(issue["description"]) if issue["description"] else None
        return issue

    def update_issue(self, issue_id: int, author: str, changes: dict[str, object], history: list[tuple]) -> None:
        """Apply column changes and record (field, from, to) history items in one transaction."""
        when = _ts(now())
        encoded = {
            k: json.dumps(v) if k in ("labels", "description") and v is not None else v for k, v in changes.items()
        }
        encoded["updated"] = when
        with self._lock:
            sets = ", ".join(f"{col} = ?" for col in encoded)
            self._db.execute(f"UPDATE issue SET {sets} WHERE id = ?", (*encoded.values(), issue_id))
            for field, from_s, to_s in history:
                self.add_change(issue_id, author, field, from_s, to_s, when)

    def subtask_keys(self, parent_key: str) -> list[str]:
        return [r["key"] for r in self._q("SELECT key FROM issue WHERE parent_key = ? ORDER BY id", (parent_key,))]

    # --- history, comments, attachments, links ------------------------------------------------

    def add_change(self, issue_id, author, field, from_s, to_s, when) -> None:
        self._insert(
            "INSERT INTO change (issue_id, created, author, field, from_string, to_string) VALUES (?,?,?,?,?,?)",
            (issue_id, _ts(when), author, field, from_s, to_s),
        )

    def changes(self, issue_id: int) -> list[dict]:
        return [dict(r) for r in self._q("SELECT * FROM change WHERE issue_id = ? ORDER BY id", (issue_id,))]

    def add_comment(self, issue_id: int, author: str, body: dict, when: datetime | str | None = None) -> int:
        when_s = _ts(when) or _ts(now())
        return self._insert(
            "INSERT INTO comment (issue_id, author, body, created, updated) VALUES (?,?,?,?,?)",
            (issue_id, author, json.dumps(body), when_s, when_s),
        )

    def update_comment(self, comment_id: int, body: dict) -> None:
        self._q("UPDATE comment SET body = ?, updated = ? WHERE id = ?", (json.dumps(body), _ts(now()), comment_id))

    def comments(self, issue_id: int) -> list[dict]:
        rows = self._q("SELECT * FROM comment WHERE issue_id = ? ORDER BY id", (issue_id,))
        return [{**dict(r), "body": json.loads(r["body"])} for r in rows]

    def add_attachment(self, issue_id, filename, mime_type, content: bytes, author, when=None) -> int:
        return self._insert(
            "INSERT INTO attachment (issue_id, filename, mime_type, content, author, created) VALUES (?,?,?,?,?,?)",
            (issue_id, filename, mime_type, content, author, _ts(when) or _ts(now())),
        )

    def attachments(self, issue_id: int) -> list[dict]:
        rows = self._q(
            "SELECT id, issue_id, filename, mime_type, LENGTH(content) AS size, author, created"
            " FROM attachment WHERE issue_id = ? ORDER BY id",
            (issue_id,),
        )
        return [dict(r) for r in rows]

    def attachment(self, attachment_id: int) -> dict | None:
        rows = self._q("SELECT *, LENGTH(content) AS size FROM attachment WHERE id = ?", (attachment_id,))
        return dict(rows[0]) if rows else None

    def links_of(self, key: str) -> list[dict]:
        return [
            dict(r)
            for r in self._q("SELECT * FROM link WHERE outward_key = ? OR inward_key = ? ORDER BY id", (key, key))
        ]

    # --- Confluence pages ---------------------------------------------------------------------

    def create_page(self, space_id: str, title: str, parent_id: str | None, representation: str, body: str) -> int:
        when = _ts(now())
        return self._insert(
            "INSERT INTO page (space_id, title, parent_id, representation, body, version, created, updated)"
            " VALUES (?,?,?,?,?,1,?,?)",
            (space_id, title, parent_id, representation, body, when, when),
        )

    def update_page(self, page_id: int, title: str, representation: str, body: str, version: int) -> None:
        self._q(
            "UPDATE page SET title = ?, representation = ?, body = ?, version = ?, updated = ? WHERE id = ?",
            (title, representation, body, version, _ts(now()), page_id),
        )

    def page(self, page_id: int) -> dict | None:
        rows = self._q("SELECT * FROM page WHERE id = ?", (page_id,))
        return dict(rows[0]) if rows else None

    def find_pages(self, title: str | None, space_id: str | None) -> list[dict]:
        sql, args = "SELECT * FROM page WHERE 1=1", []
        if title is not None:
            sql, args = sql + " AND title = ?", [*args, title]
        if space_id is not None:
            sql, args = sql + " AND space_id = ?", [*args, space_id]
        return [dict(r) for r in self._q(sql + " ORDER BY id", args)]
