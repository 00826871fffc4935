"""The local board refuses what Jira Cloud refuses and answers in Jira's shapes (real HTTP)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from include.itsm.core import adf

JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@pytest.fixture()
def http(board):
    session = requests.Session()
    session.auth = (board.user, board.token)
    return session


@pytest.fixture()
def issue_key(board):
    return board.store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary="contract probe",
        description_adf=adf.from_text("probe"),
        priority="P2",
    )


def test_missing_or_wrong_credentials_are_401(board, issue_key):
    assert requests.get(f"{board.url}/rest/api/3/issue/{issue_key}", timeout=10).status_code == 401
    wrong = requests.get(f"{board.url}/rest/api/3/myself", auth=(board.user, "nope"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["errorMessages"]


def test_unknown_issue_is_404_with_error_messages(board, http):
    resp = http.get(f"{board.url}/rest/api/3/issue/OPS-999999", timeout=10)
    assert resp.status_code == 404
    assert resp.json()["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]


def test_removed_v2_search_is_refused(board, http):
    assert http.get(f"{board.url}/rest/api/2/search", params={"jql": "project = OPS"}, timeout=10).status_code == 410
    assert http.get(f"{board.url}/rest/api/2/issue/OPS-1", timeout=10).status_code == 404


@pytest.fixture()
def probe_board(tmp_path):
    """A board of this probe's own: its refused sprint calls are the probe's, not the product's, so
    the session's no-sprint-ever check (tests/conftest.py) does not watch it."""
    from tests.conftest import own_board

    with own_board(tmp_path, watched=False) as handle:
        yield handle


def test_agile_calls_and_sprint_field_writes_are_refused_and_recorded(probe_board):
    board, http = probe_board, probe_board.http
    issue_key = board.store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary="sprint probe",
        description_adf=adf.from_text("probe"),
        priority="P2",
    )
    resp = http.post(f"{board.url}/rest/agile/1.0/sprint/1/issue", json={"issues": [issue_key]}, timeout=10)
    assert resp.status_code == 403
    assert http.get(f"{board.url}/rest/greenhopper/1.0/sprints", timeout=10).status_code == 403
    put = http.put(f"{board.url}/rest/api/3/issue/{issue_key}", json={"fields": {"customfield_10020": 5}}, timeout=10)
    assert put.status_code == 400
    attempts = board.sprint_attempts()
    assert [a["path"] for a in attempts] == [
        "/rest/agile/1.0/sprint/1/issue",
        "/rest/greenhopper/1.0/sprints",
        f"/rest/api/3/issue/{issue_key}",
    ]
    assert attempts[0]["body"] == {"issues": [issue_key]}


@pytest.mark.parametrize(
    "body",
    [
        {
            "type": "doc",
            "version": 1,
            "content": [adf.panel([adf.paragraph("x")]) | {"content": [adf.table(["a"], [["1"]])]}],
        },
        {"type": "doc", "version": 1, "content": [{"type": "marquee", "content": []}]},
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]},
        "plain text is not ADF",
    ],
    ids=["panel-with-table", "unknown-node", "empty-text", "string-body"],
)
def test_invalid_adf_is_400_in_comments_and_descriptions(board, http, issue_key, body):
    comment = http.post(f"{board.url}/rest/api/3/issue/{issue_key}/comment", json={"body": body}, timeout=10)
    assert comment.status_code == 400, comment.text
    assert comment.json()["errors"] or comment.json()["errorMessages"]
    update = http.put(
        f"{board.url}/rest/api/3/issue/{issue_key}", json={"update": {"description": [{"set": body}]}}, timeout=10
    )
    assert update.status_code == 400
    assert http.get(f"{board.url}/rest/api/3/issue/{issue_key}/comment", timeout=10).json()["total"] == 0


def test_valid_adf_built_by_helpers_is_accepted(board, http, issue_key):
    body = adf.doc(
        adf.heading("Evidence"),
        adf.panel([adf.paragraph("ok")], "success"),
        adf.table(["a", "b"], [[1, None]]),
        adf.code_block('{"a": 1}', "json"),
        adf.bullet_list(["one", "two"]),
        adf.rule(),
    )
    resp = http.post(f"{board.url}/rest/api/3/issue/{issue_key}/comment", json={"body": body}, timeout=10)
    assert resp.status_code == 201, resp.text
    assert JIRA_TIME.match(resp.json()["created"])


def test_transition_ids_are_taken_as_jira_takes_them(board, http, issue_key):
    """Jira's binding coerces an integer id to its text; a boolean is still refused by the spec."""
    url = f"{board.url}/rest/api/3/issue/{issue_key}/transitions"
    refused = http.post(url, json={"transition": {"id": True}}, timeout=10)
    assert refused.status_code == 400 and "transition.id" in refused.json()["errors"]
    assert http.post(url, json={"transition": {"id": 11}}, timeout=10).status_code == 204  # Open -> In Progress
    assert http.post(url, json={"transition": {"id": "61"}}, timeout=10).status_code == 204  # -> Open
    not_allowed = http.post(url, json={"transition": {"id": "21"}}, timeout=10)  # not from Open
    assert not_allowed.status_code == 400 and not_allowed.json()["errorMessages"]
    assert board.store.get_issue(issue_key)["status"] == "Open"


def test_attachment_upload_needs_xsrf_header(board, http, issue_key):
    files = {"file": ("a.txt", b"abc")}
    assert (
        http.post(f"{board.url}/rest/api/3/issue/{issue_key}/attachments", files=files, timeout=10).status_code == 403
    )
    ok = http.post(
        f"{board.url}/rest/api/3/issue/{issue_key}/attachments",
        files=files,
        headers={"X-Atlassian-Token": "no-check"},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()[0]["size"] == 3
    content = http.get(ok.json()[0]["content"], timeout=10)
    assert content.content == b"abc"


def test_issue_shape_looks_like_jira(board, http, issue_key):
    issue = http.get(f"{board.url}/rest/api/3/issue/{issue_key}", params={"expand": "changelog"}, timeout=10).json()
    assert isinstance(issue["id"], str) and issue["self"].endswith(f"/rest/api/3/issue/{issue['id']}")
    fields = issue["fields"]
    assert JIRA_TIME.match(fields["created"]) and fields["priority"]["name"] == "P2"
    assert fields["status"]["statusCategory"]["key"] == "new" and fields["customfield_10020"] is None
    assert issue["changelog"]["histories"] == []


def test_search_pages_250_issues_each_once(board, http):
    label = f"paging-{uuid.uuid4().hex[:8]}"
    keys = {
        board.store.seed_issue(
            project="SPM", issue_type="Problem", summary=f"p{i}", description_adf=None, labels=[label]
        )
        for i in range(250)
    }
    seen, token, pages = [], None, 0
    while True:
        params = {"jql": f"labels = {label} ORDER BY key ASC", "fields": "summary", "maxResults": 100}
        if token:
            params["nextPageToken"] = token
        page = http.get(f"{board.url}/rest/api/3/search/jql", params=params, timeout=30).json()
        pages += 1
        seen += [i["key"] for i in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert pages == 3 and len(seen) == 250 and set(seen) == keys
    assert seen == sorted(seen, key=lambda k: int(k.split("-")[1]))


def test_search_post_and_jql_subset(board, http):
    label = f"jql-{uuid.uuid4().hex[:8]}"
    seed = board.store.seed_issue
    old = seed(
        project="OPS",
        issue_type="Incident",
        summary="old",
        description_adf=None,
        labels=[label],
        created="2020-01-01T00:00:00+00:00",
        status="Closed",
        resolved="2020-01-02T00:00:00+00:00",
    )
    new = seed(
        project="OPS", issue_type="Change", summary="new", description_adf=None, labels=[label], status="In Progress"
    )
    req = seed(project="SPM", issue_type="Service Request", summary="sr", description_adf=None, labels=[label])

    def keys(jql_text: str) -> list[str]:
        resp = http.post(
            f"{board.url}/rest/api/3/search/jql", json={"jql": jql_text, "fields": ["summary"]}, timeout=10
        )
        assert resp.status_code == 200, resp.text
        return [i["key"] for i in resp.json()["issues"]]

    assert keys(f"labels = {label} AND created >= -90d ORDER BY created ASC") == [new, req]
    assert keys(f"labels = {label} AND statusCategory = Done") == [old]
    assert set(keys(f'labels = {label} AND status not in ("Closed", Resolved)')) == {new, req}
    assert keys(f"labels = {label} AND (issuetype = Change OR project = SPM) ORDER BY key DESC") == [req, new]
    assert keys(f"labels = {label} AND project in (OPS) AND resolved <= 2020-01-03") == [old]
    assert keys(f"key = {new}") == [new]
    bad = http.post(f"{board.url}/rest/api/3/search/jql", json={"jql": "project = NOPE"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["errorMessages"]


def test_fault_injection_and_request_log(board, http):
    board.clear_requests()
    board.fault(status=429, retry_after=1, count=1, path_regex="/myself$", method="GET")
    first = http.get(f"{board.url}/rest/api/3/myself", timeout=10)
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert http.get(f"{board.url}/rest/api/3/myself", timeout=10).status_code == 200
    assert [(r["method"], r["path"], r["status"]) for r in board.requests()] == [
        ("GET", "/rest/api/3/myself", 429),
        ("GET", "/rest/api/3/myself", 200),
    ]


def test_confluence_pages(board, http):
    space = http.get(f"{board.url}/wiki/api/v2/spaces", params={"keys": "OPS"}, timeout=10).json()["results"][0]
    title = f"PIR {uuid.uuid4().hex[:6]}"
    body = {
        "spaceId": space["id"],
        "status": "current",
        "title": title,
        "body": {"representation": "storage", "value": "<p>v1</p>"},
    }
    created = http.post(f"{board.url}/wiki/api/v2/pages", json=body, timeout=10)
    assert created.status_code == 200
    assert http.post(f"{board.url}/wiki/api/v2/pages", json=body, timeout=10).status_code == 400  # same title
    page_id = created.json()["id"]
    found = http.get(f"{board.url}/wiki/api/v2/pages", params={"title": title, "space-id": space["id"]}, timeout=10)
    assert [p["id"] for p in found.json()["results"]] == [page_id]
    update = {
        **body,
        "id": page_id,
        "body": {"representation": "storage", "value": "<p>v2</p>"},
        "version": {"number": 2},
    }
    assert http.put(f"{board.url}/wiki/api/v2/pages/{page_id}", json=update, timeout=10).status_code == 200
    assert http.put(f"{board.url}/wiki/api/v2/pages/{page_id}", json=update, timeout=10).status_code == 409
    got = http.get(f"{board.url}/wiki/api/v2/pages/{page_id}", params={"body-format": "storage"}, timeout=10).json()
    assert got["body"]["storage"]["value"] == "<p>v2</p>" and got["version"]["number"] == 2


def _create_body(**fields) -> dict:
    return {"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Incident"}, "summary": "s", **fields}}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (_create_body(project="OPS"), "project", "data was not an object"),
        (_create_body(summary={"text": "s"}), "summary", "Operation value must be a string"),
        (_create_body(summary="x" * 256), "summary", "Summary can't exceed 255 characters."),
        (_create_body(labels="abc"), "labels", "data was not an array"),
        (_create_body(labels=["two words"]), "labels", "The label 'two words' contains spaces which is invalid."),
        (_create_body(issuetype={"name": "Sub-task"}, parent="OPS-1"), "parent", "data was not an object"),
        (
            _create_body(description=adf.from_text("x" * 32_767)),
            "description",
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters.",
        ),
        (_create_body(assignee={"accountId": "x"}), "assignee", "cannot be set"),
    ],
    ids=["project-string", "summary-object", "summary-256", "labels-string", "label-space", "parent", "32767", "field"],
)
def test_jira_cloud_field_rules_on_create(board, http, body, field, message):
    before = board.store.issue_count()
    resp = http.post(f"{board.url}/rest/api/3/issue", json=body, timeout=10)
    assert resp.status_code == 400 and message in resp.json()["errors"][field], resp.text
    assert board.store.issue_count() == before


def test_limits_hold_on_edit_and_comment(board, http, issue_key):
    url = f"{board.url}/rest/api/3/issue/{issue_key}"
    long_doc = adf.from_text("y" * 40_000)
    assert http.put(url, json={"fields": {"summary": "x" * 300}}, timeout=10).status_code == 400
    assert http.put(url, json={"update": {"description": [{"set": long_doc}]}}, timeout=10).status_code == 400
    comment = http.post(f"{url}/comment", json={"body": long_doc}, timeout=10)
    assert comment.status_code == 400 and "32,767" in comment.json()["errors"]["comment"]
    assert http.put(url, json={"fields": {"summary": "x" * 255}}, timeout=10).status_code == 204
    assert board.store.get_issue(issue_key)["summary"] == "x" * 255


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"fields": {"summary": "\xff\xfe"}}', "application/json", 400),
        (b'{"fields": {"summary": "\\ud800"}}', "application/json", 400),
        (b"[" * 1001 + b"]" * 1001, "application/json", 400),
        (b'{"fields": NaN}', "application/json", 400),
        (b'{"fields": {}}', "text/plain", 415),
    ],
    ids=["invalid-utf8", "lone-surrogate", "nesting-1001", "nan", "not-json"],
)
def test_malformed_bodies_are_refused_in_jira_shape(board, http, data, content_type, status):
    resp = http.post(f"{board.url}/rest/api/3/issue", data=data, headers={"Content-Type": content_type}, timeout=10)
    assert resp.status_code == status and resp.json()["errorMessages"] + list(resp.json()["errors"].values())


@pytest.mark.parametrize(
    "jql",
    ["", "ORDER BY created DESC", "(" * 500 + "project = OPS" + ")" * 500, "created > -99999999999999999d"],
    ids=["empty", "only-order-by", "deep-parentheses", "overflowing-date"],
)
def test_unbounded_deep_or_overflowing_jql_is_a_400(board, http, jql):
    for resp in (
        http.get(f"{board.url}/rest/api/3/search/jql", params={"jql": jql}, timeout=10),
        http.post(f"{board.url}/rest/api/3/search/jql", json={"jql": jql}, timeout=10),
    ):
        assert resp.status_code == 400 and resp.json()["errorMessages"], resp.text
    if not jql or jql.startswith("ORDER"):
        assert resp.json()["errorMessages"] == [
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        ]


def test_what_jira_accepts_is_accepted(board, http, issue_key):
    other = board.store.seed_issue(project="OPS", issue_type="Problem", summary="other", description_adf=None)
    link = {"type": {"name": "Relates"}, "inwardIssue": {"key": issue_key}, "outwardIssue": {"key": other}}
    assert http.post(f"{board.url}/rest/api/3/issueLink", json={**link, "comment": None}, timeout=10).status_code == 201
    assert [r["inward_key"] for r in board.store.links_of(other)] == [other]  # inwardIssue takes the outward text
    issue = http.get(f"{board.url}/rest/api/3/issue/{issue_key}", params={"expand": ""}, timeout=10)
    assert issue.status_code == 200 and "changelog" not in issue.json()


def test_project_list_and_search(board, http):
    listed = http.get(f"{board.url}/rest/api/3/project", timeout=10).json()
    assert [p["key"] for p in listed] == ["OPS", "SPM", "TPL"] and listed[0]["id"] == "10000"
    page = http.get(f"{board.url}/rest/api/3/project/search", params={"maxResults": 2}, timeout=10).json()
    assert [p["key"] for p in page["values"]] == ["OPS", "SPM"] and page["total"] == 3 and not page["isLast"]
    rest = http.get(page["nextPage"], timeout=10).json()
    assert [p["key"] for p in rest["values"]] == ["TPL"] and rest["isLast"]
    found = http.get(
        f"{board.url}/rest/api/3/project/search", params={"query": "problem", "expand": "lead"}, timeout=10
    ).json()
    assert [p["key"] for p in found["values"]] == ["SPM"] and found["values"][0]["lead"]["emailAddress"] == board.user
    assert http.get(f"{board.url}/rest/api/3/project/search", params={"maxResults": 101}, timeout=10).status_code == 400


def test_a_bad_fault_rule_is_refused_and_breaks_nothing(board, http):
    for rule in (
        {"path_regex": "("},
        {"method": "FETCH"},
        {"status": 200},
        {"retry_after": "soon"},
        {"x": 1},
        {"delay_after": True, "status": 503},
    ):
        resp = http.post(f"{board.url}/_devstack/faults", json=rule, timeout=10)
        assert resp.status_code == 400 and resp.json()["errors"], rule
    assert (
        http.post(f"{board.url}/_devstack/faults", data=b"{", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert http.get(f"{board.url}/rest/api/3/myself", timeout=10).status_code == 200


def test_a_late_answer_fault_carries_the_write_out_before_answering(board, http):
    """What a client killed while waiting leaves behind: the issue exists though nobody heard of it."""
    before = board.store.issue_count()
    rule = {"delay_s": 1, "delay_after": True, "path_regex": "^/rest/api/3/issue$", "method": "POST"}
    assert http.post(f"{board.url}/_devstack/faults", json=rule, timeout=10).status_code in (200, 201, 204)
    fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Incident"}, "summary": "late answer"}
    with pytest.raises(requests.Timeout):
        http.post(f"{board.url}/rest/api/3/issue", json={"fields": fields}, timeout=0.5)
    assert board.store.issue_count() == before + 1
