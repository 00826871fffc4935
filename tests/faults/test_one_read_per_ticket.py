"""One read per ticket per run: the sweep's batches work on what the search returned.

The board's request log counts what the sweep asks of Jira: at most ceil(N / page size) searches for
N open tickets and no per-ticket GET, except a follow-up for a ticket whose changelog the search
truncated (Jira's enhanced search embeds only the newest 40 histories).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from include.itsm.adapters.jira import JiraAdapter
from include.itsm.sweep import run_sweep
from tests.faults.conftest import aws_access, fault_settings, jira_adapter, make_ctx, seed_batch

PAGE_SIZE = 100  # what search_open_tickets asks for per page


def _search_and_gets(board) -> tuple[list[dict], list[dict]]:
    log = board.requests()
    searches = [r for r in log if r["path"].startswith("/rest/api/3/search")]
    reads = [r for r in log if r["method"] == "GET" and r["path"].startswith("/rest/api/3/issue/")]
    return searches, reads


def test_a_sweep_of_n_tickets_searches_ceil_n_over_page_size_times_and_reads_no_ticket_again(
    private_board, local_aws, tmp_path
):
    count = 105  # two search pages
    seed_batch(private_board.store, count)
    ctx = make_ctx(
        fault_settings(tmp_path),
        aws=aws_access(local_aws.endpoint_url, local_aws),
        jira=jira_adapter(private_board.url, private_board, execute=False),
    )
    private_board.clear_requests()
    summary = run_sweep(ctx)
    assert (summary.tickets, summary.failed) == (count, 0)
    searches, reads = _search_and_gets(private_board)
    assert len(searches) <= math.ceil(count / PAGE_SIZE)
    assert reads == []  # no ticket was read again
    assert all("expand=changelog" in (s.get("query") or "") for s in searches)


def test_a_ticket_whose_changelog_the_search_truncated_is_read_once_more(private_board, local_aws, tmp_path):
    (long_history,) = seed_batch(private_board.store, 1)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    issue_id = private_board.store.get_issue(long_history)["id"]
    for n in range(45):  # more than the 40 histories search embeds
        private_board.store.add_change(
            issue_id, "ops@example.com", "labels", f"l{n}", f"l{n + 1}", start + timedelta(minutes=n)
        )
    (short_history,) = seed_batch(private_board.store, 1)
    ctx = make_ctx(
        fault_settings(tmp_path),
        aws=aws_access(local_aws.endpoint_url, local_aws),
        jira=jira_adapter(private_board.url, private_board, execute=False),
    )
    private_board.clear_requests()
    assert run_sweep(ctx).failed == 0
    _, reads = _search_and_gets(private_board)
    paths = [r["path"] for r in reads]
    assert f"/rest/api/3/issue/{long_history}" in paths and not any(short_history in p for p in paths)
    # the follow-up read gets the whole changelog: every history the board holds
    ticket = JiraAdapter.from_credentials(private_board.url, private_board.user, private_board.token).get_ticket(
        long_history
    )
    assert ticket.complete and len([c for c in ticket.changelog if c.field == "labels"]) == 45
