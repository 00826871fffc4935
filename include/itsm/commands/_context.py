"""How CLI commands reach Jira and AWS: the customer's Airflow connections, as a deployment sets them.

A deployment sets `AIRFLOW_CONN_JIRA_DEFAULT` / `AIRFLOW_CONN_AWS_DEFAULT` (or keeps the connections
in Airflow's metadata DB or a secrets backend). On a laptop with the local devstack up,
`eval "$(itsm devstack env)"` exports its connections.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from include.itsm.config import settings
from include.itsm.context import RunContext


def cli_context(command: str, *, execute: bool = False, customer_id: str | None = None) -> RunContext:
    """A RunContext for one CLI invocation; its evidence lands under run id `cli-<command>__<utc time>`,
    and the invocation time is the run's as-of time."""
    from include.itsm.wiring import run_context

    now = datetime.now(UTC)
    return run_context(
        settings(),
        f"cli-{command}__{now:%Y-%m-%dT%H-%M-%S.%fZ}",
        customer_id,
        execute=execute,
        actor=f"cli:{os.environ.get('USER', 'unknown')}",
        as_of=now,
    )
