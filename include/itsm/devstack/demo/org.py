"""The demo AWS organisation: one table that every devstack seeder and demo ticket reads.

The composition makes the seed's worked example (OPS-180) true of real data:
117 instances in 17 member accounts; the customer's spreadsheet (as of SPREADSHEET_AS_OF)
lists the 110 instances launched before that date, in 16 accounts (datalake-dev is new);
13 accounts carry a standard env tag value (94 instances), 2 carry non-standard values
(13 instances) and 2 carry no env tag (10 instances): the 23-instance, 4-account tag gap.
The instance scheduler already runs in 8 accounts; sandbox is the Phase 1 pilot with 16
eligible instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account: holds the Config aggregator
ORG_NAME = "Kiwi Freight Ltd"  # the demo customer (a name the scrubber must hide)
CUSTOMER_TIME_ZONE = "Pacific/Auckland"
ENV_TAG_KEY = "env"
STANDARD_ENV_VALUES = ("prod", "staging", "dev", "dr", "preprod", "sit")
SCHEDULER_TAG_KEY = "Schedule"
SCHEDULER_TAG_VALUE = "nz-office-hours"
MEMBER_ROLE_NAME = "OrganizationAccountAccessRole"
AGGREGATOR_NAME = "org-aggregator"
SPREADSHEET_AS_OF = datetime(2026, 10, 15, tzinfo=UTC)
REGIONS = ("ap-southeast-2", "us-west-2", "eu-west-1")


@dataclass(frozen=True)
class DemoAccount:
    """One member account and the instances the seeder launches in it."""

    account_id: str
    name: str
    env_tag: str | None  # None: instances carry no env tag at all
    instances: int
    late_launches: int = 0  # launched after SPREADSHEET_AS_OF
    scheduled: bool = False  # instance scheduler tag present
    regions: tuple[str, ...] = ("ap-southeast-2",)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def standard_env(self) -> bool:
        return self.env_tag in STANDARD_ENV_VALUES


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("318274650011", "prod-core", "prod", 10, late_launches=1, regions=("ap-southeast-2", "us-west-2")),
    DemoAccount("318274650022", "prod-payments", "prod", 9, regions=("ap-southeast-2", "eu-west-1")),
    DemoAccount("318274650033", "analytics-dev", "dev", 8, scheduled=True),
    DemoAccount("318274650044", "dr-core", "dr", 5, regions=("us-west-2",)),
    DemoAccount("318274650055", "staging-core", "staging", 7, scheduled=True),
    DemoAccount("318274650066", "staging-data", "staging", 6, scheduled=True),
    DemoAccount("318274650077", "dev-core", "dev", 8, late_launches=1, scheduled=True),
    DemoAccount("318274650088", "dev-apps", "dev", 6, scheduled=True),
    DemoAccount("318274650099", "preprod-core", "preprod", 7, scheduled=True),
    DemoAccount("318274650101", "sit-core", "sit", 5, scheduled=True),
    DemoAccount("318274650112", "qa-core", "sit", 4, scheduled=True),
    DemoAccount("318274650123", "sandbox", "dev", 16, late_launches=1),  # Phase 1 pilot
    DemoAccount("318274650134", "datalake-dev", "dev", 3, late_launches=3),  # not in the spreadsheet
    DemoAccount("318274650145", "legacy-apps", "nonprod", 7, late_launches=1),  # non-standard env value
    DemoAccount("318274650156", "integration-test", "Dev_Test", 6),  # non-standard env value
    DemoAccount("318274650167", "shared-services", None, 6),  # no env tag
    DemoAccount("318274650178", "network-hub", None, 4),  # no env tag
)

PILOT_ACCOUNT = next(a for a in ACCOUNTS if a.name == "sandbox")
EXPANSION_CANDIDATES = ("sandbox", "shared-services", "datalake-dev")


def account_by_name(name: str) -> DemoAccount:
    return next(a for a in ACCOUNTS if a.name == name)


def totals() -> dict[str, int]:
    """The worked example's headline numbers, derived from the table (tests assert them)."""
    in_sheet = [a for a in ACCOUNTS if a.instances > a.late_launches]
    tagged = [a for a in ACCOUNTS if a.standard_env]
    return {
        "instances": sum(a.instances for a in ACCOUNTS),
        "accounts": len(ACCOUNTS),
        "spreadsheet_instances": sum(a.instances - a.late_launches for a in ACCOUNTS),
        "spreadsheet_accounts": len(in_sheet),
        "env_tagged_instances": sum(a.instances for a in tagged),
        "env_tagged_accounts": len(tagged),
        "late_launches": sum(a.late_launches for a in ACCOUNTS),
        "scheduled_accounts": sum(a.scheduled for a in ACCOUNTS),
    }
