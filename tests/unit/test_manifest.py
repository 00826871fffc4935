"""The manifest the lifecycle DAG generator reads: who joins, who stays, who leaves."""

from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.lifecycle.manifest import Manifest, ManifestEntry, TicketOutcome, merge_manifest, read_manifest

NOW = datetime.now(UTC)


def _entry(key, **kw):
    return ManifestEntry(key=key, ticket_type="incident", updated=NOW, **kw)


def _ok(key):
    return TicketOutcome(key=key, ok=True, ticket_type="change", change_type="normal", priority="P2")


def test_successes_join_and_failures_do_not():
    merged = merge_manifest(
        Manifest(generated=NOW), [_ok("OPS-1"), TicketOutcome(key="OPS-2", ok=False)], {"OPS-1", "OPS-2"}
    )
    assert list(merged.tickets) == ["OPS-1"] and merged.tickets["OPS-1"].change_type == "normal"


def test_a_closed_ticket_keeps_its_dags_for_the_grace_period_then_leaves():
    current = Manifest(generated=NOW, tickets={"OPS-1": _entry("OPS-1"), "OPS-2": _entry("OPS-2")})
    first = merge_manifest(current, [], {"OPS-2"})
    assert first.tickets["OPS-1"].closed_since is not None  # noticed, kept
    later = first.model_copy(deep=True)
    later.tickets["OPS-1"].closed_since = NOW - timedelta(days=8)
    assert "OPS-1" not in merge_manifest(later, [], {"OPS-2"}).tickets


def test_a_reopened_ticket_is_no_longer_closing():
    current = Manifest(generated=NOW, tickets={"OPS-1": _entry("OPS-1", closed_since=NOW)})
    assert merge_manifest(current, [], {"OPS-1"}).tickets["OPS-1"].closed_since is None


def test_a_partial_sweep_removes_nobody():
    current = Manifest(generated=NOW, tickets={"OPS-1": _entry("OPS-1", closed_since=NOW - timedelta(days=30))})
    assert "OPS-1" in merge_manifest(current, [], None).tickets


def test_on_demand_survives_being_refreshed_by_the_sweep():
    current = Manifest(generated=NOW, tickets={"OPS-1": _entry("OPS-1", on_demand=True)})
    assert merge_manifest(current, [_ok("OPS-1")], {"OPS-1"}).tickets["OPS-1"].on_demand


@pytest.mark.parametrize("key", ["../etc", "ops-1", "OPS-1; DROP"])
def test_keys_that_are_not_ticket_keys_are_refused(key):
    with pytest.raises(ValueError):
        Manifest(generated=NOW, tickets={key: {"key": key, "updated": NOW.isoformat()}})


def test_one_customers_sweep_never_closes_another_customers_tickets():
    current = Manifest(generated=NOW, tickets={"SUP-1": _entry("SUP-1", customer="b")})
    assert merge_manifest(current, [_ok("OPS-1")], {"OPS-1"}, customer="a").tickets["SUP-1"].closed_since is None


def test_updates_that_run_together_keep_every_entry(tmp_path):
    """A sweep and registrations finishing at once: each read-change-write holds the lock, none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from include.itsm.lifecycle.manifest import update_manifest

    path = tmp_path / "state" / "manifest.json"

    def add(n: int) -> None:
        entry = ManifestEntry(key=f"OPS-{n}", summary="x" * 2000, updated=datetime.now(UTC))
        update_manifest(path, lambda m: m.model_copy(update={"tickets": m.tickets | {entry.key: entry}}))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(1, 161)))
    assert sorted(read_manifest(path).tickets, key=lambda k: int(k[4:])) == [f"OPS-{n}" for n in range(1, 161)]
