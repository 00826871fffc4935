"""What every step run needs: settings, the customer, the run id and its as-of time, the mode, the ports.

DAG tasks, the CLI and tests build one `RunContext` through `include/itsm/wiring.py` (the one place
adapters are made from a customer's Airflow connections); steps only see the ports.

`as_of` is the run's logical date in Airflow (the invocation time on the CLI): everything a re-run
of the same run must reproduce (maintenance windows, billing periods, lookback windows, report
dates) is computed from it; the wall clock only stamps events (artifact `created`, audit entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from include.itsm.config import Customer, Settings
from include.itsm.ports import AlarmWriter, AwsReads, Confluence, Evidence, Jira


class Adapters(Protocol):
    """One customer's outside systems as ports (wiring.Connections builds them on first use)."""

    @property
    def jira(self) -> Jira: ...

    @property
    def aws(self) -> AwsReads: ...

    @property
    def evidence(self) -> Evidence: ...

    @property
    def confluence(self) -> Confluence: ...

    @property
    def alarm_writer(self) -> AlarmWriter: ...


@dataclass
class RunContext:
    settings: Settings
    run_id: str
    customer: Customer
    adapters: Adapters
    execute: bool = False
    actor: str = "itsm"
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    # People's input handed to a step for this run only (e.g. the PIR's 5 Whys from `itsm create-pir --input`).
    step_inputs: dict = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "execute" if self.execute else "preview"

    @property
    def jira(self) -> Jira:
        return self.adapters.jira

    @property
    def aws(self) -> AwsReads:
        return self.adapters.aws

    @property
    def evidence(self) -> Evidence:
        return self.adapters.evidence

    @property
    def confluence(self) -> Confluence:
        return self.adapters.confluence

    @property
    def alarm_writer(self) -> AlarmWriter:
        return self.adapters.alarm_writer
