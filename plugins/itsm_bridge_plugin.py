"""ITSM Bridge: the daily pattern-bridge report inside the Airflow UI.

A FastAPI app mounted by the api-server at `/itsm-bridge` plus a nav entry ("ITSM Bridge",
Browse menu) that embeds it. It only serves what the evidence store holds
(`_bridge/<date>/report.html|.csv|.json` under each customer's evidence root); no logic.

Routes: `/` (the latest report; with several customers, a page listing them), `/customers`,
`/reports` and `/<date>/<file>` (the first customer), and `/customers/<id>/`,
`/customers/<id>/reports`, `/customers/<id>/<date>/<file>` for any configured customer.

Authentication: Airflow does NOT protect plugin FastAPI apps. Every request must carry the
caller's Airflow JWT, either as `Authorization: Bearer <token>` (API clients) or as the `_token`
cookie the Airflow UI sets (the embedded page is same-origin, so the browser sends it). The token
is checked by Airflow's own validation, `get_auth_manager().get_user_from_token` (signature,
expiry, audience, revocation, user deserialisation); anything else is refused with 401.
"""

from __future__ import annotations

import html
import re

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

URL_PREFIX = "/itsm-bridge"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILES = {
    "report.html": "text/html; charset=utf-8",
    "report.csv": "text/csv; charset=utf-8",
    "report.json": "application/json",
}


async def airflow_user(request: Request):
    """The Airflow user of this request's JWT (bearer header first, then the UI's `_token` cookie), or 401."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise HTTPException(
            status_code=401, detail="Not authenticated: log in to Airflow", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        return await get_auth_manager().get_user_from_token(token)
    except Exception as exc:  # expired, bad signature, revoked, unknown user: all the same to a caller
        raise HTTPException(
            status_code=401, detail="Invalid or expired Airflow token", headers={"WWW-Authenticate": "Bearer"}
        ) from exc


def _bridge_root(customer_id: str | None):
    """`_bridge` in the customer's evidence (the first customer's when None); 404 for an unknown id."""
    from airflow.sdk import ObjectStoragePath

    from include.itsm.config import ConfigError, settings

    config = settings()
    try:
        customer = config.customer(customer_id)
    except ConfigError:
        raise HTTPException(status_code=404, detail=f"no customer {customer_id!r}") from None
    return ObjectStoragePath(config.evidence_root(customer)) / "_bridge"


def _dates(customer_id: str | None) -> list[str]:
    root = _bridge_root(customer_id)
    if not root.exists():
        return []
    return sorted(
        (p.name for p in root.iterdir() if _DATE.match(p.name) and (p / "report.html").exists()), reverse=True
    )


def _customers() -> list[tuple[str, str]]:
    from include.itsm.config import settings

    return [(customer.id, customer.name) for customer in settings().customers]


app = FastAPI(title="ITSM Bridge", dependencies=[Depends(airflow_user)])


def _page(body: str) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><html><body><h1>ITSM Bridge</h1>{body}</body></html>")


def _latest(customer_id: str | None):
    dates = _dates(customer_id)
    if not dates:
        return _page("<p>No bridge report yet: the itsm_pattern_bridge DAG writes one per day.</p>")
    prefix = URL_PREFIX if customer_id is None else f"{URL_PREFIX}/customers/{customer_id}"
    return RedirectResponse(url=f"{prefix}/{dates[0]}/report.html", status_code=307)


@app.get("/", response_class=HTMLResponse)
def latest():
    """The latest report; with several customers, first the choice of customer."""
    customers = _customers()
    if len(customers) == 1:
        return _latest(None)
    items = "".join(
        f'<li><a href="{URL_PREFIX}/customers/{cid}/">{html.escape(name)}</a> ({cid})</li>' for cid, name in customers
    )  # ids are [A-Za-z0-9_-] (configuration), names escaped
    return _page(f"<p>Reports by customer:</p><ul>{items}</ul>")


@app.get("/customers")
def customers():
    return JSONResponse({"customers": [{"id": cid, "name": name} for cid, name in _customers()]})


@app.get("/reports")
def reports():
    return JSONResponse({"dates": _dates(None)})


@app.get("/customers/{customer_id}/", response_class=HTMLResponse)
def customer_latest(customer_id: str):
    return _latest(customer_id)


@app.get("/customers/{customer_id}/reports")
def customer_reports(customer_id: str):
    return JSONResponse({"customer": customer_id, "dates": _dates(customer_id)})


def _report_file(customer_id: str | None, date: str, name: str):
    if not _DATE.match(date) or name not in _FILES:
        raise HTTPException(status_code=404, detail="no such report")
    path = _bridge_root(customer_id) / date / name
    if not path.exists():
        raise HTTPException(status_code=404, detail=f"no {name} for {date}")
    return PlainTextResponse(path.read_text(), media_type=_FILES[name])


@app.get("/customers/{customer_id}/{date}/{name}")
def customer_report_file(customer_id: str, date: str, name: str):
    return _report_file(customer_id, date, name)


@app.get("/{date}/{name}")
def report_file(date: str, name: str):
    return _report_file(None, date, name)


class ItsmBridgePlugin(AirflowPlugin):
    name = "itsm_bridge"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "ITSM Bridge"}]
    external_views = [
        {
            "name": "ITSM Bridge",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "itsm-bridge",
        }
    ]
