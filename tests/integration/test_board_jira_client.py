"""A widely used third-party Jira client (pycontribs `jira`, REST v3) works against the local board unchanged.

The board is only a faithful stand-in if a client written for Jira Cloud, not for the board, gets through
search, create, comment, transition, link and labels; each step checks the board's own state afterwards.
"""

from __future__ import annotations

import uuid

import pytest
from jira import JIRA, JIRAError

from include.itsm.core import adf


@pytest.fixture(scope="module")
def client(board) -> JIRA:
    return JIRA(
        server=board.url,
        basic_auth=(board.user, board.token),
        options={"rest_api_version": "3"},
        max_retries=0,
        timeout=30,
    )


@pytest.fixture()
def label() -> str:
    return f"client-{uuid.uuid4().hex[:8]}"


def _create(client: JIRA, label: str, summary: str = "client probe") -> str:
    issue = client.create_issue(
        fields={
            "project": {"key": "OPS"},
            "issuetype": {"name": "Incident"},
            "summary": summary,
            "description": adf.from_text("made by the jira client"),
            "labels": [label],
            "priority": {"name": "P2"},
        }
    )
    return issue.key


def test_server_info_and_projects(client):
    assert client.server_info()["deploymentType"] == "Cloud"
    assert [p.key for p in client.projects()] == ["OPS", "SPM", "TPL"]
    assert client.project("OPS").name == "Cloud Operations"


def test_create_then_search(client, board, label):
    keys = [_create(client, label, f"probe {n}") for n in range(3)]
    stored = board.store.get_issue(keys[0])
    assert stored["summary"] == "probe 0" and stored["labels"] == [label] and stored["priority"] == "P2"
    assert stored["reporter"] == board.user and stored["status"] == "Open"
    jql = f"labels = {label} ORDER BY key ASC"
    found = client.enhanced_search_issues(jql, maxResults=False, fields="summary")
    assert [i.key for i in found] == keys and [i.fields.summary for i in found] == ["probe 0", "probe 1", "probe 2"]
    first = client.enhanced_search_issues(jql, maxResults=2, fields="summary", json_result=True)
    second = client.enhanced_search_issues(
        jql, maxResults=2, fields="summary", json_result=True, nextPageToken=first["nextPageToken"]
    )
    assert [i["key"] for i in first["issues"] + second["issues"]] == keys and second["isLast"]
    with pytest.raises(JIRAError) as refused:
        client.enhanced_search_issues("ORDER BY created DESC", maxResults=5)
    assert refused.value.status_code == 400 and "Unbounded JQL" in refused.value.text


def test_comment(client, board, label):
    key = _create(client, label)
    body = adf.doc(adf.paragraph("a comment through the client"))
    comment = client.add_comment(key, body)
    issue_id = board.store.get_issue(key)["id"]
    assert [c["body"] for c in board.store.comments(issue_id)] == [body]
    assert [c.id for c in client.comments(key)] == [comment.id]


def test_transition_by_name_and_by_integer_id(client, board, label):
    key = _create(client, label)
    assert {t["name"] for t in client.transitions(key)} == {"Start Progress", "Resolve", "Close"}
    client.transition_issue(key, "Start Progress")  # looked up by name: the id is sent as Jira listed it
    assert board.store.get_issue(key)["status"] == "In Progress"
    client.transition_issue(key, "41")  # the client sends int("41")
    stored = board.store.get_issue(key)
    assert stored["status"] == "Resolved" and stored["resolved"] is not None
    note = adf.doc(adf.paragraph("reopened with a comment"))
    client.transition_issue(key, "Reopen", comment=note)
    stored = board.store.get_issue(key)
    assert stored["status"] == "Open" and stored["resolved"] is None
    assert [c["body"] for c in board.store.comments(stored["id"])] == [note]


def test_link_with_no_comment(client, board, label):
    problem, incident = _create(client, label, "problem"), _create(client, label, "incident")
    response = client.create_issue_link("Problem/Incident", problem, incident)  # sends "comment": null
    assert response.status_code == 201
    assert [(r["link_type"], r["outward_key"], r["inward_key"]) for r in board.store.links_of(problem)] == [
        ("Problem/Incident", problem, incident)
    ]
    links = client.issue(incident).fields.issuelinks
    assert [(link.type.name, link.inwardIssue.key) for link in links] == [("Problem/Incident", problem)]


def test_labels(client, board, label):
    key = _create(client, label)
    issue = client.issue(key)
    issue.add_field_value("labels", "triaged")
    assert board.store.get_issue(key)["labels"] == [label, "triaged"]
    issue.update(fields={"labels": [label, "itsm-evidence"]})
    assert board.store.get_issue(key)["labels"] == [label, "itsm-evidence"]
    for bad, message in (("abc", "data was not an array"), (["has space"], "contains spaces")):
        with pytest.raises(JIRAError) as refused:
            issue.update(fields={"labels": bad})
        assert refused.value.status_code == 400 and message in refused.value.text
    assert board.store.get_issue(key)["labels"] == [label, "itsm-evidence"]
