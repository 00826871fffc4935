"""The local board's HTTP API: the Jira Cloud v3 + Confluence v2 subset the project uses.

Every `/rest/api/3/` request is checked against Atlassian's OpenAPI document and its ADF
bodies against the ADF schema before any handler runs, so the board refuses what real Jira
Cloud refuses. Sprint moves (`/rest/agile/`, `/rest/greenhopper/`, the Sprint field) are
refused and recorded, removed v2 search answers 410, and the admin endpoints under
`/_devstack/` expose the request log and queue faults (429/5xx/slow) for retry tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone

from flask import Flask, Response, g, jsonify, request
from pydantic import BaseModel, Field

from include.itsm.devstack.board import catalog, jql, render
from include.itsm.devstack.board.store import ID_OFFSET, BoardStore, now
from include.itsm.devstack.board.validation import RequestInvalid, check_adf, validate_request, warm_up

MAX_PAGE = 100  # issues per search page when fields are requested (Jira's cap)
MAX_PAGE_IDS = 5000  # when only ids/keys are requested


class JiraError(Exception):
    """An error answered in Jira's shape: {"errorMessages": [...], "errors": {...}}."""

    def __init__(self, status: int, messages: list[str] | None = None, errors: dict | None = None) -> None:
        super().__init__(status, messages, errors)
        self.status, self.messages, self.errors = status, messages or [], errors or {}


class Fault(BaseModel):
    """A queued fault for the next `count` requests matching path_regex and method."""

    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = None
    delay_s: float = Field(default=0, ge=0, le=60)
    count: int = Field(default=1, ge=1)
    path_regex: str = ".*"
    method: str | None = None


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
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _logged_body():
    if request.mimetype == "multipart/form-data":
        return {"files": [f.filename for f in request.files.getlist("file")]}
    if request.is_json:
        return request.get_json(silent=True)
    data = request.get_data(as_text=True)
    return data[:2000] or None


def _authorised() -> bool:
    auth = request.authorization
    return bool(auth and auth.type == "basic" and auth.username == catalog.BOT_USER
                and auth.password == catalog.BOT_TOKEN)  # fmt: skip


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise JiraError(400, ["Invalid request payload. Refer to the REST API documentation and try again."])
    return body


def _sprint_write(mapping: dict | None) -> bool:
    return any(k == catalog.SPRINT_FIELD or k.lower() == "sprint" for k in (mapping or {}))


def _check_adf_bodies() -> None:
    """Validate every ADF document carried by an issue or comment write."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return
    if request.path.rstrip("/").endswith("/comment") or "/comment/" in request.path:
        check_adf("comment", body.get("body"))
        return
    if "description" in (body.get("fields") or {}) and body["fields"]["description"] is not None:
        check_adf("description", body["fields"]["description"])
    for op in (body.get("update") or {}).get("description") or []:
        for verb, value in op.items():
            if value is not None:
                check_adf("description", value)


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

    @app.errorhandler(JiraError)
    def _jira_error(exc: JiraError):
        return jsonify({"errorMessages": exc.messages, "errors": exc.errors}), exc.status

    @app.errorhandler(RequestInvalid)
    def _invalid(exc: RequestInvalid):
        return jsonify({"errorMessages": exc.messages, "errors": exc.errors}), 400

    @app.errorhandler(404)
    def _not_found(_exc):
        return jsonify({"errorMessages": [f"No route for {request.method} {request.path}"], "errors": {}}), 404

    @app.errorhandler(405)
    def _not_allowed(_exc):
        return jsonify({"errorMessages": [f"Method {request.method} not allowed"], "errors": {}}), 405

    @app.before_request
    def _gatekeeper():
        path = request.path
        g.admin = path.startswith("/_devstack/")
        if path == "/_devstack/health":
            return None
        if not _authorised():
            return jsonify({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}}), 401  # fmt: skip
        if g.admin:
            return None
        fault = state.take_fault(request.method, path)
        if fault is not None:
            time.sleep(fault.delay_s)
            if fault.status is not None:
                resp = jsonify({"errorMessages": [f"Injected fault {fault.status}"], "errors": {}})
                resp.status_code = fault.status
                if fault.retry_after is not None:
                    resp.headers["Retry-After"] = str(int(fault.retry_after)) if fault.retry_after == int(fault.retry_after) else str(fault.retry_after)  # fmt: skip
                return resp
        if path.startswith(("/rest/agile/", "/rest/greenhopper/")):
            state.sprint_attempts.append({"ts": _iso_now(), "method": request.method, "path": path,
                                          "body": _logged_body()})  # fmt: skip
            raise JiraError(403, ["The ITSM lifecycle never moves tickets into sprints: agile endpoints are refused."])
        if path.startswith("/rest/api/2/"):
            if path.startswith("/rest/api/2/search"):
                raise JiraError(410, ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"])  # fmt: skip
            raise JiraError(404, ["The local board serves REST API v3 only (/rest/api/3/...)."])
        if path.startswith("/rest/api/3/"):
            if request.method == "POST" and re.fullmatch(r"/rest/api/3/issue/[^/]+/attachments", path):
                _check_multipart()
            else:
                validate_request(request)
                _check_adf_bodies()
            body = request.get_json(silent=True) if request.is_json else None
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
                state.requests.append({"seq": state.seq, "ts": _iso_now(), "method": request.method,
                                       "path": request.path, "query": request.query_string.decode(),
                                       "status": resp.status_code, "body": _logged_body()})  # fmt: skip
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
            fault = Fault.model_validate(_json_body())
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
        return {"baseUrl": base(), "displayUrl": base(), "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud", "buildNumber": 100287, "buildDate": "2026-01-05T00:00:00.000+0000",
                "serverTime": render.jira_time(now().isoformat()), "scmInfo": "devstack", "serverTitle": "Jira"}  # fmt: skip

    @app.get("/rest/api/3/project/<key>")
    def get_project(key: str):
        match = [k for k, v in catalog.PROJECTS.items() if key.upper() == k or key == v["id"]]
        if not match:
            raise JiraError(404, [f"No project could be found with key '{key}'."])
        out = render.project(base(), match[0])
        out["issueTypes"] = [render.issue_type(base(), name) for name in catalog.ISSUE_TYPES]
        out["lead"] = render.user(base(), catalog.BOT_USER)
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
        system = [{"id": f, "key": f, "name": f.capitalize(), "custom": False, "orderable": True, "navigable": True,
                   "searchable": True, "clauseNames": [f]} for f in render.ALL_FIELDS if f != catalog.SPRINT_FIELD]  # fmt: skip
        sprint = {"id": catalog.SPRINT_FIELD, "key": catalog.SPRINT_FIELD, "name": "Sprint", "untranslatedName": "Sprint",
                  "custom": True, "orderable": True, "navigable": True, "searchable": True,
                  "clauseNames": ["cf[10020]", "Sprint"],
                  "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                             "customId": 10020}}  # fmt: skip
        return jsonify([*system, sprint])

    # --- search ---------------------------------------------------------------------------------

    @app.route("/rest/api/3/search/jql", methods=["GET", "POST"])
    def search():
        if request.method == "POST":
            params = _json_body()
        else:
            params = request.args.to_dict()
            params["fields"] = ",".join(request.args.getlist("fields")) or None
        query = params.get("jql") or ""
        try:
            found = jql.search(store.all_issues(), query)
        except jql.JqlError as exc:
            raise JiraError(400, [str(exc)]) from exc
        wanted = render.wanted_fields(params.get("fields"), "id")
        cap = MAX_PAGE if any(f not in ("id", "key") for f in wanted) else MAX_PAGE_IDS
        size = max(1, min(int(params.get("maxResults") or 50), cap))
        start = _decode_token(params.get("nextPageToken"), query)
        page = found[start:start + size]
        out = {"issues": [render.issue(base(), store, i, wanted, params.get("expand")) for i in page]}
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
        return render.issue(base(), store, issue, render.wanted_fields(fields_param, "*all"), request.args.get("expand"))

    @app.post("/rest/api/3/issue")
    def create_issue():
        body = _json_body()
        f = body.get("fields") or {}
        errors = {}
        proj = (f.get("project") or {})
        project_key = next((k for k, v in catalog.PROJECTS.items()
                            if proj.get("key") == k or proj.get("id") == v["id"]), None)  # fmt: skip
        if project_key is None:
            errors["project"] = "valid project is required"
        itype = f.get("issuetype") or {}
        type_name = next((n for n, v in catalog.ISSUE_TYPES.items()
                          if itype.get("name") == n or itype.get("id") == v["id"]), None)  # fmt: skip
        if type_name is None:
            errors["issuetype"] = "Specify a valid issue type"
        if not (f.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        parent_key = None
        if type_name and catalog.ISSUE_TYPES[type_name]["subtask"]:
            parent = store.get_issue((f.get("parent") or {}).get("key") or (f.get("parent") or {}).get("id") or "")
            if parent is None:
                errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
            else:
                parent_key = parent["key"]
        prio = _priority_name(f.get("priority"), errors)
        labels = _labels(f.get("labels") or [], errors)
        if errors:
            raise JiraError(400, [], errors)
        key = store.seed_issue(project=project_key, issue_type=type_name, summary=f["summary"].strip(),
                               description_adf=f.get("description"), labels=labels, priority=prio,
                               reporter=catalog.BOT_USER, parent_key=parent_key)  # fmt: skip
        issue = store.get_issue(key)
        iid = str(issue["id"] + ID_OFFSET)
        return {"id": iid, "key": key, "self": f"{base()}/rest/api/3/issue/{iid}"}, 201

    @app.put("/rest/api/3/issue/<key>")
    def edit_issue(key: str):
        issue = get_issue_or_404(key)
        body = _json_body()
        errors: dict[str, str] = {}
        new = {"summary": issue["summary"], "description": issue["description"], "labels": list(issue["labels"]),
               "priority": issue["priority"]}  # fmt: skip
        for name, value in (body.get("fields") or {}).items():
            if name not in new:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            elif name == "priority":
                new[name] = _priority_name(value, errors)
            elif name == "labels":
                new[name] = _labels(value or [], errors)
            else:
                new[name] = value
        for name, ops in (body.get("update") or {}).items():
            if name not in new:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                continue
            for op in ops:
                for verb, value in op.items():
                    if name == "labels" and verb in ("add", "remove"):
                        (label,) = _labels([value], errors) or [None]
                        if verb == "add" and label and label not in new["labels"]:
                            new["labels"].append(label)
                        elif verb == "remove" and label in new["labels"]:
                            new["labels"].remove(label)
                    elif verb == "set":
                        new[name] = _labels(value, errors) if name == "labels" else value
                    else:
                        errors[name] = f"Operation '{verb}' is not supported for field '{name}'."
        if errors:
            raise JiraError(400, [], errors)
        column = {"summary": "summary", "description": "description", "labels": "labels", "priority": "priority"}
        changes = {column[n]: v for n, v in new.items() if v != issue[column[n]]}
        history = [(n, render.history_text(issue[n]), render.history_text(v)) for n, v in changes.items()]
        if changes:
            store.update_issue(issue["id"], catalog.BOT_USER, changes, history)
        return "", 204

    def _priority_name(value, errors: dict) -> str | None:
        if value is None:
            return None
        name = next((n for n, pid in catalog.PRIORITIES.items()
                     if isinstance(value, dict) and (value.get("name") == n or value.get("id") == pid)), None)  # fmt: skip
        if name is None:
            errors["priority"] = "Specify a valid priority (P0..P4)."
        return name

    def _labels(values, errors: dict) -> list[str]:
        bad = [v for v in values if not isinstance(v, str) or not v or " " in v or len(v) > 255]
        if bad:
            errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
            return []
        return list(values)

    # --- transitions ----------------------------------------------------------------------------

    @app.get("/rest/api/3/issue/<key>/transitions")
    def get_transitions(key: str):
        issue = get_issue_or_404(key)
        out = []
        for tid in catalog.WORKFLOW[issue["status"]]:
            name, target = catalog.TRANSITIONS[tid]
            out.append({"id": tid, "name": name, "to": render.status(base(), target), "hasScreen": False,
                        "isGlobal": False, "isInitial": False, "isAvailable": True, "isConditional": False,
                        "isLooped": False})  # fmt: skip
        return {"expand": "transitions", "transitions": out}

    @app.post("/rest/api/3/issue/<key>/transitions")
    def do_transition(key: str):
        issue = get_issue_or_404(key)
        tid = ((_json_body().get("transition") or {}).get("id"))
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
        return "", 204

    # --- comments -------------------------------------------------------------------------------

    @app.route("/rest/api/3/issue/<key>/comment", methods=["GET", "POST"])
    def comments(key: str):
        issue = get_issue_or_404(key)
        if request.method == "POST":
            cid = store.add_comment(issue["id"], catalog.BOT_USER, _json_body()["body"])
            row = next(c for c in store.comments(issue["id"]) if c["id"] == cid)
            return render.comment(base(), issue, row), 201
        rows = store.comments(issue["id"])
        start = int(request.args.get("startAt", 0))
        size = min(int(request.args.get("maxResults", 5000)), 5000)
        page = rows[start:start + size]
        return {"startAt": start, "maxResults": size, "total": len(rows),
                "comments": [render.comment(base(), issue, c) for c in page]}  # fmt: skip

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
        ltype = body.get("type") or {}
        name = next((n for n, v in catalog.LINK_TYPES.items() if ltype.get("name") == n or ltype.get("id") == v[0]), None)
        if name is None:
            raise JiraError(404, ["No issue link type with name or id found."])
        ends = []
        for side in ("inwardIssue", "outwardIssue"):
            ref = body.get(side) or {}
            issue = store.get_issue(ref.get("key") or ref.get("id") or "")
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
            aid = store.add_attachment(issue["id"], upload.filename or "attachment",
                                       upload.mimetype or "application/octet-stream", upload.read(), catalog.BOT_USER)  # fmt: skip
            out.append(render.attachment(base(), store.attachment(aid)))
        return jsonify(out)

    def attachment_or_404(attachment_id: str) -> dict:
        row = store.attachment(int(attachment_id) - ID_OFFSET) if attachment_id.isdigit() else None
        if row is None:
            raise JiraError(404, [f"The attachment with id '{attachment_id}' does not exist"])
        return row

    @app.get("/rest/api/3/attachment/<attachment_id>")
    def attachment_meta(attachment_id: str):
        return render.attachment(base(), attachment_or_404(attachment_id))

    @app.get("/rest/api/3/attachment/content/<attachment_id>")
    def attachment_content(attachment_id: str):
        row = attachment_or_404(attachment_id)
        return Response(row["content"], mimetype=row["mime_type"],
                        headers={"Content-Disposition": f'attachment; filename="{row["filename"]}"'})  # fmt: skip

    # --- Confluence v2 --------------------------------------------------------------------------

    def render_page(row: dict) -> dict:
        pid = str(row["id"])
        body_format = request.args.get("body-format")
        body = {body_format: {"representation": body_format, "value": row["body"]}} if body_format == row["representation"] else {}  # fmt: skip
        return {"id": pid, "status": "current", "title": row["title"], "spaceId": row["space_id"],
                "parentId": row["parent_id"], "authorId": catalog.account_id(catalog.BOT_USER),
                "createdAt": row["created"].replace("+00:00", "Z"),
                "version": {"number": row["version"], "createdAt": row["updated"].replace("+00:00", "Z"),
                            "authorId": catalog.account_id(catalog.BOT_USER), "message": ""},
                "body": body, "_links": {"webui": f"/spaces/OPS/pages/{pid}", "base": f"{base()}/wiki"}}  # fmt: skip

    def page_body(body: dict) -> tuple[str, str]:
        content = body.get("body") or {}
        rep = content.get("representation")
        if rep not in ("storage", "atlas_doc_format") or not isinstance(content.get("value"), str):
            raise JiraError(400, ["body must be {representation: storage|atlas_doc_format, value: string}"])
        if rep == "atlas_doc_format":
            check_adf("body", json.loads(content["value"]))
        return rep, content["value"]

    def space_ids() -> set[str]:
        return {s["id"] for s in catalog.CONFLUENCE_SPACES.values()}

    @app.get("/wiki/api/v2/spaces")
    def spaces():
        keys = set(",".join(request.args.getlist("keys")).split(",")) - {""}
        results = [{"id": s["id"], "key": k, "name": s["name"], "type": "global", "status": "current",
                    "_links": {"webui": f"/spaces/{k}"}}
                   for k, s in catalog.CONFLUENCE_SPACES.items() if not keys or k in keys]  # fmt: skip
        return {"results": results, "_links": {"base": f"{base()}/wiki"}}

    @app.route("/wiki/api/v2/pages", methods=["GET", "POST"])
    def pages():
        if request.method == "GET":
            rows = store.find_pages(request.args.get("title"), request.args.get("space-id"))
            return {"results": [render_page(r) for r in rows], "_links": {"base": f"{base()}/wiki"}}
        body = _json_body()
        if body.get("spaceId") not in space_ids() or not (body.get("title") or "").strip():
            raise JiraError(400, ["spaceId must name an existing space and title must not be empty"])
        if store.find_pages(body["title"], body["spaceId"]):
            raise JiraError(400, ["A page with this title already exists in this space."])
        rep, value = page_body(body)
        pid = store.create_page(body["spaceId"], body["title"], body.get("parentId"), rep, value)
        return render_page(store.page(pid))

    @app.route("/wiki/api/v2/pages/<int:page_id>", methods=["GET", "PUT"])
    def page(page_id: int):
        row = store.page(page_id)
        if row is None:
            raise JiraError(404, [f"No page with id {page_id}"])
        if request.method == "GET":
            return render_page(row)
        body = _json_body()
        version = (body.get("version") or {}).get("number")
        if version != row["version"] + 1:
            raise JiraError(409, [f"Version must be {row['version'] + 1} (the current version plus one)."])
        rep, value = page_body(body)
        store.update_page(page_id, body.get("title") or row["title"], rep, value, version)
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
        if digest == hashlib.sha1(query.encode()).hexdigest()[:12]:
            return int(offset)
    except ValueError:
        pass
    raise JiraError(400, ["The provided next page token is invalid or expired."])
