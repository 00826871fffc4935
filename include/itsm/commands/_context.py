"""How CLI commands reach Jira and AWS: the Airflow connections, else a running devstack.

A deployment sets `AIRFLOW_CONN_JIRA_DEFAULT` / `AIRFLOW_CONN_AWS_DEFAULT` (or keeps the
connections in Airflow's metadata DB or secrets backend). On a laptop where neither is set,
the commands use the local devstack if it is up, and say so on stderr.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from include.itsm.application.context import RunContext
from include.itsm.config import settings


def _use_devstack_when_unconfigured() -> None:
    if os.environ.get("AIRFLOW_CONN_JIRA_DEFAULT") or os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
        return
    from include.itsm.devstack import services

    current = services.status()
    if current["board"]["running"] and current["aws"]["running"]:
        os.environ.update(current["airflow_connections"])
        print(f"itsm: no Airflow connections in the environment; using the local devstack "
              f"({current['board']['url']}, {current['aws']['endpoint_url']})", file=sys.stderr)


def cli_context(command: str, *, execute: bool = False, customer_id: str | None = None) -> RunContext:
    """A RunContext for one CLI invocation; its evidence lands under run id `cli-<command>__<utc time>`."""
    _use_devstack_when_unconfigured()
    current = settings()
    run_id = f"cli-{command}__{datetime.now(timezone.utc):%Y-%m-%dT%H-%M-%S.%fZ}"
    return RunContext(settings=current, run_id=run_id, customer=current.customer(customer_id),
                      execute=execute, actor=f"cli:{os.environ.get('USER', 'unknown')}")
