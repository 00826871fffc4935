"""The bridge report page in headless Chromium, through the Airflow api-server with a token:
every chart bar has a real size and shows the CSV's figure; no planted PII on the page.

Chromium is required (Debian package `chromium`, installed by .ci/run): a missing browser fails.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime

import pytest
import requests

from include.itsm.devstack.demo.org import ACCOUNTS, ORG_NAME
from include.itsm.devstack.demo.tickets import AROHA, GRACE, HEMI, JESS, MERE, SIONE, TOM
from include.itsm.devstack.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
DAG_ID = "itsm_pattern_bridge"


PLANTED = (ORG_NAME, "Kiwi Freight", HEMI, GRACE, AROHA, TOM, SIONE, MERE, JESS, *(a.account_id for a in ACCOUNTS))


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is required: apt-get install -y chromium (see .ci/run)")
    return found


class Cdp:
    """The few DevTools-protocol calls the test needs, over one page target's websocket."""

    def __init__(self, ws):
        self.ws = ws
        self.seq = 0

    def call(self, method: str, **params) -> dict:
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.seq:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def wait_event(self, name: str, timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=timeout_s))
            if message.get("method") == name:
                return message["params"]
        raise TimeoutError(name)


@pytest.fixture(scope="module")
def report_date(live_airflow):
    """A report for today, made by a preview run if none exists yet."""
    evidence = live_airflow.config_dir / "evidence" / "_bridge"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if not (evidence / today / "report.csv").exists():
        client = live_airflow.client()
        client.wait_for_dag(DAG_ID)
        now = datetime.now(UTC)
        run_id = f"e2e-browser__{now:%Y%m%dT%H%M%S%f}"
        client.trigger_at(DAG_ID, run_id, now, conf={"execute": False})
        assert client.wait_for_run(DAG_ID, run_id, timeout_s=480) == "success"
    dates = sorted(p.name for p in evidence.iterdir() if (p / "report.csv").exists())
    return dates[-1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = _chromium()
    port = free_port(9222)
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--window-size=1280,2400",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        targets = []
        while time.monotonic() < deadline and not targets:
            try:
                targets = [
                    t
                    for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                    if t.get("type") == "page"
                ]
            except requests.RequestException:
                time.sleep(0.3)
        if not targets:
            pytest.fail("Chromium did not open its DevTools endpoint")
        from websockets.sync.client import connect

        with connect(targets[0]["webSocketDebuggerUrl"], max_size=50 * 2**20, open_timeout=30) as ws:
            yield Cdp(ws)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


MEASURE = """JSON.stringify({
  bars: [...document.querySelectorAll('g.bar')].map(g => {
    const r = g.querySelector('rect').getBoundingClientRect();
    const v = g.querySelector('text.value').getBoundingClientRect();
    return {chart: g.dataset.chart, series: g.dataset.series, category: g.dataset.category, value: g.dataset.value,
            shown: g.querySelector('text.value').textContent, w: r.width, h: r.height, tw: v.width, th: v.height};
  }),
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect(); return {chart: s.dataset.chart, w: r.width, h: r.height}; }),
  text: document.body.innerText,
  html: document.documentElement.outerHTML,
})"""


def _open(cdp: Cdp, url: str, headers: dict) -> dict:
    cdp.call("Network.enable")
    cdp.call("Page.enable")
    cdp.call("Network.setExtraHTTPHeaders", headers=headers)
    cdp.call("Page.navigate", url=url)
    cdp.wait_event("Page.loadEventFired")
    return json.loads(cdp.call("Runtime.evaluate", expression=MEASURE, returnByValue=True)["result"]["value"])


def test_report_page_in_chromium_matches_the_csv_and_holds_no_pii(live_airflow, report_date, browser, tmp_path):
    client = live_airflow.client()
    token = client.session.headers["Authorization"].split()[1]
    url = f"{client.url}/itsm-bridge/{report_date}/report.html"
    page = _open(browser, url, {"Authorization": f"Bearer {token}"})

    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    (tmp_path / "bridge-report.png").write_bytes(__import__("base64").b64decode(shot))
    assert (tmp_path / "bridge-report.png").stat().st_size > 10_000

    assert len(page["charts"]) == 5 and all(c["w"] > 0 and c["h"] > 0 for c in page["charts"]), page["charts"]
    assert page["bars"], "no chart bars on the page"
    for bar in page["bars"]:
        assert bar["w"] > 0 and bar["h"] > 0 and bar["tw"] > 0 and bar["th"] > 0, bar
        assert bar["shown"] == bar["value"], bar

    csv_text = client.session.get(f"{client.url}/itsm-bridge/{report_date}/report.csv", timeout=30).text
    rows = {(r["chart"], r["series"], r["category"], r["value"]) for r in csv.DictReader(io.StringIO(csv_text))}
    shown = {(b["chart"], b["series"], b["category"], b["shown"]) for b in page["bars"]}
    assert shown == rows

    for planted in PLANTED:
        assert planted not in page["text"] and planted not in page["html"], planted

    refused = _open(browser, url, {})
    assert "Not authenticated" in refused["text"] and not refused["bars"]
