"""Offline PII scrub (DESIGN section 7): JSONL `{"text"}` in, `{"text","scrubbed"}` out.

One output line per input line, in order, streamed (flat memory on any file size). Any other
input field (such as `id`) is echoed unchanged; a line that cannot be processed gets an
`error` naming the field and reason, and the run goes on. Registers come from the
configuration file's customer (`scrub` section, name, `env_tag_key`) when one is given, else
the defaults (generic replacements: `{account}`, `{private-ip}`, `{customer}`, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from include.itsm.application.jsonl import stream
from include.itsm.config import load_settings
from include.itsm.domain.scrub import ScrubRegisters, registers_for, scrub


def load_registers(path: str | Path | None, customer_id: str | None = None) -> ScrubRegisters:
    """Registers of one customer of the configuration file (the first when no id is given)."""
    if path is None:
        return ScrubRegisters()
    return registers_for(load_settings(path).customer(customer_id).model_dump())


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


def run_scrub(source: IO[str], sink: IO[str], registers: ScrubRegisters | None = None, progress: IO[str] | None = None) -> dict:
    """Scrub `source` into `sink`; returns counts. Progress goes to `progress` if it is a terminal."""
    registers = registers or ScrubRegisters()
    return stream(source, sink, lambda line: scrub_line(line, registers), verb="scrubbed", progress=progress)
