"""The customer travels with every ticket through the DAGs: with two customers configured, each gets
its own sweep and pattern bridge, and every task and gate of a ticket's lifecycle pair works for the
customer its manifest entry names (tests/integration/test_multi_customer.py shows that a context for
a customer reads and writes only that customer's board, AWS organisation and evidence)."""

from __future__ import annotations

import json

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.python import PythonOperator

from include.itsm.airflow.gates import GateApproval
from include.itsm.lifecycle.plan import approvals_dag_id, lifecycle_dag_id
from tests.integration.demo_fixtures import REPO_ROOT, write_test_config

TICKETS = {"OPS-11": "kiwi-freight", "OPS-12": "tasman-ports"}


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    from include.itsm.config import settings

    directory = tmp_path_factory.mktemp("routing")
    path = write_test_config(directory, evidence_per_customer=True)
    config = yaml.safe_load(path.read_text())
    first = config["customers"][0]
    assert first["id"] == "kiwi-freight"
    outbox = {"channel": "outbox", "outbox_path": str(directory / "outbox" / "tasman-ports.jsonl")}
    config["customers"].append(
        {**first, "id": "tasman-ports", "name": "Tasman Ports Ltd", "jira_conn_id": "jira_b", "notices": outbox}
    )
    path.write_text(yaml.safe_dump(config))
    entries = {
        key: {
            "key": key,
            "ticket_type": "change",
            "change_type": "normal",
            "summary": key,
            "customer": customer,
            "updated": "2026-11-26T00:00:00Z",
        }
        for key, customer in TICKETS.items()
    }
    (directory / "manifest.json").write_text(
        json.dumps({"generated": "2026-11-26T00:00:00Z", "tickets": entries}, default=str)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ITSM_CONFIG", str(path))
        settings.cache_clear()
        try:
            yield DagBag(dag_folder=str(REPO_ROOT / "dags"), safe_mode=False)
        finally:
            settings.cache_clear()


def test_each_customer_has_its_own_sweep_and_bridge(bag):
    assert not bag.import_errors, bag.import_errors
    for customer in TICKETS.values():
        assert f"itsm_nightly_sweep__{customer}" in bag.dags
        assert f"itsm_pattern_bridge__{customer}" in bag.dags
    assert "itsm_pattern_bridge" not in bag.dags and "itsm_nightly_sweep" not in bag.dags


@pytest.mark.parametrize("key", TICKETS)
def test_every_lifecycle_task_and_gate_works_for_the_tickets_customer(bag, key):
    lifecycle, approvals = bag.dags[lifecycle_dag_id(key)], bag.dags[approvals_dag_id(key)]
    callables = [t for t in lifecycle.tasks if isinstance(t, PythonOperator)]
    assert callables and {t.op_kwargs["customer"] for t in callables} == {TICKETS[key]}
    gates = [t for t in approvals.tasks if isinstance(t, GateApproval)]
    assert gates and {g.customer_id for g in gates} == {TICKETS[key]}
    outboxes = {
        str(n.notices.outbox_file()) for g in gates for n in g.notifiers
    }  # its approvers hear through its channel
    assert len(outboxes) == 1 and outboxes.pop().endswith(f"{TICKETS[key]}.jsonl")
