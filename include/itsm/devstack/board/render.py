"""Store rows rendered as the JSON shapes Jira Cloud v3 returns (ids as strings, self links)."""

from __future__ import annotations

from datetime import datetime

from include.itsm.core.adf import to_plain_text
from include.itsm.devstack.board import catalog
from include.itsm.devstack.board.store import ID_OFFSET, BoardStore

ALL_FIELDS = (
    "summary",
    "description",
    "issuetype",
    "status",
    "priority",
    "labels",
    "reporter",
    "creator",
    "assignee",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    "attachment",
    "comment",
    "issuelinks",
    "parent",
    "subtasks",
    "project",
    catalog.SPRINT_FIELD,
)


def jira_time(iso: str | None) -> str | None:
    """`2026-11-26T10:00:00.000+0000`, the way Jira writes timestamps."""
    if iso is None:
        return None
    dt = datetime.fromisoformat(iso)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}" + dt.strftime("%z")


def user(base: str, email: str) -> dict:
    account = catalog.account_id(email)
    return {
        "self": f"{base}/rest/api/3/user?accountId={account}",
        "accountId": account,
        "emailAddress": email,
        "avatarUrls": {"48x48": f"{base}/avatar/{account}.png"},
        "displayName": catalog.display_name(email),
        "active": True,
        "timeZone": "Australia/Sydney",
        "accountType": "atlassian",
    }


def status(base: str, name: str) -> dict:
    status_id, cat_key, cat_id, cat_name = catalog.STATUSES[name]
    colour = {"new": "blue-gray", "indeterminate": "yellow", "done": "green"}[cat_key]
    return {
        "self": f"{base}/rest/api/3/status/{status_id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": name,
        "id": status_id,
        "statusCategory": {
            "self": f"{base}/rest/api/3/statuscategory/{cat_id}",
            "id": cat_id,
            "key": cat_key,
            "colorName": colour,
            "name": cat_name,
        },
    }


def issue_type(base: str, name: str) -> dict:
    info = catalog.ISSUE_TYPES[name]
    return {
        "self": f"{base}/rest/api/3/issuetype/{info['id']}",
        "id": info["id"],
        "description": "",
        "iconUrl": f"{base}/images/icons/issuetypes/{info['id']}.png",
        "name": name,
        "subtask": info["subtask"],
        "hierarchyLevel": -1 if info["subtask"] else 0,
    }


def priority(base: str, name: str) -> dict:
    pid = catalog.PRIORITIES[name]
    return {
        "self": f"{base}/rest/api/3/priority/{pid}",
        "iconUrl": f"{base}/images/icons/priorities/{pid}.svg",
        "name": name,
        "id": pid,
    }


def project(base: str, key: str) -> dict:
    info = catalog.PROJECTS[key]
    return {
        "self": f"{base}/rest/api/3/project/{info['id']}",
        "id": info["id"],
        "key": key,
        "name": info["name"],
        "projectTypeKey": "software",
        "simplified": False,
        "style": "classic",
        "isPrivate": False,
        "properties": {},
        "avatarUrls": {"48x48": f"{base}/rest/api/3/universal_avatar/view/type/project/avatar/{info['id']}"},
    }


def link_type(base: str, name: str) -> dict:
    lid, inward, outward = catalog.LINK_TYPES[name]
    return {
        "id": lid,
        "name": name,
        "inward": inward,
        "outward": outward,
        "self": f"{base}/rest/api/3/issueLinkType/{lid}",
    }


def issue_ref(base: str, issue: dict) -> dict:
    """The short issue form used inside links, parent and subtasks."""
    iid = str(issue["id"] + ID_OFFSET)
    return {
        "id": iid,
        "key": issue["key"],
        "self": f"{base}/rest/api/3/issue/{iid}",
        "fields": {
            "summary": issue["summary"],
            "status": status(base, issue["status"]),
            "priority": priority(base, issue["priority"]) if issue["priority"] else None,
            "issuetype": issue_type(base, issue["issue_type"]),
        },
    }


def comment(base: str, issue: dict, row: dict) -> dict:
    cid = str(row["id"] + ID_OFFSET)
    author = user(base, row["author"])
    return {
        "self": f"{base}/rest/api/3/issue/{issue['id'] + ID_OFFSET}/comment/{cid}",
        "id": cid,
        "author": author,
        "body": row["body"],
        "updateAuthor": author,
        "created": jira_time(row["created"]),
        "updated": jira_time(row["updated"]),
        "jsdPublic": True,
    }


def attachment(base: str, row: dict) -> dict:
    aid = str(row["id"] + ID_OFFSET)
    return {
        "self": f"{base}/rest/api/3/attachment/{aid}",
        "id": aid,
        "filename": row["filename"],
        "author": user(base, row["author"]),
        "created": jira_time(row["created"]),
        "size": row["size"],
        "mimeType": row["mime_type"],
        "content": f"{base}/rest/api/3/attachment/content/{aid}",
    }


def issue_links(base: str, store: BoardStore, issue: dict) -> list[dict]:
    out = []
    for row in store.links_of(issue["key"]):
        outward = row["outward_key"] == issue["key"]
        other = store.get_issue(row["inward_key"] if outward else row["outward_key"])
        if other is None:
            continue
        out.append(
            {
                "id": str(row["id"] + ID_OFFSET),
                "self": f"{base}/rest/api/3/issueLink/{row['id'] + ID_OFFSET}",
                "type": link_type(base, row["link_type"]),
                ("outwardIssue" if outward else "inwardIssue"): issue_ref(base, other),
            }
        )
    return out


def _field(base: str, store: BoardStore, issue: dict, name: str):
    if name == "summary":
        return issue["summary"]
    if name == "description":
        return issue["description"]
    if name == "issuetype":
        return issue_type(base, issue["issue_type"])
    if name == "status":
        return status(base, issue["status"])
    if name == "priority":
        return priority(base, issue["priority"]) if issue["priority"] else None
    if name == "labels":
        return issue["labels"]
    if name in ("reporter", "creator"):
        return user(base, issue["reporter"])
    if name == "assignee":
        return None
    if name in ("created", "updated"):
        return jira_time(issue[name])
    if name == "resolutiondate":
        return jira_time(issue["resolved"])
    if name == "resolution":
        return (
            {"id": "10000", "name": "Done", "self": f"{base}/rest/api/3/resolution/10000"}
            if issue["resolved"]
            else None
        )
    if name == "attachment":
        return [attachment(base, a) for a in store.attachments(issue["id"])]
    if name == "comment":
        comments = [comment(base, issue, c) for c in store.comments(issue["id"])]
        return {
            "comments": comments,
            "self": f"{base}/rest/api/3/issue/{issue['id'] + ID_OFFSET}/comment",
            "maxResults": len(comments),
            "total": len(comments),
            "startAt": 0,
        }
    if name == "issuelinks":
        return issue_links(base, store, issue)
    if name == "parent":
        parent = store.get_issue(issue["parent_key"]) if issue["parent_key"] else None
        return issue_ref(base, parent) if parent else None
    if name == "subtasks":
        return [issue_ref(base, store.get_issue(k)) for k in store.subtask_keys(issue["key"])]
    if name == "project":
        return project(base, issue["project"])
    return None  # the Sprint field: the board never puts an issue in a sprint


def wanted_fields(spec: str | list[str] | None, default: str) -> list[str]:
    """Jira's `fields` parameter: `*all`, `*navigable`, names, `-name` exclusions."""
    names = spec if isinstance(spec, list) else (spec or default).split(",")
    names = [n.strip() for n in names if n.strip()]
    chosen: list[str] = []
    for name in names:
        if name in ("*all", "*navigable"):
            chosen.extend(ALL_FIELDS)
        elif name.startswith("-"):
            chosen = [c for c in chosen if c != name[1:]]
        elif name in ALL_FIELDS:
            chosen.append(name)
    return list(dict.fromkeys(chosen))


# Jira Cloud returns only the newest histories with an issue: 40 per issue in enhanced search, 100 on a
# single issue; the rest is read from /issue/{key}/changelog.
SEARCH_CHANGELOG_LIMIT = 40
ISSUE_CHANGELOG_LIMIT = 100


def histories(base: str, store: BoardStore, issue: dict) -> list[dict]:
    out = []
    for row in store.changes(issue["id"]):
        out.append(
            {
                "id": str(row["id"] + ID_OFFSET),
                "author": user(base, row["author"]),
                "created": jira_time(row["created"]),
                "items": [
                    {
                        "field": row["field"],
                        "fieldtype": "jira",
                        "fieldId": row["field"],
                        "from": None,
                        "fromString": row["from_string"],
                        "to": None,
                        "toString": row["to_string"],
                    }
                ],
            }
        )
    return out


def changelog(base: str, store: BoardStore, issue: dict, limit: int) -> dict:
    """The changelog as embedded in an issue: the newest `limit` histories, with the true total."""
    every = histories(base, store, issue)
    newest = every[-limit:]
    return {"startAt": len(every) - len(newest), "maxResults": len(newest), "total": len(every), "histories": newest}


def issue(base: str, store: BoardStore, row: dict, fields: list[str], expand: str | None, changelog_limit: int) -> dict:
    iid = str(row["id"] + ID_OFFSET)
    out = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": iid,
        "self": f"{base}/rest/api/3/issue/{iid}",
        "key": row["key"],
    }
    if fields:
        out["fields"] = {name: _field(base, store, row, name) for name in fields}
    if expand and "changelog" in expand.split(","):
        out["changelog"] = changelog(base, store, row, changelog_limit)
    return out


def history_text(value) -> str | None:
    """How a changed value appears in the changelog's fromString / toString."""
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, dict):
        return to_plain_text(value)
    return str(value)
