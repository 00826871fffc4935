"""Streaming JSONL in, JSONL out: the shape `itsm triage` and `itsm scrub` share (DESIGN section 7).

One output line per input line, in order, with flat memory on any file size; a line that cannot
be processed gets an `error` object from the handler and the run goes on. Progress is shown only
on a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO


def each_line(lines: Iterable[str], handle: Callable[[str], dict]) -> Iterator[dict]:
    """Stream `handle(line)` per input line; a blank line is an error line, not skipped."""
    for line in lines:
        line = line.rstrip("\n")
        yield handle(line) if line.strip() else {"error": "line: empty"}


def stream(source: IO[str], sink: IO[str], handle: Callable[[str], dict], *, verb: str,
           progress: IO[str] | None = None) -> dict:
    """Write one JSON line per input line into `sink`; returns the line and error counts."""
    show = progress is not None and progress.isatty()
    counts = {"lines": 0, "errors": 0}
    for result in each_line(source, handle):
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        counts["lines"] += 1
        counts["errors"] += "error" in result
        if show and counts["lines"] % 100 == 0:
            progress.write(f"\r{verb} {counts['lines']} lines ({counts['errors']} errors)")
            progress.flush()
    if show:
        progress.write(f"\r{verb} {counts['lines']} lines ({counts['errors']} errors)\n")
    return counts
