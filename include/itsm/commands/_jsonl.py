"""The file plumbing `itsm triage` and `itsm scrub` share.

`-` is stdin/stdout. The input is read as bytes (a line that is not UTF-8 is one error line). A
file output is written to a temporary file in the output's folder and renamed into place when
the run ends, so a failed or interrupted run never leaves half an output over the previous one;
a symlinked output is replaced at its target, and an output that is not a regular file (a FIFO,
`/dev/null`) is written in place. The input and the output may not be the same file, whichever
path or link names it. Exit 1 when any line failed (the count is on stderr), 2 for a file error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from include.itsm.commands.exit_codes import CommandError, ExitCode


def add_io_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="input JSONL file, or - for stdin")
    parser.add_argument("--output", required=True, help="output JSONL file, or - for stdout")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stderr")


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: the same resolved path (symlinks), or the same inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[str]]:
    """A text sink whose content replaces `path` only when the block completes."""
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise CommandError(ExitCode.USAGE, f"--output {path}: is a directory")
    if target.exists() and not target.is_file():
        with open(target, "w", encoding="utf-8") as sink:
            yield sink
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise CommandError(ExitCode.USAGE, f"--output {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open_input(path: str, stack: contextlib.ExitStack) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(path, "rb"))
    except OSError as exc:
        raise CommandError(ExitCode.USAGE, f"--input {path}: {exc.strerror or exc}") from None


def run_on_files(
    args: argparse.Namespace, verb: str, process: Callable[[BinaryIO, IO[str]], dict], **summary_extra
) -> ExitCode:
    """Open --input/--output, run `process(source, sink)`, print the summary on stderr."""
    if "-" not in (args.input, args.output) and same_file(args.input, args.output):
        raise CommandError(
            ExitCode.USAGE, f"--output {args.output} is the same file as --input {args.input}: write to another file"
        )
    with contextlib.ExitStack() as stack:
        source = _open_input(args.input, stack)
        sink = sys.stdout if args.output == "-" else stack.enter_context(atomic_output(args.output))
        counts = process(source, sink)
    summary = {"input": args.input, "output": args.output, **summary_extra, **counts}
    print(
        json.dumps(summary) if args.json else f"{verb} {counts['lines']} lines, {counts['errors']} failed",
        file=sys.stderr,
    )
    return ExitCode.FAILED if counts["errors"] else ExitCode.OK
