"""The customer's prior inventory: the .xlsx attached to OPS-180, as Kiwi Freight would send it.

It lists every instance of `org.ACCOUNTS` launched before `org.SPREADSHEET_AS_OF` (110 in 16
accounts; datalake-dev is too new to be on it), with a title row, a notes row and an "as of"
date cell above the table, and a per-account summary sheet, as real customer sheets have.

Agreement with the local AWS seeder (include/itsm/devstack/aws/), which launches the instances:

- Each instance is tagged `Name` = `<account-name>-<nn>`, nn = 01, 02, ... per account in launch
  order, the account's `late_launches` (launched after SPREADSHEET_AS_OF) last. `instance_name()`
  and `planned_instances()` below spell that rule out; the seeder may import them.
- Instances go round-robin over the account's regions in launch order (index % len(regions)).
- Instance ids are random in moto, so the sheet never invents them: `build_customer_spreadsheet`
  takes `instance_ids`, a mapping Name -> InstanceId as discovery over the local AWS reports it
  (`seed.instance_ids_from_local_aws`), and fails when an instance of the sheet is missing
  from it. An optional `regions` mapping (Name -> region, also from discovery) overrides the
  round-robin rule so the sheet stays true of whatever the seeder did.
- `spreadsheet_rows()` gives the 110 rows without ids, for tests and for scoring.

Layout of the "Inventory" sheet (read it with `pandas.read_excel(..., header=HEADER_ROW)`):
row 1 title, row 2 notes, row 3 "As of" + a date cell, row 4 empty, row 5 the column headers,
then one row per instance. Account ids are written as text (Excel would otherwise print
them in scientific notation). The "Summary" sheet counts instances per account.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from include.itsm.devstack.demo import org

SHEET_NAME = "Inventory"
SUMMARY_SHEET_NAME = "Summary"
HEADER_ROW = 4  # 0-based row index of the column headers (pandas `header=`); Excel row 5
COLUMNS = (
    "Account Name",
    "Account ID",
    "Instance ID",
    "Instance Name",
    "Environment",
    "Region",
    "Schedule",
    "Owner",
    "Notes",
)
AS_OF_LABEL = "As of"

# How the customer's teams fill the Owner column (names the PII scrubber must hide).
_OWNERS = {
    "prod": "Tom O'Connell",
    "dr": "Sione Tuilagi",
    "staging": "Ravi Shankar",
    "preprod": "Ravi Shankar",
    "sit": "Ravi Shankar",
    "dev": "Jess McKenzie",
}
_DEFAULT_OWNER = "Aroha Ngata"
_ACCOUNT_OWNERS = {"analytics-dev": "Priya Raman", "sandbox": "Hemi Walker", "datalake-dev": "Priya Raman"}


class SheetRow(NamedTuple):
    """One instance row of the customer sheet, without its id."""

    account_id: str
    account_name: str
    instance_name: str
    env: str  # the env as the customer writes it (the env tag value; "" when untagged)
    region: str


class PlannedInstance(NamedTuple):
    """One instance the seeder launches (see the module docstring)."""

    account: org.DemoAccount
    index: int  # 0-based launch order within the account
    name: str
    region: str
    late: bool  # launched after SPREADSHEET_AS_OF


def instance_name(account: org.DemoAccount, index: int) -> str:
    """The Name tag of the account's `index`-th instance (0-based launch order)."""
    return f"{account.name}-{index + 1:02d}"


def planned_instances() -> list[PlannedInstance]:
    """Every instance of the demo org in launch order per account (117)."""
    out = []
    for account in org.ACCOUNTS:
        on_time = account.instances - account.late_launches
        for index in range(account.instances):
            region = account.regions[index % len(account.regions)]
            out.append(PlannedInstance(account, index, instance_name(account, index), region, index >= on_time))
    return out


def spreadsheet_rows() -> list[SheetRow]:
    """The rows of the customer's sheet: instances launched before SPREADSHEET_AS_OF (110 in 16 accounts)."""
    return [
        SheetRow(p.account.account_id, p.account.name, p.name, p.account.env_tag or "", p.region)
        for p in planned_instances()
        if not p.late
    ]


def _owner(account: org.DemoAccount) -> str:
    return _ACCOUNT_OWNERS.get(account.name) or _OWNERS.get(account.env_tag or "", _DEFAULT_OWNER)


def build_customer_spreadsheet(
    instance_ids: Mapping[str, str],
    *,
    regions: Mapping[str, str] | None = None,
    as_of: datetime = org.SPREADSHEET_AS_OF,
) -> bytes:
    """The .xlsx bytes of the customer's inventory; `instance_ids` maps Name -> InstanceId."""
    rows = spreadsheet_rows()
    missing = [r.instance_name for r in rows if r.instance_name not in instance_ids]
    if missing:
        raise KeyError(f"instance_ids lacks {len(missing)} instance(s) of the sheet, e.g. {missing[:3]}")
    accounts = {a.account_id: a for a in org.ACCOUNTS}

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws["A1"] = f"{org.ORG_NAME} - AWS EC2 instance inventory"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = (
        "Maintained by the Cloud team. Please do not sort this sheet. Schedule column = instance "
        "scheduler tag (blank = runs 24x7). Environment copied from the account's env tag."
    )
    ws["A2"].font = Font(italic=True, color="666666")
    ws["A3"] = AS_OF_LABEL
    ws["A3"].font = Font(bold=True)
    ws["B3"] = as_of.replace(tzinfo=None)
    ws["B3"].number_format = "dd/mm/yyyy"
    ws["B3"].alignment = Alignment(horizontal="left")

    header = HEADER_ROW + 1
    fill = PatternFill("solid", fgColor="1F4E78")
    for col, name in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=header, column=col, value=name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = fill
    for i, row in enumerate(rows, start=header + 1):
        account = accounts[row.account_id]
        region = (regions or {}).get(row.instance_name, row.region)
        note = ""
        if account.env_tag is None:
            note = "no env tag - check with app owner"
        elif not account.standard_env:
            note = f"env tag '{account.env_tag}'"
        values = (
            row.account_name,
            row.account_id,
            instance_ids[row.instance_name],
            row.instance_name,
            row.env,
            region,
            org.SCHEDULER_TAG_VALUE if account.scheduled else "",
            _owner(account),
            note,
        )
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=col, value=value)
            if COLUMNS[col - 1] == "Account ID":
                cell.number_format = "@"  # text: keep all 12 digits
    for col, width in enumerate((18, 15, 22, 22, 12, 15, 16, 16, 32), start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(row=header + 1, column=1)

    summary = wb.create_sheet(SUMMARY_SHEET_NAME)
    summary.append(["Account Name", "Account ID", "Instances"])
    counts = Counter((r.account_name, r.account_id) for r in rows)
    for (name, account_id), n in counts.items():
        summary.append([name, account_id, n])
    summary.append(["Total", "", sum(counts.values())])

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
