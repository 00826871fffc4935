"""Offline PII scrub (DESIGN section 7): JSONL `{"text"}` in, `{"text","scrubbed"}` out.

One output line per input line, in order, streamed (flat memory on any file size). Any other
input field (such as `id`) is echoed unchanged; a line that cannot be processed gets an
`error` naming the field and reason, and the run goes on. Registers come from the
configuration file's customer (`scrub` section, name, `env_tag_key`) when one is given, else
the defaults (generic replacements: `{account}`, `{private-ip}`, `{customer}`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import yaml
from pydantic import ValidationError

from include.itsm.config import ConfigError
from include.itsm.domain.scrub import ScrubRegisters, registers_for, scrub


def load_registers(path: str | Path | None, customer_id: str | None = None) -> ScrubRegisters:
    """Registers for one customer of the configuration file (the first when no id is given).

    The customer's `scrub` section is validated here with `ScrubConfig`; until `Customer.scrub` is
    mounted in `include.itsm.config`, the rest of the file is not validated by this command.
    """
    if path is None:
        return ScrubRegisters()
    chosen = Path(path)
    try:
        raw = yaml.safe_load(chosen.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{chosen}: cannot read configuration ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{chosen}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{chosen}: (top level): expected a mapping, got {type(raw).__name__}")
    customers = raw.get("customers") or []
    if not isinstance(customers, list) or not all(isinstance(c, dict) for c in customers):
        raise ConfigError(f"{chosen}: customers: expected a list of mappings")
    if customer_id is None:
        chosen_customer = customers[0] if customers else {}
    else:
        matches = [c for c in customers if c.get("id") == customer_id]
        if not matches:
            raise ConfigError(f"{chosen}: customers: no customer {customer_id!r}")
        chosen_customer = matches[0]
    index = customers.index(chosen_customer) if chosen_customer in customers else 0
    try:
        return registers_for(chosen_customer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{chosen}: customers.{index}.scrub.{where}: {first['msg']}") from None


def scrub_line(line: str, registers: ScrubRegisters) -> dict:
    """One output object for one input line; never raises for bad input."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"line: invalid JSON ({exc.msg} at column {exc.colno})"}
    if not isinstance(record, dict):
        return {"error": "line: not a JSON object"}
    if "text" not in record:
        return {**record, "error": "text: missing"}
    text = record["text"]
    if not isinstance(text, str):
        return {**record, "error": "text: must be a string"}
    try:
        result = scrub(text, registers)
    except Exception as exc:  # noqa: BLE001 - a line that cannot be scrubbed is reported, never a crash
        return {**record, "error": f"text: cannot be scrubbed ({type(exc).__name__})"}
    return {**record, "scrubbed": result.text}


def scrub_lines(lines: Iterable[str], registers: ScrubRegisters | None = None) -> Iterator[dict]:
    """Stream output objects, one per input line (blank lines included, as errors)."""
    registers = registers or ScrubRegisters()
    for line in lines:
        line = line.rstrip("\n")
        yield scrub_line(line, registers) if line.strip() else {"error": "line: empty"}


def run_scrub(source: IO[str], sink: IO[str], registers: ScrubRegisters | None = None, progress: IO[str] | None = None) -> dict:
    """Scrub `source` into `sink`; returns counts. Progress goes to `progress` if it is a terminal."""
    show = progress is not None and progress.isatty()
    counts = {"lines": 0, "errors": 0}
    for result in scrub_lines(source, registers):
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        counts["lines"] += 1
        counts["errors"] += "error" in result
        if show and counts["lines"] % 100 == 0:
            progress.write(f"\rscrubbed {counts['lines']} lines ({counts['errors']} errors)")
            progress.flush()
    if show:
        progress.write(f"\rscrubbed {counts['lines']} lines ({counts['errors']} errors)\n")
    return counts
