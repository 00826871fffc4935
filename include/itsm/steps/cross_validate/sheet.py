"""The customer's inventory spreadsheet as rows: pure parsing of workbook bytes (pandas, no I/O).

Customer sheets carry titles and notes above the header, Excel turns account ids into numbers (losing
leading zeros) and dates come in local formats: the header row is found, not assumed, and the as-of
date is the cell beside an "As of" label above it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from include.itsm.steps.cross_validate.domain import ResourceFacts

ACCOUNT_COLUMNS = ("account id", "accountid", "account")
INSTANCE_COLUMNS = ("instance id", "instanceid", "instance")
REGION_COLUMNS = ("region", "aws region")
AS_OF_LABELS = ("as of", "as-of", "as at", "date")


class SheetUnreadable(ValueError):
    """The workbook has no sheet with both an account id and an instance id column."""


def _norm(value: object) -> str:
    return str(value).strip().lower().rstrip(":") if value is not None else ""


def _account_text(value: object) -> str:
    """Account ids written as text keep their digits; numbers (Excel) lose leading zeros: restore them."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().replace("-", "").replace(" ", "")
    return text.zfill(12) if text.isdigit() else text


def _as_datetime(value: object) -> datetime | None:
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        stamp = pd.Timestamp(value) if not isinstance(value, str) else pd.to_datetime(value, dayfirst=True)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    stamp = stamp.to_pydatetime()
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def parse_inventory_sheet(content: bytes) -> tuple[list[ResourceFacts], datetime | None, dict]:
    """Rows (account, instance, region) of a customer inventory workbook and the sheet's as-of date.

    The header row is found, not assumed (customer sheets carry titles and notes above it); the
    as-of date is the cell beside an "As of" label above the header. Returns (rows, as_of, detail).
    """
    import pandas as pd

    book = pd.ExcelFile(io.BytesIO(content))
    for sheet in book.sheet_names:
        raw = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
        header_row = None
        for index, row in raw.iterrows():
            cells = {_norm(v) for v in row.tolist()}
            if cells & set(ACCOUNT_COLUMNS) and cells & set(INSTANCE_COLUMNS):
                header_row = int(index)
                break
        if header_row is None:
            continue
        as_of, as_of_cell = None, None
        for index in range(header_row):
            values = raw.iloc[index].tolist()
            for col, value in enumerate(values):
                if _norm(value) in AS_OF_LABELS:
                    for later in values[col + 1 :]:
                        if (found := _as_datetime(later)) is not None:
                            as_of, as_of_cell = found, f"row {index + 1}"
                            break
                if as_of:
                    break
        table = pd.read_excel(book, sheet_name=sheet, header=header_row, dtype=object)
        columns = {_norm(c): c for c in table.columns}
        account_col = next(columns[c] for c in ACCOUNT_COLUMNS if c in columns)
        instance_col = next(columns[c] for c in INSTANCE_COLUMNS if c in columns)
        region_col = next((columns[c] for c in REGION_COLUMNS if c in columns), None)
        rows = []
        for _, row in table.iterrows():
            instance, account = row[instance_col], row[account_col]
            if instance is None or (isinstance(instance, float) and instance != instance) or not str(instance).strip():
                continue
            region = row[region_col] if region_col is not None else None
            rows.append(
                ResourceFacts(
                    account_id=_account_text(account),
                    resource_id=str(instance).strip(),
                    region=str(region).strip() if isinstance(region, str) and region.strip() else None,
                )
            )
        return rows, as_of, {"sheet": sheet, "header_row": header_row + 1, "rows": len(rows), "as_of_cell": as_of_cell}
    raise SheetUnreadable("no sheet with both an account id and an instance id column")
