"""The Jira adapter against the real local board over HTTP (atlassian client, no mocks)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from include.itsm.adapters.jira import JiraAdapter, JiraAdapterError, PlannedRequest, idempotency_label
from include.itsm.core import adf


@pytest.fixture(autouse=True)
def every_request_passes_validation(board):
    """After each test: the board accepted every adapter request (no spec/ADF 400, no 401/403/410)."""
    board.clear_requests()
    board.clear_faults()
    yield
    refused = [r for r in board.requests() if r["status"] in (400, 401, 403, 405, 410)]
    assert refused == []


@pytest.fixture()
def adapter(board) -> JiraAdapter:
    return JiraAdapter.from_credentials(board.url, board.user, board.token, backoff_factor=0.1, timeout=10)


@pytest.fixture()
def seeded(board) -> str:
    store = board.store
    key = store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary="Disk full on prod-db-1",
        description_adf=adf.from_text("Disk at 100%.\n\nPlease check."),
        priority="P1",
        labels=["prod"],
        created="2026-11-01T09:30:00+00:00",
        attachments=[("df.txt", "text/plain", b"/dev/sda1 100%")],
        comments=[("sre@example.com", adf.from_text("looking"), "2026-11-01T10:00:00+00:00")],
        changelog=[("2026-11-01T10:05:00+00:00", "sre@example.com", "priority", "P2", "P1")],
    )
    other = store.seed_issue(project="SPM", issue_type="Problem", summary="Root cause", description_adf=None)
    store.link_issues("Problem/Incident", other, key)
    return key


def test_get_ticket_maps_everything(adapter, seeded):
    t = adapter.get_ticket(seeded)
    assert (t.summary, t.issue_type, t.status, t.priority, t.labels) == (
        "Disk full on prod-db-1",
        "Incident",
        "Open",
        "P1",
        ["prod"],
    )
    assert t.description == "Disk at 100%.\nPlease check." and t.description_adf["type"] == "doc"
    assert t.created.isoformat() == "2026-11-01T09:30:00+00:00"
    assert [(c.author, c.body) for c in t.comments] == [("sre@example.com", "looking")]
    assert [(c.field, c.from_value, c.to_value) for c in t.changelog] == [("priority", "P2", "P1")]
    assert [(a.filename, a.size) for a in t.attachments] == [("df.txt", 14)]
    assert [(link.link_type, link.direction) for link in t.links] == [("Problem/Incident", "inward")]
    assert adapter.download_attachment(t.attachments[0]) == b"/dev/sda1 100%"


def test_unknown_ticket_raises_clear_error(adapter, board):
    with pytest.raises(JiraAdapterError, match="OPS-999999"):
        adapter.get_ticket("OPS-999999")
    assert [r["status"] for r in board.requests()] == [404]


def test_keys_and_projects_are_validated_before_any_request(adapter, board):
    with pytest.raises(ValueError):
        adapter.get_ticket('OPS-1" OR project = SPM')
    with pytest.raises(ValueError):
        list(adapter.search_open_tickets(project="ops) OR (1"))
    assert board.requests() == []


def test_search_open_tickets_pages_and_skips_done(adapter, board):
    label = f"open-{uuid.uuid4().hex[:8]}"
    open_keys = [
        board.store.seed_issue(
            project="OPS", issue_type="Incident", summary=f"o{i}", description_adf=None, labels=[label]
        )
        for i in range(5)
    ]
    board.store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary="done",
        description_adf=None,
        labels=[label],
        status="Closed",
        resolved="2026-11-02T00:00:00+00:00",
    )
    found = list(adapter.search_open_tickets("OPS", jql=f'labels = "{label}"', page_size=2))
    assert [t.key for t in found] == open_keys
    searches = [r for r in board.requests() if r["path"] == "/rest/api/3/search/jql"]
    assert len(searches) == 3 and "nextPageToken" in searches[1]["query"]


def test_labels_are_added_and_removed_once(adapter, board, seeded):
    assert adapter.add_labels(seeded, ["itsm-triaged", "prod"]) == ["itsm-triaged"]
    assert adapter.add_labels(seeded, ["itsm-triaged"]) == []
    assert adapter.remove_labels(seeded, ["prod", "absent"]) == ["prod"]
    t = adapter.get_ticket(seeded)
    assert t.labels == ["itsm-triaged"]
    assert [c.field for c in t.changelog].count("labels") == 2
    puts = [r["body"] for r in board.requests() if r["method"] == "PUT"]
    assert puts == [{"update": {"labels": [{"add": "itsm-triaged"}]}}, {"update": {"labels": [{"remove": "prod"}]}}]


def test_step_comment_is_upserted_never_duplicated(adapter, board, seeded):
    first = adapter.upsert_step_comment(seeded, "triage", adf.doc(adf.paragraph("v1")))
    again = adapter.upsert_step_comment(seeded, "triage", adf.doc(adf.paragraph("v1")))
    changed = adapter.upsert_step_comment(seeded, "triage", adf.doc(adf.paragraph("v2")))
    other = adapter.upsert_step_comment(seeded, "labels", adf.doc(adf.paragraph("labels")))
    assert first == again == changed != other
    bodies = [c.body for c in adapter.get_ticket(seeded).comments]
    assert bodies == ["looking", "[itsm:step:triage]\nv2", "[itsm:step:labels]\nlabels"]
    writes = [r["method"] for r in board.requests() if r["method"] in ("POST", "PUT")]
    assert writes == ["POST", "PUT", "POST"]  # the unchanged re-run sent nothing


def test_description_section_is_replaced_in_place(adapter, seeded):
    assert adapter.replace_description_section(seeded, "triage", [adf.paragraph("class: A")])
    assert adapter.replace_description_section(seeded, "triage", [adf.paragraph("class: B")])
    assert not adapter.replace_description_section(seeded, "triage", [adf.paragraph("class: B")])
    text = adapter.get_ticket(seeded).description
    assert text.startswith("Disk at 100%.\nPlease check.")
    assert text.count("[itsm:begin:triage]") == 1 and "class: B" in text and "class: A" not in text


def test_linked_issue_and_subtask_are_created_once(adapter, board, seeded):
    kwargs = dict(
        project="SPM",
        issue_type="Problem",
        summary="Problem for disk full",
        description_adf=adf.from_text("RCA"),
        link_type="Problem/Incident",
        idempotency_key=f"{seeded}:problem",
        priority="P2",
    )
    problem = adapter.create_linked_issue(seeded, **kwargs)
    assert adapter.create_linked_issue(seeded, **kwargs) == problem
    sub = adapter.create_subtask(
        seeded, summary="Rollback test", description_adf=adf.from_text("do it"), idempotency_key=f"{seeded}:rollback"
    )
    assert (
        adapter.create_subtask(
            seeded,
            summary="Rollback test",
            description_adf=adf.from_text("do it"),
            idempotency_key=f"{seeded}:rollback",
        )
        == sub
    )
    created = adapter.get_ticket(problem)
    assert idempotency_label(f"{seeded}:problem") in created.labels
    assert [(link.link_type, link.direction, link.key) for link in created.links] == [
        ("Problem/Incident", "outward", seeded)
    ]
    assert adapter.get_ticket(sub).parent == seeded
    posts = [r["path"] for r in board.requests() if r["method"] == "POST" and r["path"] != "/rest/api/3/search/jql"]
    assert posts == ["/rest/api/3/issue", "/rest/api/3/issueLink", "/rest/api/3/issue"]


def test_transition_by_string_id(adapter, board, seeded):
    assert adapter.transition(seeded, "In Progress")
    assert not adapter.transition(seeded, "In Progress")
    with pytest.raises(JiraAdapterError, match="allowed"):
        adapter.transition(seeded, "Closed")
    assert adapter.transition(seeded, "Resolved")
    t = adapter.get_ticket(seeded)
    assert t.status == "Resolved" and t.resolved is not None
    bodies = [r["body"] for r in board.requests() if r["method"] == "POST" and r["path"].endswith("/transitions")]
    assert bodies == [{"transition": {"id": "11"}}, {"transition": {"id": "41"}}]


def test_attach_file_skips_same_name_and_size(adapter, seeded):
    assert adapter.attach_file(seeded, "evidence.json", b'{"ok": true}')
    assert not adapter.attach_file(seeded, "evidence.json", b'{"ok": true}')
    assert adapter.attach_file(seeded, "evidence.json", b'{"ok": false}')  # new content, new size
    assert [a.filename for a in adapter.get_ticket(seeded).attachments].count("evidence.json") == 2


def test_preview_reads_only_and_plans_every_write(board, seeded):
    preview = JiraAdapter.from_credentials(board.url, board.user, board.token, execute=False)
    preview.add_labels(seeded, ["itsm-triaged"])
    preview.upsert_step_comment(seeded, "triage", adf.doc(adf.paragraph("plan")))
    preview.replace_description_section(seeded, "triage", [adf.paragraph("x")])
    assert (
        preview.create_linked_issue(
            seeded,
            project="SPM",
            issue_type="Problem",
            summary="p",
            description_adf=adf.from_text("p"),
            link_type="Relates",
            idempotency_key=f"{seeded}:preview",
        )
        is None
    )
    preview.transition(seeded, "In Progress")
    preview.attach_file(seeded, "x.txt", b"x")
    assert [(p.method, p.path) for p in preview.planned] == [
        ("PUT", f"/rest/api/3/issue/{seeded}"),
        ("POST", f"/rest/api/3/issue/{seeded}/comment"),
        ("PUT", f"/rest/api/3/issue/{seeded}"),
        ("POST", "/rest/api/3/issue"),
        ("POST", "/rest/api/3/issueLink"),
        ("POST", f"/rest/api/3/issue/{seeded}/transitions"),
        ("POST", f"/rest/api/3/issue/{seeded}/attachments"),
    ]
    assert all(isinstance(p, PlannedRequest) for p in preview.planned)
    sent = {(r["method"], r["path"]) for r in board.requests()}
    assert {m for m, p in sent if p != "/rest/api/3/search/jql"} == {"GET"}
    t = preview.get_ticket(seeded)
    assert t.labels == ["prod"] and t.status == "Open" and len(t.comments) == 1


def test_429_with_retry_after_is_retried(adapter, board, seeded):
    board.fault(status=429, retry_after=1, count=1, path_regex=f"/issue/{seeded}$", method="GET")
    started = time.monotonic()
    assert adapter.get_ticket(seeded).key == seeded
    assert time.monotonic() - started >= 1
    assert [r["status"] for r in board.requests()] == [429, 200]


def test_persistent_503_gives_up_after_the_bound(adapter, board, seeded):
    board.fault(status=503, count=100, path_regex=f"/issue/{seeded}$")
    with pytest.raises(JiraAdapterError, match="after 3 retries"):
        adapter.get_ticket(seeded)
    assert [r["status"] for r in board.requests()] == [503] * 4


def test_unreachable_jira_gives_up_after_the_bound():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = JiraAdapter.from_credentials(f"http://127.0.0.1:{port}", "u", "t", backoff_factor=0.1, timeout=2)
    started = time.monotonic()
    with pytest.raises(JiraAdapterError, match="after 3 retries"):
        dead.get_ticket("OPS-1")
    assert time.monotonic() - started < 10


def test_from_airflow_connection_env(board, monkeypatch, seeded):
    conn = {"conn_type": "jira", "host": board.url, "login": board.user, "password": board.token}
    monkeypatch.setenv("AIRFLOW_CONN_JIRA_DEFAULT", json.dumps(conn))
    adapter = JiraAdapter.from_connection()
    assert adapter.client.cloud and adapter.client.api_version == "3"
    assert adapter.get_ticket(seeded).key == seeded
