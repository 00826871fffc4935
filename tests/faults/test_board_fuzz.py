"""Every route the local board serves answers malformed requests with a 4xx in Jira's JSON error shape, never a 5xx.

The routes come from the Flask url_map, so a route added later is fuzzed without touching this file. Each
case is one raw HTTP request (http.client, so bytes and query strings reach the server exactly as drawn):
random bytes, invalid UTF-8, lone surrogates escaped in JSON, a known-good body with one value at any depth
replaced by a wrong JSON type / a huge string / deep nesting, and malformed query strings.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections import Counter
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.itsm.core import adf

CASES_PER_ROUTE = 150
FUZZ = settings(max_examples=CASES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
BODY_METHODS = ("POST", "PUT", "PATCH")
DOC = adf.doc(adf.paragraph("fuzz"))
QUERY_NAMES = (
    "jql",
    "fields",
    "expand",
    "maxResults",
    "startAt",
    "nextPageToken",
    "keys",
    "id",
    "query",
    "orderBy",
    "status",
    "typeKey",
    "recent",
    "title",
    "space-id",
    "body-format",
    "properties",
)


@pytest.fixture(scope="module")
def fuzz_board(tmp_path_factory):
    """A board of this module's own (its refused sprint writes are the fuzzer's, not the product's)."""
    from tests.conftest import own_board

    with own_board(tmp_path_factory.mktemp("fuzz-board"), watched=False) as board:
        yield board


@pytest.fixture(scope="module")
def known(fuzz_board) -> dict[str, str]:
    """Ids that exist, so that path parameters reach the handlers and not only their 404s."""
    http = fuzz_board.http
    key = fuzz_board.store.seed_issue(
        project="OPS", issue_type="Incident", summary="fuzz target", description_adf=DOC, priority="P2"
    )
    url = fuzz_board.url
    comment = http.post(f"{url}/rest/api/3/issue/{key}/comment", json={"body": DOC}, timeout=10).json()["id"]
    attachment = http.post(
        f"{url}/rest/api/3/issue/{key}/attachments",
        files={"file": ("a.txt", b"abc")},
        headers={"X-Atlassian-Token": "no-check"},
        timeout=10,
    ).json()[0]["id"]
    page = http.post(
        f"{url}/wiki/api/v2/pages",
        json={"spaceId": "65538", "title": "fuzz page", "body": {"representation": "storage", "value": "<p/>"}},
        timeout=10,
    ).json()["id"]
    return {"key": key, "comment_id": comment, "attachment_id": attachment, "page_id": page}


def _templates(known: dict[str, str]) -> dict[tuple[str, str], object]:
    """A body Jira (or the admin API) accepts, per (rule, method): the fuzzer breaks one value of it."""
    key = known["key"]
    page = {"spaceId": "65538", "title": "fuzz", "body": {"representation": "storage", "value": "<p>x</p>"}}
    return {
        ("/rest/api/3/issue", "POST"): {
            "fields": {
                "project": {"key": "OPS"},
                "issuetype": {"name": "Incident"},
                "summary": "fuzzed",
                "description": DOC,
                "labels": ["fuzz"],
                "priority": {"name": "P2"},
            }
        },
        ("/rest/api/3/issue/<key>", "PUT"): {
            "fields": {"summary": "fuzzed"},
            "update": {"labels": [{"add": "fuzz"}], "description": [{"set": DOC}]},
        },
        ("/rest/api/3/issue/<key>/transitions", "POST"): {"transition": {"id": "11"}},
        ("/rest/api/3/issue/<key>/comment", "POST"): {"body": DOC},
        ("/rest/api/3/issue/<key>/comment/<comment_id>", "PUT"): {"body": DOC},
        ("/rest/api/3/issueLink", "POST"): {
            "type": {"name": "Relates"},
            "inwardIssue": {"key": key},
            "outwardIssue": {"key": key},
        },
        ("/rest/api/3/search/jql", "POST"): {"jql": "project = OPS", "fields": ["summary"], "maxResults": 5},
        ("/wiki/api/v2/pages", "POST"): page,
        ("/wiki/api/v2/pages/<int:page_id>", "PUT"): {**page, "version": {"number": 2}},
        ("/_devstack/faults", "POST"): {"status": 503, "count": 1, "path_regex": "^/never$", "method": "GET"},
    }


def _routes(app) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every position in a JSON value (the root included), so a break can land at any depth."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            out += _paths(v, (*prefix, n))
    return out


def _replace(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [_replace(v, rest, new) if n == head else v for n, v in enumerate(value)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
breaking_values = st.one_of(
    json_values,
    st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800"]),  # lone surrogates, escaped by json.dumps
    st.integers(30_000, 200_000).map(lambda n: "x" * n),  # over every text limit
    st.integers(50, 1_500).map(lambda n: _Deep(n)),
    st.integers(10**30, 10**40),  # a number no Jira field holds
)


class _Deep:
    """Nesting spliced into the serialised body as text (too deep to build as Python objects here)."""

    def __init__(self, depth: int) -> None:
        self.text = "[" * depth + "]" * depth


def _serialise(value: object) -> bytes:
    marker = "__deep__"
    deep: list[_Deep] = []

    def default(obj):
        deep.append(obj)
        return marker

    text = json.dumps(value, default=default)
    for d in deep:
        text = text.replace(json.dumps(marker), d.text, 1)
    return text.encode()


@st.composite
def bodies(draw, template: object) -> tuple[bytes, str, bool]:
    """(body, content type, must be refused) for a route whose good body is `template` (None: no body)."""
    kind = draw(st.sampled_from(["break", "break", "break", "bytes", "utf8", "surrogate", "deep", "scalar", "none"]))
    if template is None or kind == "none":
        if kind == "none" or draw(st.booleans()):
            return b"", "application/json", False
        kind = "bytes"
    if kind == "break":
        where = draw(st.sampled_from(_paths(template)))
        new = draw(breaking_values)
        return _serialise(_replace(template, where, new)), "application/json", False
    if kind == "bytes":
        return (
            draw(st.binary(min_size=1, max_size=2000)),
            draw(st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", ""])),
            False,
        )
    good = json.dumps(template or {"a": 1}).encode()
    if kind == "utf8":
        cut = draw(st.integers(0, len(good)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return good[:cut] + bad + good[cut:], "application/json", True
    if kind == "surrogate":
        return (
            json.dumps({"fields": {"summary": "\ud800"}, "body": "\udfff", "\ud801": 1}).encode(),
            ("application/json"),
            True,
        )
    if kind == "deep":
        depth = draw(st.integers(1_001, 20_000))
        return ("[" * depth + "]" * depth).encode(), "application/json", True
    return _serialise(draw(json_values.filter(lambda v: not isinstance(v, dict)))), "application/json", True


_MALFORMED = ["%", "%zz", "%ff%fe", "%ED%A0%80", "%00", "+", "&&", "==", "%u0041", "a=b=c"]


@st.composite
def query_strings(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(QUERY_NAMES) | st.text(max_size=10).map(quote))
        value = draw(
            st.one_of(
                st.text(max_size=40).map(lambda v: quote(v, safe="")),
                st.sampled_from(["", "-1", "0", "99999999999999999999", "1.5", "abc", "*all", "(((", "order+by+key"]),
                st.sampled_from(_MALFORMED),
                st.integers(200, 4_000).map(lambda n: "x" * n),
            )
        )
        parts.append(f"{name}={value}" if draw(st.booleans()) or value else name)
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(st.sampled_from(_MALFORMED)))
    return "&".join(parts)


def _segment(draw, name: str, known: dict[str, str]) -> str:
    good = known.get(name)
    choice = draw(st.sampled_from(["good", "good", "missing", "junk", "huge"]))
    if choice == "good" and good:
        return str(good)
    if choice == "missing":
        return "OPS-99999" if name == "key" else "99999"
    if choice == "huge":
        return "9" * draw(st.integers(19, 60))
    return quote(draw(st.text(min_size=1, max_size=30)), safe="") or "x"


@st.composite
def requests_for(draw, rule: str, method: str, known: dict[str, str], template: object):
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _segment(draw, m.group(1), known), rule)
    query = draw(query_strings())
    body, content_type, must_refuse = draw(bodies(template if method in BODY_METHODS else None))
    xsrf = draw(st.sampled_from(["no-check", "nocheck", ""]))
    target = path + (f"?{query}" if query else "")
    return method, target, body, content_type, xsrf, must_refuse and method in BODY_METHODS


def _send(
    url: str, method: str, target: str, body: bytes, content_type: str, auth: str, xsrf: str = ""
) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": auth}
    if content_type:
        headers["Content-Type"] = content_type
    if xsrf:
        headers["X-Atlassian-Token"] = xsrf
    try:
        conn.request(method, target, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def _assert_jira_error_shape(status: int, content_type: str, payload: bytes, what: str) -> None:
    assert content_type.startswith("application/json"), f"{what}: {status} answered {content_type}"
    error = json.loads(payload)
    assert isinstance(error.get("errorMessages"), list) and isinstance(error.get("errors"), dict), what
    assert error["errorMessages"] or error["errors"], f"{what}: an empty error"


def _fuzz_route(board, rule: str, method: str, strategy, auth: str, cases: Counter, statuses: Counter) -> None:
    @FUZZ
    @given(case=strategy)
    def check(case):
        method_, target, body, content_type, xsrf, must_refuse = case
        status, answered_type, payload = _send(board.url, method_, target, body, content_type, auth, xsrf)
        what = f"{method_} {target[:200]} body={body[:200]!r}"
        cases[(rule, method)] += 1
        statuses[status // 100] += 1
        assert status < 500, f"{what}: {status} {payload[:300]!r}"
        if status >= 400:
            _assert_jira_error_shape(status, answered_type, payload, what)
        if must_refuse:
            assert 400 <= status < 500, f"{what}: a malformed body was answered {status}"
        if rule == "/_devstack/faults":
            board.clear_faults()  # an accepted rule must not fault the next case

    check()


def test_fuzz_every_board_route_answers_4xx_json_never_5xx(fuzz_board, known):
    routes = _routes(fuzz_board.app)
    templates = _templates(known)
    auth = "Basic " + base64.b64encode(f"{fuzz_board.user}:{fuzz_board.token}".encode()).decode()
    cases: Counter = Counter()
    statuses: Counter = Counter()
    for rule, method in routes:
        strategy = requests_for(rule, method, known, templates.get((rule, method)))
        _fuzz_route(fuzz_board, rule, method, strategy, auth, cases, statuses)
    unauthenticated = _send(fuzz_board.url, "GET", "/rest/api/3/myself", b"", "", "Basic Zm9vOmJhcg==")
    assert unauthenticated[0] == 401
    _assert_jira_error_shape(*unauthenticated, "unauthenticated")
    total = sum(cases.values())
    print(f"\nboard fuzz: {total} cases over {len(routes)} routes (rule x method); answers by class {dict(statuses)}")
    assert set(cases) == set(routes) and min(cases.values()) >= CASES_PER_ROUTE // 2
    assert statuses[5] == 0
