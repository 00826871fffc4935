"""`make run`: the embedded default, end to end, on one machine with no accounts.

Starts the local board and the local AWS organisation (seeded with the demo), then real
Airflow pointed at them, triggers the nightly sweep once, prints where to look, and stops
every process it started on Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime

from include.itsm.devstack import services
from include.itsm.devstack.local_airflow import ADMIN_PASSWORD, ADMIN_USER, LocalAirflow

MAIN_DAG = "itsm_nightly_sweep"


def demo_users() -> dict[str, tuple[str, str]]:
    """admin, an engineer who triggers runs, and every approver the configuration names
    (password = user name: a demo, never a deployment)."""
    from include.itsm.config import settings

    return {
        ADMIN_USER: (ADMIN_PASSWORD, "admin"),
        "engineer": ("engineer", "op"),
        **{name: (name, "op") for name in settings().policy.change.approvers.everyone()},
    }


def airflow_home():
    """Beside the devstack's state: `<repo>/.airflow`, or next to `ITSM_DEVSTACK_HOME` when that is set."""
    return services.devstack_home().parent / ".airflow"


def main() -> int:
    airflow: LocalAirflow | None = None
    stopping = False

    def stop(*_):
        """Stop whatever has started so far (also when interrupted during start-up)."""
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping Airflow and the devstack ...", flush=True)
        if airflow is not None:
            airflow.stop()
        services.down()
        print("stopped.", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        print("starting the local board and the local AWS organisation ...", flush=True)
        current = services.up(seed=True)
        airflow = LocalAirflow(home=airflow_home(), users=demo_users(), extra_env=current["airflow_connections"])
        print(f"starting Airflow on {airflow.url} (first start migrates its database) ...", flush=True)
        airflow.start()
        client = airflow.client()
        client.wait_for_dag(MAIN_DAG)
        now = datetime.now(UTC)
        run_id = f"demo__{now:%Y%m%dT%H%M%S}"
        client.trigger_at(MAIN_DAG, run_id, now)
        print(f"triggered {MAIN_DAG} run {run_id}; waiting for it ...", flush=True)
        state = client.wait_for_run(MAIN_DAG, run_id, timeout_s=900)
        from include.itsm.config import settings

        print(
            f"""
ready: {MAIN_DAG} run {run_id} ended {state}
  Airflow UI      {airflow.url}   login {ADMIN_USER} / {ADMIN_PASSWORD}
                  approvers (password = user name): {", ".join(u for u in airflow.users if u != ADMIN_USER)}
  local board     {current["board"]["url"]}   (Jira REST API v3; user {current["board"]["user"]}, token {current["board"]["password"]})
  local AWS       {current["aws"]["endpoint_url"]}   (keys testing/testing, region {current["aws"]["region"]})
  evidence        {settings().runtime.evidence_root}
  gate notices    {settings().customer().notices.outbox_file()}   (one JSON line each time a gate asks)
  next            itsm lifecycle OPS-180 --execute, then itsm status OPS-180 (README: the `itsm` command)
  board requests  itsm devstack requests
Press Ctrl-C to stop everything.""",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
