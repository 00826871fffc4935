"""What every step run needs: settings, the customer, the run id, the mode and the adapters.

DAG tasks, the CLI and tests build one `RunContext`; adapters are created on first use from
the customer's Airflow connections, or injected (tests, the devstack CLI path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from include.itsm.config import Customer, Settings

if TYPE_CHECKING:
    from include.itsm.adapters.aws import AwsAccess
    from include.itsm.adapters.evidence import EvidenceStore
    from include.itsm.adapters.jira import JiraAdapter


@dataclass
class RunContext:
    settings: Settings
    run_id: str
    customer: Customer | None = None
    execute: bool = False
    actor: str = "itsm"
    injected: dict = field(default_factory=dict)  # "jira" / "aws" / "evidence" overrides

    def __post_init__(self) -> None:
        self.customer = self.customer or self.settings.customer()

    @property
    def mode(self) -> str:
        return "execute" if self.execute else "preview"

    @cached_property
    def jira(self) -> "JiraAdapter":
        if "jira" in self.injected:
            return self.injected["jira"]
        from include.itsm.adapters.jira import JiraAdapter

        return JiraAdapter.from_connection(self.customer.jira_conn_id, execute=self.execute)

    @cached_property
    def aws(self) -> "AwsAccess":
        if "aws" in self.injected:
            return self.injected["aws"]
        from include.itsm.adapters.aws import AwsAccess, AwsSettings

        settings = AwsSettings.from_connection(self.customer.aws_conn_id)
        return AwsAccess(settings.model_copy(update={"member_role_name": self.customer.member_role_name}))

    @cached_property
    def evidence(self) -> "EvidenceStore":
        if "evidence" in self.injected:
            return self.injected["evidence"]
        from include.itsm.adapters.evidence import EvidenceStore

        runtime = self.settings.runtime
        return EvidenceStore(self.settings.evidence_root(self.customer), object_lock=runtime.object_lock,
                             conn_id=runtime.evidence_conn_id)
