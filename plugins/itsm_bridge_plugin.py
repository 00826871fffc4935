"""ITSM Bridge: the daily pattern-bridge report inside the Airflow UI.

A FastAPI app mounted by the api-server at `/itsm-bridge` plus a nav entry ("ITSM Bridge",
Browse menu) that embeds it. It only serves what the evidence store holds
(`_bridge/<date>/report.html|.csv|.json`); no logic.

Authentication: Airflow does NOT protect plugin FastAPI apps. Every request must carry the
caller's Airflow JWT, either as `Authorization: Bearer <token>` (API clients) or as the `_token`
cookie the Airflow UI sets (the embedded page is same-origin, so the browser sends it). The token
is checked by Airflow's own validation, `get_auth_manager().get_user_from_token` (signature,
expiry, audience, revocation, user deserialisation); anything else is refused with 401.
"""

from __future__ import annotations

import re

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

URL_PREFIX = "/itsm-bridge"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILES = {"report.html": "text/html; charset=utf-8", "report.csv": "text/csv; charset=utf-8",
          "report.json": "application/json"}  # fmt: skip


async def airflow_user(request: Request):
    """The Airflow user of this request's JWT (bearer header first, then the UI's `_token` cookie), or 401."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise HTTPException(status_code=401, detail="Not authenticated: log in to Airflow",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    try:
        return await get_auth_manager().get_user_from_token(token)
    except Exception:  # expired, bad signature, revoked, unknown user: all the same to a caller
        raise HTTPException(status_code=401, detail="Invalid or expired Airflow token",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def _bridge_root():
    from airflow.sdk import ObjectStoragePath

    from include.itsm.config import settings

    return ObjectStoragePath(settings().evidence_root()) / "_bridge"  # the (first) customer's evidence


def _dates() -> list[str]:
    root = _bridge_root()
    if not root.exists():
        return []
    return sorted((p.name for p in root.iterdir() if _DATE.match(p.name) and (p / "report.html").exists()),
                  reverse=True)  # fmt: skip


app = FastAPI(title="ITSM Bridge", dependencies=[Depends(airflow_user)])


@app.get("/", response_class=HTMLResponse)
def latest():
    dates = _dates()
    if not dates:
        return HTMLResponse("<!DOCTYPE html><html><body><h1>ITSM Bridge</h1><p>No bridge report yet: the "
                            "itsm_pattern_bridge DAG writes one per day.</p></body></html>")  # fmt: skip
    return RedirectResponse(url=f"{URL_PREFIX}/{dates[0]}/report.html", status_code=307)


@app.get("/reports")
def reports():
    return JSONResponse({"dates": _dates()})


@app.get("/{date}/{name}")
def report_file(date: str, name: str):
    if not _DATE.match(date) or name not in _FILES:
        raise HTTPException(status_code=404, detail="no such report")
    path = _bridge_root() / date / name
    if not path.exists():
        raise HTTPException(status_code=404, detail=f"no {name} for {date}")
    return PlainTextResponse(path.read_text(), media_type=_FILES[name])


class ItsmBridgePlugin(AirflowPlugin):
    name = "itsm_bridge"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "ITSM Bridge"}]
    external_views = [{
        "name": "ITSM Bridge",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "category": "browse",
        "url_route": "itsm-bridge",
    }]  # fmt: skip
