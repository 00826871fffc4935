"""Jira misbehaving during a sweep: 429 with Retry-After, 5xx, timeouts, connection refused mid-batch.

Each case: bounded retries with backoff, the ticket recorded as failed with its reason, the rest of the
batch completed, and a re-run that completes what failed without duplicating anything. The sweep reads
every ticket in one search, so a ticket's own Jira calls are its assessment comment's (executing sweep):
the faults are injected there.
"""

from __future__ import annotations

import time

import pytest

from include.itsm.adapters.jira import CIRCUIT_FAIL_MAX, CIRCUIT_OPEN
from include.itsm.sweep import run_sweep
from tests.faults.conftest import (
    TcpProxy,
    aws_access,
    board_snapshot,
    fault_settings,
    jira_adapter,
    make_ctx,
    seed_batch,
)


@pytest.fixture
def batch(private_board, local_aws, tmp_path):
    keys = seed_batch(private_board.store, 6)
    settings = fault_settings(tmp_path)

    def ctx(*, execute: bool = True, url: str | None = None, **jira_options):
        return make_ctx(
            settings,
            execute=execute,
            aws=aws_access(local_aws.endpoint_url, local_aws),
            jira=jira_adapter(url or private_board.url, private_board, execute=execute, **jira_options),
        )

    return keys, ctx


def _assessment_comments(store, key: str) -> int:
    issue = store.get_issue(key)
    return sum("[itsm:step:assessment]" in str(c["body"]) for c in store.comments(issue["id"]))


def _statuses(board, path_end: str) -> list[int]:
    return [r["status"] for r in board.requests() if r["path"].endswith(path_end) and r["method"] == "GET"]


def test_429_with_retry_after_is_waited_for_then_the_batch_completes(batch, private_board):
    keys, ctx = batch
    private_board.fault(status=429, retry_after=1, count=1, path_regex=f"/issue/{keys[1]}/comment$", method="GET")
    private_board.clear_requests()
    started = time.monotonic()
    summary = run_sweep(ctx())
    assert time.monotonic() - started >= 1  # Retry-After honoured
    assert (summary.succeeded, summary.failed) == (len(keys), 0)
    assert _statuses(private_board, f"/issue/{keys[1]}/comment")[:2] == [429, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_transient_5xx_is_retried(batch, private_board, status):
    keys, ctx = batch
    private_board.fault(status=status, count=2, path_regex=f"/issue/{keys[2]}/comment$", method="GET")
    private_board.clear_requests()
    summary = run_sweep(ctx())
    assert summary.failed == 0 and summary.succeeded == len(keys)
    assert _statuses(private_board, f"/issue/{keys[2]}/comment")[:3] == [status, status, 200]


def test_persistent_5xx_fails_one_ticket_and_a_rerun_completes_it_once(batch, private_board):
    keys, ctx = batch
    bad = keys[3]
    private_board.fault(status=503, count=3, path_regex=f"/issue/{bad}/comment$", method="GET")  # > 2 retries
    first = run_sweep(ctx())
    assert [f["key"] for f in first.failures] == [bad]
    assert "503" in first.failures[0]["error"] or "retries" in first.failures[0]["error"]
    assert first.succeeded == len(keys) - 1
    assert _assessment_comments(private_board.store, bad) == 0
    private_board.clear_faults()
    second = run_sweep(ctx())
    assert second.failed == 0
    third = board_snapshot(private_board.store)
    run_sweep(ctx())  # and once more: nothing changes
    assert board_snapshot(private_board.store) == third
    assert all(_assessment_comments(private_board.store, k) == 1 for k in keys)


def test_a_timeout_fails_that_ticket_only(batch, private_board):
    keys, ctx = batch
    # The other tickets' calls share the 2-core machine with the stalled one (and, in CI, with other
    # suites): a 5 s client timeout leaves them room; the stall is three times as long.
    private_board.fault(delay_s=15, count=1, path_regex=f"/issue/{keys[0]}/comment$", method="GET")
    summary = run_sweep(ctx(timeout=5))
    assert [f["key"] for f in summary.failures] == [keys[0]]
    assert "JiraUnavailable" in summary.failures[0]["error"] and keys[0] in summary.failures[0]["error"]
    assert summary.succeeded == len(keys) - 1


def test_connection_refused_mid_batch_opens_the_circuit_and_a_rerun_completes(batch, private_board):
    keys, ctx = batch
    proxy = TcpProxy(private_board.url).start()
    try:
        context = ctx(url=proxy.url)
        original, seen = context.jira.upsert_step_comment, []

        def upsert_step_comment(key, step, body):
            seen.append(key)
            if len(seen) == 2:
                proxy.stop()  # Jira goes away after the first ticket
            return original(key, step, body)

        context.jira.upsert_step_comment = upsert_step_comment
        started = time.monotonic()
        summary = run_sweep(context)
        assert time.monotonic() - started < 30
        assert summary.succeeded == 1 and summary.failed == len(keys) - 1
        errors = {f["key"]: f["error"] for f in summary.failures}
        unreachable = [k for k in keys[1:] if CIRCUIT_OPEN not in errors[k]]
        assert len(unreachable) == CIRCUIT_FAIL_MAX - 1 or len(unreachable) == CIRCUIT_FAIL_MAX
        for key in keys[1 + len(unreachable) :]:
            assert CIRCUIT_OPEN in errors[key], errors[key]
        assert context.jira.breaker.current_state == "open"
        before = board_snapshot(private_board.store)
        proxy.start()  # Jira is back: a new run (new adapter, closed circuit) completes what failed
        rerun = run_sweep(ctx(url=proxy.url))
        assert rerun.failed == 0 and rerun.succeeded == len(keys)
        assert all(_assessment_comments(private_board.store, k) == 1 for k in keys)
        assert set(board_snapshot(private_board.store)["issues"]) == set(before["issues"])  # no new issues
    finally:
        proxy.stop()
