"""Offline PII and credential scrub: JSONL `{"text"}` in, `{"text","scrubbed"}` out.

One output line per input line, in order, streamed (flat memory on any file size). Any other
input field (such as `id`) is echoed unchanged, except `scrubbed`, `error` and `shadowed`, which
are moved under `shadowed` (include/itsm/jsonl.py); a line that cannot be processed gets an
`error` naming the field (or line) and reason, and the run goes on. Registers come from the
configuration file's customer (`scrub` section, name, `env_tag_key`) when one is given, else
the defaults (generic replacements: `{account}`, `{private-ip}`, `{customer}`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

from include.itsm.config import load_settings
from include.itsm.jsonl import LineError, stream
from include.itsm.scrub.domain import ScrubRegisters, registers_for, scrub


def load_registers(path: str | Path | None, customer_id: str | None = None) -> ScrubRegisters:
    """Registers of one customer of the configuration file (the first when no id is given)."""
    if path is None:
        return ScrubRegisters()
    return registers_for(load_settings(path).customer(customer_id).model_dump())


OWNED = frozenset({"scrubbed"})


def scrub_record(record: dict, registers: ScrubRegisters) -> dict:
    """The `scrubbed` field of one parsed input record."""
    if "text" not in record:
        raise LineError("text: missing")
    text = record["text"]
    if not isinstance(text, str):
        raise LineError("text: must be a string")
    return {"scrubbed": scrub(text, registers).text}


def run_scrub(
    source: Iterable[bytes | str],
    sink: IO[str],
    registers: ScrubRegisters | None = None,
    progress: IO[str] | None = None,
) -> dict:
    """Scrub `source` (lines) into `sink`; returns counts. Progress goes to `progress` if it is a terminal."""
    registers = registers or ScrubRegisters()
    handle = lambda record: scrub_record(record, registers)  # noqa: E731
    return stream(source, sink, handle, owned=OWNED, verb="scrubbed", progress=progress)
