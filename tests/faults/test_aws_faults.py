"""AWS misbehaving during a sweep: throttling, AccessDenied in one account, an aggregator with 0 rows, the
endpoint going away mid-run. Failures are recorded per account with their reason; the batch completes;
a re-run completes what failed."""

from __future__ import annotations

import pytest

from include.itsm.adapters.aws import AwsAccess
from include.itsm.devstack.demo import org
from include.itsm.steps.discover.domain import Discovery
from include.itsm.sweep import run_sweep
from tests.faults.conftest import TcpProxy, aws_access, fault_settings, jira_adapter, make_ctx, seed_batch
from tests.integration.aws_fixtures import faults

EMPTY_AGGREGATOR = "empty-aggregator"


@pytest.fixture(scope="module")
def empty_aggregator(local_aws) -> str:
    """An aggregator over an account that does not exist: 0 rows for everything."""
    writer = AwsAccess(aws_access(local_aws.endpoint_url, local_aws).settings, read_only=False)
    writer.client("config").put_configuration_aggregator(
        ConfigurationAggregatorName=EMPTY_AGGREGATOR,
        AccountAggregationSources=[{"AccountIds": ["000000000000"], "AllAwsRegions": True}],
    )
    return EMPTY_AGGREGATOR


def _ctx(private_board, local_aws, tmp_path, aggregator=org.AGGREGATOR_NAME, endpoint=None, execute=False):
    return make_ctx(
        fault_settings(tmp_path, aggregator),
        execute=execute,
        aws=aws_access(endpoint or local_aws.endpoint_url, local_aws),
        jira=jira_adapter(private_board.url, private_board, execute=execute),
    )


def _discovery(ctx, key) -> Discovery:
    return ctx.evidence.read(key, ctx.run_id, "discover", Discovery)


def test_throttling_is_retried_and_the_sweep_completes(private_board, local_aws, tmp_path):
    keys = seed_batch(private_board.store, 3)
    local_aws.clear_calls()
    with faults(
        local_aws,
        {
            "service": "organizations",
            "operation": "ListAccounts",
            "code": "TooManyRequestsException",
            "status": 400,
            "count": 2,
        },
        {
            "service": "config",
            "operation": "SelectAggregateResourceConfig",
            "code": "ThrottlingException",
            "status": 400,
            "count": 1,
        },
    ):
        ctx = _ctx(private_board, local_aws, tmp_path)
        summary = run_sweep(ctx)
    assert summary.failed == 0 and summary.succeeded == len(keys)
    assert summary.snapshot["errors"] == 0
    statuses = [c["status"] for c in local_aws.calls() if c["operation"] == "ListAccounts"]
    assert statuses[:3] == [400, 400, 200]


def test_zero_rows_from_the_aggregator_fall_back_per_account(private_board, local_aws, tmp_path, empty_aggregator):
    (key,) = seed_batch(private_board.store, 1)
    ctx = _ctx(private_board, local_aws, tmp_path, empty_aggregator)
    summary = run_sweep(ctx)
    assert summary.failed == 0 and summary.snapshot["resources"] == 0
    discovery = _discovery(ctx, key)
    assert discovery.fallbacks and all(f.org_wide_count == 0 for f in discovery.fallbacks)
    assert discovery.resource_count > 0 and discovery.gate["zero_results_cross_checked"]


def test_access_denied_in_one_account_is_recorded_and_a_rerun_reads_it(
    private_board, local_aws, tmp_path, empty_aggregator
):
    keys = seed_batch(private_board.store, 3)
    denied_key = keys[0]
    ctx = _ctx(private_board, local_aws, tmp_path, empty_aggregator)
    ticket = ctx.jira.get_ticket(denied_key)
    denied = next(a.account_id for a in org.ACCOUNTS if a.account_id in ticket.summary)
    with faults(
        local_aws,
        {
            "service": "sts",
            "operation": "AssumeRole",
            "account_id": denied,
            "code": "AccessDenied",
            "status": 403,
            "message": "not authorized",
        },
    ):
        summary = run_sweep(ctx)
    assert summary.failed == 0  # a ticket is not failed by one unreadable account: the account is
    (error,) = [e for e in _discovery(ctx, denied_key).errors if e.account_id == denied]
    assert (error.operation, error.code) == ("sts:AssumeRole", "AccessDenied")
    assert not _discovery(ctx, denied_key).gate["every_account_readable"]
    for other in keys[1:]:
        assert not _discovery(ctx, other).errors, other
    again = _ctx(private_board, local_aws, tmp_path, empty_aggregator)
    run_sweep(again)
    assert not _discovery(again, denied_key).errors and _discovery(again, denied_key).resource_count > 0


@pytest.mark.timeout(180)
def test_the_aws_endpoint_going_away_mid_run_is_recorded_per_account(
    private_board, local_aws, tmp_path, empty_aggregator, monkeypatch
):
    keys = seed_batch(private_board.store, 3)
    proxy = TcpProxy(local_aws.endpoint_url).start()
    try:
        ctx = _ctx(private_board, local_aws, tmp_path, empty_aggregator, endpoint=proxy.url)
        from include.itsm.steps import assess

        original, seen = assess.assess_ticket, []

        def assess_ticket(context, ticket, snapshot, **kwargs):
            seen.append(ticket.key)
            if len(seen) == 2:
                proxy.stop()  # AWS vanishes after the snapshot and the first ticket
            return original(context, ticket, snapshot, **kwargs)

        monkeypatch.setattr(assess, "assess_ticket", assess_ticket)
        summary = run_sweep(ctx)
        assert summary.tickets == len(keys)  # the batch completed
        assert not _discovery(ctx, keys[0]).errors
        for key in keys[1:]:
            if summary.failed and key in {f["key"] for f in summary.failures}:
                continue
            codes = {e.code for e in _discovery(ctx, key).errors}
            assert codes & {"EndpointConnectionError", "ConnectionClosedError"}, (key, codes)
        proxy.start()
        again = _ctx(private_board, local_aws, tmp_path, empty_aggregator, endpoint=proxy.url)
        rerun = run_sweep(again)
        assert rerun.failed == 0
        assert all(not _discovery(again, k).errors for k in keys)
    finally:
        proxy.stop()
