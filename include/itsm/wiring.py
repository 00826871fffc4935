"""The one place where ports get their adapters: a customer's Airflow connections, or given ones.

`run_context(...)` is how DAG tasks (include/itsm/airflow/runtime.py), the CLI
(include/itsm/commands/_context.py) and tests make a RunContext. Each adapter is built on first use,
from the connection the customer's configuration names (`jira_conn_id`, `aws_conn_id`,
`aws_operations_conn_id`) and the evidence root; a test or the devstack passes ready adapters
instead (`jira=`, `aws=`, `evidence=`, `confluence=`, `alarm_writer=`).
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from include.itsm.adapters.airflow_api import AirflowApi
from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.adapters.aws_reads import AlarmWriter, AwsReads
from include.itsm.adapters.confluence import ConfluenceAdapter
from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.adapters.jira import JiraAdapter
from include.itsm.config import Customer, Settings
from include.itsm.context import RunContext
from include.itsm.ports import AlarmWriter as AlarmWriterPort
from include.itsm.ports import AwsReads as AwsReadsPort
from include.itsm.ports import Confluence, Evidence, Jira


def aws_reads(customer: Customer) -> AwsReads:
    """The customer's read-only AWS access (`aws_default` or its own connection id)."""
    settings = AwsSettings.from_connection(customer.aws_conn_id)
    return AwsReads(AwsAccess(settings, member_role_name=customer.member_role_name))


class Connections:
    """The adapters of one customer and mode, built from its connections on first use (or given)."""

    def __init__(self, settings: Settings, customer: Customer, *, execute: bool, **given) -> None:
        unknown = set(given) - {"jira", "aws", "evidence", "confluence", "alarm_writer"}
        if unknown:
            raise TypeError(f"unknown adapters {sorted(unknown)}")
        self.settings, self.customer, self.execute = settings, customer, execute
        self.__dict__.update({name: adapter for name, adapter in given.items() if adapter is not None})

    @cached_property
    def jira(self) -> Jira:
        return JiraAdapter.from_connection(self.customer.jira_conn_id, execute=self.execute)

    @cached_property
    def aws(self) -> AwsReadsPort:
        return aws_reads(self.customer)

    @cached_property
    def evidence(self) -> Evidence:
        return EvidenceStore.from_settings(self.settings, self.customer)

    @cached_property
    def confluence(self) -> Confluence:
        """Confluence Cloud on the same Atlassian site and credentials as the customer's Jira."""
        return ConfluenceAdapter.from_connection(
            self.customer.jira_conn_id, execute=self.execute, planned=self.jira.planned
        )

    @cached_property
    def alarm_writer(self) -> AlarmWriterPort:
        """The write path (step 7's alarms, after the alarms gate): never the read-only connection."""
        access = AwsAccess(
            AwsSettings.from_connection(self.customer.aws_operations_conn_id),
            read_only=False,
            member_role_name=self.customer.operations_member_role_name,
        )
        return AlarmWriter(access)


def airflow_api_from_env() -> AirflowApi:
    """The Airflow REST API as the person at the keyboard (ITSM_AIRFLOW_URL, _USER, _PASSWORD)."""
    return AirflowApi.from_env()


def run_context(
    settings: Settings,
    run_id: str,
    customer_id: str | None = None,
    *,
    execute: bool = False,
    actor: str = "itsm",
    as_of: datetime | None = None,
    **given,
) -> RunContext:
    """A RunContext for one customer (default: the first configured); `given` adapters replace the
    connection-built ones."""
    customer = settings.customer(customer_id)
    extra = {"as_of": as_of} if as_of is not None else {}
    return RunContext(
        settings=settings,
        run_id=run_id,
        customer=customer,
        adapters=Connections(settings, customer, execute=execute, **given),
        execute=execute,
        actor=actor,
        **extra,
    )
