"""The ITSM Bridge page serves each configured customer's reports (routing; auth is e2e-tested).

The app's one dependency, the Airflow JWT check, needs a running api-server: it is exercised in
tests/e2e/test_bridge_e2e.py. Here it is replaced so that the per-customer routes can be read
against real report files in a file:// evidence store.
"""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from fastapi.testclient import TestClient

from include.itsm.config import settings
from tests.conftest import REPO_ROOT
from tests.integration.demo_fixtures import write_test_config


@pytest.fixture()
def client(tmp_path, monkeypatch):
    path = write_test_config(tmp_path, evidence_per_customer=True)
    config = yaml.safe_load(path.read_text())
    config["customers"].append({**config["customers"][0], "id": "tasman", "name": "Tasman <Ports>"})
    path.write_text(yaml.safe_dump(config))
    first = config["customers"][0]["id"]
    for customer, date, names in (
        (first, "2026-11-20", ("report.html",)),
        ("tasman", "2026-11-21", ("report.html", "report.csv")),
        ("tasman", "2026-11-19", ("report.html",)),
    ):
        folder = tmp_path / "evidence" / customer / "_bridge" / date
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text(f"{customer} {date} {name}")
    monkeypatch.setenv("ITSM_CONFIG", str(path))
    settings.cache_clear()
    spec = importlib.util.spec_from_file_location("itsm_bridge_plugin", REPO_ROOT / "plugins" / "itsm_bridge_plugin.py")
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    plugin.app.dependency_overrides[plugin.airflow_user] = lambda: "tester"
    yield TestClient(plugin.app), first
    settings.cache_clear()


def test_each_customer_has_its_own_reports(client):
    http, first = client
    assert [c["id"] for c in http.get("/customers").json()["customers"]] == [first, "tasman"]
    assert http.get("/reports").json() == {"dates": ["2026-11-20"]}  # the first customer's, as before
    assert http.get("/customers/tasman/reports").json() == {"customer": "tasman", "dates": ["2026-11-21", "2026-11-19"]}
    assert http.get("/customers/tasman/2026-11-21/report.csv").text == "tasman 2026-11-21 report.csv"
    assert http.get("/2026-11-20/report.html").text == f"{first} 2026-11-20 report.html"
    latest = http.get("/customers/tasman/", follow_redirects=False)
    assert (
        latest.status_code == 307
        and latest.headers["location"] == "/itsm-bridge/customers/tasman/2026-11-21/report.html"
    )


def test_the_landing_page_lists_customers_with_escaped_names(client):
    http, first = client
    page = http.get("/").text
    assert f'href="/itsm-bridge/customers/{first}/"' in page and 'href="/itsm-bridge/customers/tasman/"' in page
    assert "Tasman &lt;Ports&gt;" in page and "<Ports>" not in page


def test_unknown_customers_dates_and_files_are_not_found(client):
    http, _ = client
    assert http.get("/customers/nobody/reports").status_code == 404
    assert http.get("/customers/..%2F..%2Fetc/2026-11-21/report.html").status_code == 404
    assert http.get("/customers/tasman/2026-11-20/report.html").status_code == 404  # the other customer's date
    assert http.get("/customers/tasman/2026-11-21/secrets.txt").status_code == 404
    assert http.get("/customers/tasman/2026-11-19/report.csv").status_code == 404
