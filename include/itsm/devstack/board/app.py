"""The local board's HTTP API: the Jira Cloud v3 + Confluence v2 subset the project uses.

Every `/rest/api/3/` request is checked against Atlassian's OpenAPI document and its ADF
bodies against the ADF schema before any handler runs, so the board refuses what real Jira
Cloud refuses; bodies are parsed as Jira's parser reads them (body.py) and field values are
type- and length-checked as Jira's field handlers do, so a client's mistake is always a 4xx in
Jira's error shape, never a 5xx. Sprint moves (`/rest/agile/`, `/rest/greenhopper/`, the Sprint
field) are refused and recorded, removed v2 search answers 410, and the admin endpoints under
`/_devstack/` expose the request log and queue faults (429/5xx/slow) for retry tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from datetime import UTC, datetime

from flask import Flask, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from werkzeug.exceptions import HTTPException

from include.itsm.devstack.board import catalog, jql, render
from include.itsm.devstack.board.body import (
    as_labels,
    as_object,
    check_summary,
    check_text_length,
    parse_json,
    without_nulls,
)
from include.itsm.devstack.board.store import ID_OFFSET, BoardStore, now
from include.itsm.devstack.board.validation import RequestInvalid, adf_errors, validate_request, warm_up

MAX_PAGE = 100  # issues per search page when fields are requested (Jira's cap)
MAX_PAGE_IDS = 5000  # when only ids/keys are requested
MAX_LOGGED_BODY = 64 * 1024  # larger bodies are logged as their first 2,000 characters
INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


class JiraError(Exception):
    """An error answered in Jira's shape: {"errorMessages": [...], "errors": {...}}."""

    def __init__(self, status: int, messages: list[str] | None = None, errors: dict | None = None) -> None:
        super().__init__(status, messages, errors)
        self.status, self.messages, self.errors = status, messages or [], errors or {}


class Fault(BaseModel):
    """A queued fault for the next `count` requests matching path_regex and method; checked when set,
    so a bad rule is refused then and can never break a later request."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0, le=3600)
    delay_s: float = Field(default=0, ge=0, le=60)
    # After: the request is carried out first and only its answer is late (a write the client may
    # never hear about, e.g. when its worker dies meanwhile); before (default): nothing happens yet.
    delay_after: bool = False
    count: int = Field(default=1, ge=1)
    path_regex: str = Field(default=".*", max_length=1000)
    method: str | None = None

    @field_validator("path_regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _late_answers_are_real_answers(self) -> Fault:
        if self.delay_after and self.status is not None:
            raise ValueError("delay_after delays the real answer: it takes no status")
        return self

    @field_validator("method")
    @classmethod
    def _http_method(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in HTTP_METHODS:
            raise ValueError(f"not an HTTP method; one of {sorted(HTTP_METHODS)}")
        return value


class BoardState:
    """What the board keeps in memory besides the store: request log, faults, sprint attempts."""

    def __init__(self, store: BoardStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.faults: list[Fault] = []
        self.sprint_attempts: list[dict] = []
        self.seq = 0

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (fault.method is None or fault.method.upper() == method) and re.search(fault.path_regex, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def _body() -> object:
    """The JSON body of a POST/PUT (None when it has none), parsed once as Jira's parser reads it."""
    if "body" not in g:
        raw = request.get_data(cache=True) if request.method in ("POST", "PUT", "PATCH") else b""
        if not raw:
            g.body = None
        elif not _is_json(request.mimetype):
            raise JiraError(415, [f"Unsupported Media Type '{request.mimetype}': send application/json."])
        else:
            g.body = parse_json(raw)
    return g.body


def _json_body() -> dict:
    body = _body()
    if not isinstance(body, dict):
        raise JiraError(400, [INVALID_PAYLOAD])
    return body


def _logged_body():
    if request.mimetype == "multipart/form-data":
        return {"files": [f.filename for f in request.files.getlist("file")]}
    if isinstance(g.get("body"), (dict, list)) and (request.content_length or 0) <= MAX_LOGGED_BODY:
        return g.body
    return request.get_data(as_text=True)[:2000] or None


def _authorised() -> bool:
    auth = request.authorization
    return bool(
        auth and auth.type == "basic" and auth.username == catalog.BOT_USER and auth.password == catalog.BOT_TOKEN
    )


def _sprint_write(mapping: object) -> bool:
    return isinstance(mapping, dict) and any(k == catalog.SPRINT_FIELD or k.lower() == "sprint" for k in mapping)


def _for_the_spec(body: object) -> object:
    """The body as Jira's JSON binding reads it: null members absent, a numeric transition id its text."""
    body = without_nulls(body)
    transition = body.get("transition") if isinstance(body, dict) else None
    if (
        isinstance(transition, dict)
        and isinstance(transition.get("id"), int)
        and not isinstance(transition["id"], bool)
    ):
        body = {**body, "transition": {**transition, "id": str(transition["id"])}}
    return body


def _adf_field(field: str, document: object, errors: dict[str, str]) -> None:
    """An ADF value as Jira checks it: a valid document within the text limit."""
    if document is None:
        return
    problem = adf_errors(document)
    if problem:
        errors[field] = problem
    else:
        check_text_length(field, document, errors)


def _check_adf_bodies(body: object) -> None:
    """Validate every ADF document carried by an issue or comment write."""
    if not isinstance(body, dict):
        return
    errors: dict[str, str] = {}
    if request.path.rstrip("/").endswith("/comment") or "/comment/" in request.path:
        _adf_field("comment", body.get("body"), errors)
        if "body" not in body or body["body"] is None:
            errors["comment"] = "Comment body can not be empty!"
    fields = body.get("fields")
    if isinstance(fields, dict):
        _adf_field("description", fields.get("description"), errors)
    update = body.get("update")
    ops = update.get("description") if isinstance(update, dict) else None
    for op in ops if isinstance(ops, list) else []:
        for value in op.values() if isinstance(op, dict) else []:
            _adf_field("description", value, errors)
    if errors:
        raise RequestInvalid([], errors)


def _page_params(default_size: int, max_size: int) -> tuple[int, int]:
    """startAt / maxResults of a GET page (the spec has checked they are integers)."""
    start = int(request.args.get("startAt") or 0)
    size = int(request.args.get("maxResults") or default_size)
    if start < 0 or size < 0:
        raise JiraError(400, ["startAt and maxResults must not be negative."])
    return start, min(size, max_size)


def create_app(store: BoardStore) -> Flask:
    """The board as a WSGI app over `store`."""
    warm_up()
    app = Flask("itsm-board")
    state = BoardState(store)
    app.extensions["board"] = state

    def base() -> str:
        return request.host_url.rstrip("/")

    def get_issue_or_404(key: str) -> dict:
        issue = store.get_issue(key)
        if issue is None:
            raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
        return issue

    def _error(status: int, messages: list[str], errors: dict | None = None):
        return jsonify({"errorMessages": messages, "errors": errors or {}}), status

    @app.errorhandler(JiraError)
    def _jira_error(exc: JiraError):
        return _error(exc.status, exc.messages, exc.errors)

    @app.errorhandler(RequestInvalid)
    def _invalid(exc: RequestInvalid):
        return _error(400, exc.messages, exc.errors)

    @app.errorhandler(RecursionError)
    def _too_deep(_exc):
        return _error(400, ["The request nests too deeply for the board to check it."])

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code is not None and exc.code < 400:  # a routing redirect (trailing slash)
            return exc.get_response()
        if exc.code == 404:
            return _error(404, [f"No route for {request.method} {request.path}"])
        if exc.code == 405:
            return _error(405, [f"Method {request.method} not allowed"])
        return _error(exc.code or 400, [exc.description or exc.name])

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        """A board bug, not the client's mistake: still Jira's JSON shape, and the fuzz tests catch it."""
        app.logger.exception("board bug on %s %s", request.method, request.path)
        return _error(500, [f"Internal server error: {type(exc).__name__}"])

    @app.before_request
    def _gatekeeper():
        path = request.path
        g.admin = path.startswith("/_devstack/")
        if path == "/_devstack/health":
            return None
        if not _authorised():
            raise JiraError(401, ["You are not authenticated. Authentication required to perform this operation."])
        if g.admin:
            return None
        fault = state.take_fault(request.method, path)
        if fault is not None and fault.delay_after:
            g.late_answer_s = fault.delay_s
        elif fault is not None:
            time.sleep(fault.delay_s)
            if fault.status is not None:
                resp = jsonify({"errorMessages": [f"Injected fault {fault.status}"], "errors": {}})
                resp.status_code = fault.status
                if fault.retry_after is not None:
                    resp.headers["Retry-After"] = (
                        str(int(fault.retry_after))
                        if fault.retry_after == int(fault.retry_after)
                        else str(fault.retry_after)
                    )
                return resp
        if path.startswith(("/rest/agile/", "/rest/greenhopper/")):
            try:
                _body()  # logged parsed when it parses
            except (JiraError, RequestInvalid):
                pass
            state.sprint_attempts.append(
                {"ts": _iso_now(), "method": request.method, "path": path, "body": _logged_body()}
            )
            raise JiraError(403, ["The ITSM lifecycle never moves tickets into sprints: agile endpoints are refused."])
        if path.startswith("/rest/api/2/"):
            if path.startswith("/rest/api/2/search"):
                raise JiraError(
                    410,
                    [
                        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
                    ],
                )
            raise JiraError(404, ["The local board serves REST API v3 only (/rest/api/3/...)."])
        if request.routing_exception is not None:
            raise request.routing_exception  # 404 / 405 before the contract: Jira routes first
        if path.startswith("/rest/api/3/"):
            if request.method == "POST" and re.fullmatch(r"/rest/api/3/issue/[^/]+/attachments", path):
                _check_multipart()
                return None
            body = _body()
            validate_request(request, _for_the_spec(body))
            _check_adf_bodies(body)
            if isinstance(body, dict) and (_sprint_write(body.get("fields")) or _sprint_write(body.get("update"))):
                state.sprint_attempts.append({"ts": _iso_now(), "method": request.method, "path": path, "body": body})
                raise JiraError(400, [], {catalog.SPRINT_FIELD: "The ITSM lifecycle never writes the Sprint field."})
        return None

    def _check_multipart() -> None:
        if request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
            raise JiraError(403, ["XSRF check failed"])
        if request.mimetype != "multipart/form-data" or not request.files.getlist("file"):
            raise RequestInvalid(["Attachment uploads must be multipart/form-data with one or more 'file' parts."])

    @app.after_request
    def _log(resp: Response):
        if not getattr(g, "admin", True):
            with state.lock:
                state.seq += 1
                state.requests.append(
                    {
                        "seq": state.seq,
                        "ts": _iso_now(),
                        "method": request.method,
                        "path": request.path,
                        "query": request.query_string.decode(errors="replace"),
                        "status": resp.status_code,
                        "body": _logged_body(),
                    }
                )
        time.sleep(getattr(g, "late_answer_s", 0))  # logged first: a client's test sees the write land
        return resp

    # --- admin ----------------------------------------------------------------------------------

    @app.get("/_devstack/health")
    def health():
        return {"status": "ok", "issues": store.issue_count()}

    @app.route("/_devstack/requests", methods=["GET", "DELETE"])
    def admin_requests():
        with state.lock:
            if request.method == "DELETE":
                state.requests.clear()
                return "", 204
            return jsonify(list(state.requests))

    @app.route("/_devstack/faults", methods=["POST", "DELETE"])
    def admin_faults():
        with state.lock:
            if request.method == "DELETE":
                state.faults.clear()
                return "", 204
            try:
                fault = Fault.model_validate(_json_body())
            except ValidationError as exc:
                raise JiraError(
                    400, [], {".".join(map(str, e["loc"])) or "body": e["msg"] for e in exc.errors()}
                ) from exc
            state.faults.append(fault)
            return fault.model_dump(), 201

    @app.get("/_devstack/sprint-attempts")
    def admin_sprint_attempts():
        return jsonify(list(state.sprint_attempts))

    # --- metadata -------------------------------------------------------------------------------

    @app.get("/rest/api/3/myself")
    def myself():
        return render.user(base(), catalog.BOT_USER)

    @app.get("/rest/api/3/serverInfo")
    def server_info():
        return {
            "baseUrl": base(),
            "displayUrl": base(),
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100287,
            "buildDate": "2026-01-05T00:00:00.000+0000",
            "serverTime": render.jira_time(now().isoformat()),
            "scmInfo": "devstack",
            "serverTitle": "Jira",
        }

    def project_out(key: str, expand: set[str]) -> dict:
        out = render.project(base(), key)
        if "issueTypes" in expand:
            out["issueTypes"] = [render.issue_type(base(), name) for name in catalog.ISSUE_TYPES]
        if "lead" in expand:
            out["lead"] = render.user(base(), catalog.BOT_USER)
        if "description" in expand:
            out["description"] = ""
        if "projectKeys" in expand:
            out["projectKeys"] = [key]
        return out

    def expand_param() -> set[str]:
        return {e.strip() for e in ",".join(request.args.getlist("expand")).split(",") if e.strip()}

    @app.get("/rest/api/3/project/<key>")
    def get_project(key: str):
        match = [k for k, v in catalog.PROJECTS.items() if key.upper() == k or key == v["id"]]
        if not match:
            raise JiraError(404, [f"No project could be found with key '{key}'."])
        return project_out(match[0], {"issueTypes", "lead", "description"} | expand_param())

    @app.get("/rest/api/3/project")
    def all_projects():
        """The deprecated full list (Jira still serves it): every project, `recent` caps how many."""
        keys = sorted(catalog.PROJECTS)
        recent = request.args.get("recent")
        if recent:
            keys = keys[: max(0, min(int(recent), 20))]
        return jsonify([project_out(k, expand_param()) for k in keys])

    @app.get("/rest/api/3/project/search")
    def search_projects():
        """PageBeanProject over the board's projects, filtered and ordered as Jira does for these parameters."""
        for unsupported in ("properties", "propertyQuery"):
            if request.args.get(unsupported):
                raise JiraError(400, [f"The local board has no project properties; '{unsupported}' is not supported."])
        start, size = _page_params(50, 100)
        ids = set(request.args.getlist("id"))
        keys = {k.upper() for k in request.args.getlist("keys")}
        query = (request.args.get("query") or "").lower()
        statuses = set(request.args.getlist("status")) or {"live"}
        type_key = request.args.get("typeKey")
        order = request.args.get("orderBy") or "key"
        if order.lstrip("+-") not in ("key", "name"):
            raise JiraError(400, [f"The local board orders projects by key or name only, not '{order}'."])
        found = [
            k
            for k, info in catalog.PROJECTS.items()
            if (not ids or info["id"] in ids)
            and (not keys or k in keys)
            and (query in k.lower() or query in info["name"].lower())
            and "live" in statuses
            and (type_key is None or type_key == "software")
            and not request.args.get("categoryId")  # the board's projects have no category
        ]
        found.sort(key=lambda k: k if order.lstrip("+-") == "key" else catalog.PROJECTS[k]["name"].lower())
        if order.startswith("-"):
            found.reverse()
        page = found[start : start + size]
        out = {
            "self": request.url,
            "maxResults": size,
            "startAt": start,
            "total": len(found),
            "isLast": start + size >= len(found),
            "values": [project_out(k, expand_param()) for k in page],
        }
        if not out["isLast"]:
            out["nextPage"] = f"{base()}/rest/api/3/project/search?startAt={start + size}&maxResults={size}"
        return out

    @app.get("/rest/api/3/issuetype")
    def issue_types():
        return jsonify([render.issue_type(base(), name) for name in catalog.ISSUE_TYPES])

    @app.get("/rest/api/3/status")
    def statuses():
        return jsonify([render.status(base(), name) for name in catalog.STATUSES])

    @app.get("/rest/api/3/priority")
    def priorities():
        return jsonify([render.priority(base(), name) for name in catalog.PRIORITIES])

    @app.get("/rest/api/3/issueLinkType")
    def link_types():
        return {"issueLinkTypes": [render.link_type(base(), name) for name in catalog.LINK_TYPES]}

    @app.get("/rest/api/3/field")
    def fields():
        system = [
            {
                "id": f,
                "key": f,
                "name": f.capitalize(),
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f],
            }
            for f in render.ALL_FIELDS
            if f != catalog.SPRINT_FIELD
        ]
        sprint = {
            "id": catalog.SPRINT_FIELD,
            "key": catalog.SPRINT_FIELD,
            "name": "Sprint",
            "untranslatedName": "Sprint",
            "custom": True,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": ["cf[10020]", "Sprint"],
            "schema": {
                "type": "array",
                "items": "json",
                "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                "customId": 10020,
            },
        }
        return jsonify([*system, sprint])

    # --- search ---------------------------------------------------------------------------------

    @app.route("/rest/api/3/search/jql", methods=["GET", "POST"])
    def search():
        if request.method == "POST":
            params = _json_body()
            fields_param = params.get("fields")
        else:
            params = request.args.to_dict()
            fields_param = ",".join(request.args.getlist("fields")) or None
        query = params.get("jql") or ""
        try:
            found = jql.search(store.all_issues(), query)
        except jql.JqlError as exc:
            raise JiraError(400, [str(exc)]) from exc
        wanted = render.wanted_fields(fields_param, "id")
        cap = MAX_PAGE if any(f not in ("id", "key") for f in wanted) else MAX_PAGE_IDS
        size = max(1, min(int(params.get("maxResults") or 50), cap))
        start = _decode_token(params.get("nextPageToken"), query)
        page = found[start : start + size]
        out = {
            "issues": [
                render.issue(base(), store, i, wanted, params.get("expand"), render.SEARCH_CHANGELOG_LIMIT)
                for i in page
            ]
        }
        if start + size < len(found):
            out["nextPageToken"] = _encode_token(start + size, query)
            out["isLast"] = False
        else:
            out["isLast"] = True
        return out

    # --- issues ---------------------------------------------------------------------------------

    @app.get("/rest/api/3/issue/<key>")
    def get_issue(key: str):
        issue = get_issue_or_404(key)
        fields_param = ",".join(request.args.getlist("fields")) or "*all"
        return render.issue(
            base(),
            store,
            issue,
            render.wanted_fields(fields_param, "*all"),
            request.args.get("expand"),
            render.ISSUE_CHANGELOG_LIMIT,
        )

    @app.get("/rest/api/3/issue/<key>/changelog")
    def get_changelog(key: str):
        """The whole changelog, paged (what a client reads when an issue's embedded changelog is truncated)."""
        issue = get_issue_or_404(key)
        every = render.histories(base(), store, issue)
        start, size = _page_params(100, 100)
        size = max(size, 1)
        values = every[start : start + size]
        return {
            "self": f"{base()}/rest/api/3/issue/{key}/changelog?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(every),
            "isLast": start + size >= len(every),
            "values": values,
        }

    CREATE_FIELDS = {"project", "issuetype", "summary", "description", "labels", "priority", "parent"}

    def unknown_field(name: str) -> str:
        return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."

    @app.post("/rest/api/3/issue")
    def create_issue():
        body = _json_body()
        errors: dict[str, str] = {}
        f = as_object(body.get("fields"), "fields", errors)
        for name in f:
            if name not in CREATE_FIELDS:
                errors[name] = unknown_field(name)
        proj = as_object(f.get("project"), "project", errors)
        project_key = next(
            (k for k, v in catalog.PROJECTS.items() if proj.get("key") == k or proj.get("id") == v["id"]), None
        )
        if project_key is None:
            errors.setdefault("project", "Specify a valid project ID or key")
        itype = as_object(f.get("issuetype"), "issuetype", errors)
        type_name = next(
            (n for n, v in catalog.ISSUE_TYPES.items() if itype.get("name") == n or itype.get("id") == v["id"]), None
        )
        if type_name is None:
            errors.setdefault("issuetype", "Specify a valid issue type")
        summary = check_summary(f.get("summary"), errors)
        if "summary" not in errors and not (summary or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        parent_key = None
        if type_name and catalog.ISSUE_TYPES[type_name]["subtask"]:
            parent_ref = as_object(f.get("parent"), "parent", errors)
            parent = store.get_issue(str(parent_ref.get("key") or parent_ref.get("id") or ""))
            if parent is None:
                errors.setdefault("parent", "Given parent issue does not belong to appropriate hierarchy.")
            else:
                parent_key = parent["key"]
        prio = _priority_name(f.get("priority"), errors)
        labels = as_labels(f.get("labels"), errors)
        if errors:
            raise JiraError(400, [], errors)
        key = store.seed_issue(
            project=project_key,
            issue_type=type_name,
            summary=summary.strip(),
            description_adf=f.get("description"),
            labels=labels,
            priority=prio,
            reporter=catalog.BOT_USER,
            parent_key=parent_key,
        )
        issue = store.get_issue(key)
        iid = str(issue["id"] + ID_OFFSET)
        return {"id": iid, "key": key, "self": f"{base()}/rest/api/3/issue/{iid}"}, 201

    EDITABLE = ("summary", "description", "labels", "priority")

    def _set_value(name: str, value, errors: dict[str, str]):
        """A field's new value as Jira's field handler takes it (ADF was checked by the gatekeeper)."""
        if name == "priority":
            return _priority_name(value, errors)
        if name == "labels":
            return as_labels(value, errors)
        if name == "summary":
            summary = check_summary(value, errors)
            if "summary" not in errors and not (summary or "").strip():
                errors["summary"] = "You must specify a summary of the issue."
            return (summary or "").strip()
        return value

    @app.put("/rest/api/3/issue/<key>")
    def edit_issue(key: str):
        issue = get_issue_or_404(key)
        body = _json_body()
        errors: dict[str, str] = {}
        new = {name: issue[name] for name in EDITABLE}
        new["labels"] = list(issue["labels"])
        fields = as_object(body.get("fields"), "fields", errors)
        update = as_object(body.get("update"), "update", errors)
        for name, value in fields.items():
            if name not in new:
                errors[name] = unknown_field(name)
            elif name in update:
                errors[name] = f"Field '{name}' cannot be in both 'fields' and 'update'."
            else:
                new[name] = _set_value(name, value, errors)
        for name, ops in update.items():
            if name not in new:
                errors[name] = unknown_field(name)
                continue
            for op in ops or []:  # the spec has checked: a list of operation objects
                for verb, value in op.items():
                    if name == "labels" and verb in ("add", "remove"):
                        if not isinstance(value, str):
                            errors["labels"] = "Operation value must be a string"
                            continue
                        (label,) = as_labels([value], errors) or [None]
                        if verb == "add" and label and label not in new["labels"]:
                            new["labels"].append(label)
                        elif verb == "remove" and label in new["labels"]:
                            new["labels"].remove(label)
                    elif verb == "set":
                        new[name] = _set_value(name, value, errors)
                    else:
                        errors[name] = f"Operation '{verb}' is not supported for field '{name}'."
        if errors:
            raise JiraError(400, [], errors)
        changes = {n: v for n, v in new.items() if v != issue[n]}
        history = [(n, render.history_text(issue[n]), render.history_text(v)) for n, v in changes.items()]
        if changes:
            store.update_issue(issue["id"], catalog.BOT_USER, changes, history)
        return "", 204

    def _priority_name(value, errors: dict) -> str | None:
        if value is None:
            return None
        ref = as_object(value, "priority", errors)
        name = next((n for n, pid in catalog.PRIORITIES.items() if ref.get("name") == n or ref.get("id") == pid), None)
        if name is None:
            errors.setdefault("priority", "Specify a valid priority (P0..P4).")
        return name

    # --- transitions ----------------------------------------------------------------------------

    @app.get("/rest/api/3/issue/<key>/transitions")
    def get_transitions(key: str):
        issue = get_issue_or_404(key)
        out = []
        for tid in catalog.WORKFLOW[issue["status"]]:
            name, target = catalog.TRANSITIONS[tid]
            out.append(
                {
                    "id": tid,
                    "name": name,
                    "to": render.status(base(), target),
                    "hasScreen": False,
                    "isGlobal": False,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "isLooped": False,
                }
            )
        return {"expand": "transitions", "transitions": out}

    @app.post("/rest/api/3/issue/<key>/transitions")
    def do_transition(key: str):
        issue = get_issue_or_404(key)
        body = _json_body()
        errors: dict[str, str] = {}
        tid = as_object(body.get("transition"), "transition", errors).get("id")
        for name in as_object(body.get("fields"), "fields", errors):
            errors[name] = unknown_field(name)  # the board's transitions have no screen
        comments = []
        for name, ops in as_object(body.get("update"), "update", errors).items():
            if name != "comment":
                errors[name] = unknown_field(name)
                continue
            for op in ops or []:  # the spec has checked: a list of operation objects
                if set(op) != {"add"}:
                    errors["comment"] = "A transition can only add a comment."
                    continue
                document = as_object(op["add"], "comment", errors).get("body")
                if document is None:
                    errors.setdefault("comment", "Comment body can not be empty!")
                _adf_field("comment", document, errors)
                comments.append(document)
        if errors:
            raise JiraError(400, [], errors)
        tid = str(tid) if isinstance(tid, int) and not isinstance(tid, bool) else tid  # Jackson's coercion
        if tid not in catalog.WORKFLOW[issue["status"]]:
            raise JiraError(400, [f"Transition id '{tid}' is not valid for this issue."])
        target = catalog.TRANSITIONS[tid][1]
        changes: dict[str, object] = {"status": target}
        history = [("status", issue["status"], target)]
        if catalog.STATUSES[target][1] == "done" and not issue["resolved"]:
            changes["resolved"] = now().isoformat(timespec="milliseconds")
            history.append(("resolution", None, "Done"))
        elif catalog.STATUSES[target][1] != "done" and issue["resolved"]:
            changes["resolved"] = None
            history.append(("resolution", "Done", None))
        store.update_issue(issue["id"], catalog.BOT_USER, changes, history)
        for document in comments:
            store.add_comment(issue["id"], catalog.BOT_USER, document)
        return "", 204

    # --- comments -------------------------------------------------------------------------------

    @app.route("/rest/api/3/issue/<key>/comment", methods=["GET", "POST"])
    def comments(key: str):
        issue = get_issue_or_404(key)
        if request.method == "POST":
            cid = store.add_comment(issue["id"], catalog.BOT_USER, _json_body()["body"])  # checked by the gatekeeper
            row = next(c for c in store.comments(issue["id"]) if c["id"] == cid)
            return render.comment(base(), issue, row), 201
        rows = store.comments(issue["id"])
        start, size = _page_params(5000, 5000)
        page = rows[start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(rows),
            "comments": [render.comment(base(), issue, c) for c in page],
        }

    @app.put("/rest/api/3/issue/<key>/comment/<comment_id>")
    def edit_comment(key: str, comment_id: str):
        issue = get_issue_or_404(key)
        rows = {str(c["id"] + ID_OFFSET): c for c in store.comments(issue["id"])}
        if comment_id not in rows:
            raise JiraError(404, ["Can not find a comment for the id: " + comment_id + "."])
        store.update_comment(rows[comment_id]["id"], _json_body()["body"])
        row = next(c for c in store.comments(issue["id"]) if str(c["id"] + ID_OFFSET) == comment_id)
        return render.comment(base(), issue, row)

    # --- links ----------------------------------------------------------------------------------

    @app.post("/rest/api/3/issueLink")
    def create_link():
        body = _json_body()
        errors: dict[str, str] = {}
        ltype = as_object(body.get("type"), "type", errors)
        refs = {side: as_object(body.get(side), side, errors) for side in ("inwardIssue", "outwardIssue")}
        if errors:
            raise JiraError(400, [], errors)
        name = next(
            (n for n, v in catalog.LINK_TYPES.items() if ltype.get("name") == n or ltype.get("id") == v[0]), None
        )
        if name is None:
            raise JiraError(404, ["No issue link type with name or id found."])
        ends = []
        for side, ref in refs.items():
            issue = store.get_issue(str(ref.get("key") or ref.get("id") or ""))
            if issue is None:
                raise JiraError(404, [f"Issue does not exist or you do not have permission to see it ({side})."])
            ends.append(issue["key"])
        # As Jira does: the inwardIssue takes the outward description ("inwardIssue blocks outwardIssue").
        store.link_issues(name, outward_key=ends[0], inward_key=ends[1])
        return "", 201

    # --- attachments ----------------------------------------------------------------------------

    @app.post("/rest/api/3/issue/<key>/attachments")
    def add_attachments(key: str):
        issue = get_issue_or_404(key)
        out = []
        for upload in request.files.getlist("file"):
            aid = store.add_attachment(
                issue["id"],
                upload.filename or "attachment",
                upload.mimetype or "application/octet-stream",
                upload.read(),
                catalog.BOT_USER,
            )
            out.append(render.attachment(base(), store.attachment(aid)))
        return jsonify(out)

    def attachment_or_404(attachment_id: str) -> dict:
        row = store.attachment(int(attachment_id) - ID_OFFSET) if store.is_row_id(attachment_id) else None
        if row is None:
            raise JiraError(404, [f"The attachment with id '{attachment_id}' does not exist"])
        return row

    @app.get("/rest/api/3/attachment/<attachment_id>")
    def attachment_meta(attachment_id: str):
        return render.attachment(base(), attachment_or_404(attachment_id))

    @app.get("/rest/api/3/attachment/content/<attachment_id>")
    def attachment_content(attachment_id: str):
        row = attachment_or_404(attachment_id)
        return Response(
            row["content"],
            mimetype=row["mime_type"],
            headers={"Content-Disposition": f'attachment; filename="{row["filename"]}"'},
        )

    # --- Confluence v2 --------------------------------------------------------------------------

    def render_page(row: dict) -> dict:
        pid = str(row["id"])
        body_format = request.args.get("body-format")
        body = (
            {body_format: {"representation": body_format, "value": row["body"]}}
            if body_format == row["representation"]
            else {}
        )
        return {
            "id": pid,
            "status": "current",
            "title": row["title"],
            "spaceId": row["space_id"],
            "parentId": row["parent_id"],
            "authorId": catalog.account_id(catalog.BOT_USER),
            "createdAt": row["created"].replace("+00:00", "Z"),
            "version": {
                "number": row["version"],
                "createdAt": row["updated"].replace("+00:00", "Z"),
                "authorId": catalog.account_id(catalog.BOT_USER),
                "message": "",
            },
            "body": body,
            "_links": {"webui": f"/spaces/OPS/pages/{pid}", "base": f"{base()}/wiki"},
        }

    def page_body(body: dict) -> tuple[str, str]:
        content = body.get("body")
        rep = content.get("representation") if isinstance(content, dict) else None
        if rep not in ("storage", "atlas_doc_format") or not isinstance(content.get("value"), str):
            raise JiraError(400, ["body must be {representation: storage|atlas_doc_format, value: string}"])
        if rep == "atlas_doc_format":
            errors: dict[str, str] = {}
            try:
                _adf_field("body", parse_json(content["value"].encode()), errors)
            except RequestInvalid as exc:
                raise JiraError(400, ["body.value must be an ADF document as a JSON string", *exc.messages]) from exc
            if errors:
                raise JiraError(400, [], errors)
        return rep, content["value"]

    def page_title(body: dict, default: str | None = None) -> str:
        title = body.get("title", default)
        if not isinstance(title, str) or not title.strip() or len(title) > 255:
            raise JiraError(400, ["title must be a non-empty string of at most 255 characters"])
        return title

    def space_ids() -> set[str]:
        return {s["id"] for s in catalog.CONFLUENCE_SPACES.values()}

    @app.get("/wiki/api/v2/spaces")
    def spaces():
        keys = set(",".join(request.args.getlist("keys")).split(",")) - {""}
        results = [
            {
                "id": s["id"],
                "key": k,
                "name": s["name"],
                "type": "global",
                "status": "current",
                "_links": {"webui": f"/spaces/{k}"},
            }
            for k, s in catalog.CONFLUENCE_SPACES.items()
            if not keys or k in keys
        ]
        return {"results": results, "_links": {"base": f"{base()}/wiki"}}

    @app.route("/wiki/api/v2/pages", methods=["GET", "POST"])
    def pages():
        if request.method == "GET":
            rows = store.find_pages(request.args.get("title"), request.args.get("space-id"))
            return {"results": [render_page(r) for r in rows], "_links": {"base": f"{base()}/wiki"}}
        body = _json_body()
        if not isinstance(body.get("spaceId"), str) or body["spaceId"] not in space_ids():
            raise JiraError(400, ["spaceId must name an existing space"])
        title = page_title(body)
        parent = body.get("parentId")
        if parent is not None and not isinstance(parent, str):
            raise JiraError(400, ["parentId must be a string"])
        if store.find_pages(title, body["spaceId"]):
            raise JiraError(400, ["A page with this title already exists in this space."])
        rep, value = page_body(body)
        pid = store.create_page(body["spaceId"], title, parent, rep, value)
        return render_page(store.page(pid))

    @app.route("/wiki/api/v2/pages/<int:page_id>", methods=["GET", "PUT"])
    def page(page_id: int):
        row = store.page(page_id) if page_id < 2**63 else None
        if row is None:
            raise JiraError(404, [f"No page with id {page_id}"])
        if request.method == "GET":
            return render_page(row)
        body = _json_body()
        version = body.get("version")
        version = version.get("number") if isinstance(version, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise JiraError(400, ["version.number must be an integer"])
        if version != row["version"] + 1:
            raise JiraError(409, [f"Version must be {row['version'] + 1} (the current version plus one)."])
        title = page_title(body, row["title"])
        rep, value = page_body(body)
        store.update_page(page_id, title, rep, value, version)
        return render_page(store.page(page_id))

    return app


def _encode_token(offset: int, query: str) -> str:
    digest = hashlib.sha1(query.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _decode_token(token: str | None, query: str) -> int:
    """The offset a nextPageToken stands for; a token from another query is refused."""
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if digest == hashlib.sha1(query.encode()).hexdigest()[:12] and int(offset) >= 0:
            return int(offset)
    except ValueError:
        pass
    raise JiraError(400, ["The provided next page token is invalid or expired."])
