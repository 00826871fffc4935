"""Streaming JSONL in, JSONL out: the shape `itsm triage` and `itsm scrub` share.

One output line per input line, in order, with flat memory on any file size. Input is read as
bytes and decoded line by line, so a line that is not UTF-8 is one error line like an empty line,
invalid JSON or a value that is not an object; each such error names its line number, and the run
goes on. A handler turns a record into the fields the command owns, or raises `LineError`.

Echo: every other input field is copied to the output line, except the ones the command consumes
and the names it owns (`owned`, always with `error` and `shadowed`). The input's values of owned
names are moved aside under `shadowed`, on success and error lines alike, so an input line can
never carry a classification, a scrubbed text or an error of its own into the output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import IO

SHADOWED = "shadowed"
ALWAYS_OWNED = frozenset({"error", SHADOWED})


class LineError(ValueError):
    """A line that cannot be processed; the message names the field (or line) and the reason."""


def parse_line(raw: bytes | str, number: int) -> dict:
    """The JSON object on input line `number` (1-based); LineError naming the line otherwise."""
    if isinstance(raw, bytes):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    else:
        line = raw
    if number == 1:
        line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
    if not line.strip():
        raise LineError(f"line {number}: empty")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LineError(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise LineError(f"line {number}: not a JSON object")
    return record


def echo(record: dict, owned: frozenset[str], consumed: frozenset[str] = frozenset()) -> dict:
    """The input fields copied to the output: owned names moved under `shadowed`, consumed ones dropped."""
    out, shadowed = {}, {}
    for name, value in record.items():
        if name in owned:
            shadowed[name] = value
        elif name not in consumed:
            out[name] = value
    if shadowed:
        out[SHADOWED] = shadowed
    return out


def _process(
    raw: bytes | str, number: int, handle: Callable[[dict], dict], owned: frozenset[str], consumed: frozenset[str]
) -> dict:
    """One output object for one input line; never raises for bad input or a failing handler."""
    try:
        record = parse_line(raw, number)
    except LineError as exc:
        return {"error": str(exc)}
    kept = echo(record, owned, consumed)
    try:
        return {**kept, **handle(record)}
    except LineError as exc:
        return {**kept, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one line that cannot be processed is reported, never a crash
        return {**kept, "error": f"line {number}: cannot be processed ({type(exc).__name__}: {exc})"}


def stream(
    source: Iterable[bytes | str],
    sink: IO[str],
    handle: Callable[[dict], dict],
    *,
    owned: frozenset[str],
    consumed: frozenset[str] = frozenset(),
    verb: str,
    progress: IO[str] | None = None,
) -> dict:
    """Write one JSON line per input line into `sink`; returns the line and error counts."""
    show = progress is not None and progress.isatty()
    owned = owned | ALWAYS_OWNED
    counts = {"lines": 0, "errors": 0}
    for number, raw in enumerate(source, start=1):
        result = _process(raw.rstrip(b"\n" if isinstance(raw, bytes) else "\n"), number, handle, owned, consumed)
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        counts["lines"] += 1
        counts["errors"] += "error" in result
        if show and counts["lines"] % 100 == 0:
            progress.write(f"\r{verb} {counts['lines']} lines ({counts['errors']} errors)")
            progress.flush()
    if show:
        progress.write(f"\r{verb} {counts['lines']} lines ({counts['errors']} errors)\n")
    return counts
