r"""One pass over a ticket that tells which of many regular expressions cannot match it.

Triage runs about ninety pattern families over every ticket, and most of them match nothing in
a given ticket. Hyperscan (a multi-pattern engine, in C) compiles them all in prefilter mode
into one database and scans a text once: a family it does not report cannot match, so its
Python scan is skipped. Python's `re` still finds every match, so results are the same with or
without the engine; where hyperscan is not installed (it has no Linux ARM wheel), every family
is simply run.

Every step may only widen what Hyperscan reports, never narrow it:
- prefilter mode relaxes what Hyperscan cannot express (look-arounds, back-references);
- the text is scanned as bytes, each non-ASCII character replaced by the one byte 0x80 (offsets
  and lengths stay those of Python's characters), and every pattern element that could match a
  non-ASCII character in Python (\w, \d, \s, a non-ASCII literal) also accepts 0x80;
- `\b` is dropped (Python's Unicode word boundaries are not the bytes'), bounded repeats lose
  their upper bound (a smaller automaton, compiled in well under a second);
- the four non-ASCII characters Python's re.IGNORECASE equates with ASCII letters (dotted and
  dotless i, long s, Kelvin sign) turn the prefilter off for the text that holds them.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import platform
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import hyperscan
except ImportError:  # no wheel for this platform: every pattern is run
    hyperscan = None

_ASCII_LOOKALIKES = ("\u0130", "\u0131", "\u017f", "\u212a")
_TO_0X80 = "itsm-prefilter-0x80"  # a codec error handler: each character that has no byte becomes 0x80
codecs.register_error(_TO_0X80, lambda error: ("\x80" * (error.end - error.start), error.end))
_HIGH_AS_0X80 = bytes(range(128)) + b"\x80" * 128
_WIDEN = {"w": r"\w\x80", "d": r"\d\x80", "s": r"\s\x0b\x1c-\x1f\x80"}  # Python's \s also covers \x0b, \x1c-\x1f
_BOUNDED = re.compile(r"\{(\d+),\d+\}")
_FLAGS = ((re.IGNORECASE, "HS_FLAG_CASELESS"), (re.MULTILINE, "HS_FLAG_MULTILINE"), (re.DOTALL, "HS_FLAG_DOTALL"))
_REMEMBERED = 8  # texts whose answer is kept (a ticket's views are each asked about many times)


def hyperscan_source(source: str) -> str:
    """The widened Hyperscan form of a Python pattern (see the module docstring)."""
    out: list[str] = []
    in_class = negated = False
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            escape, i = source[i + 1], i + 2
            if escape in "bB" and not in_class:
                continue
            if escape in _WIDEN and not negated:
                out.append(_WIDEN[escape] if in_class else f"[{_WIDEN[escape]}]")
            else:
                out.append(char + escape)
            continue
        i += 1
        if in_class and char == "]" and out[-1] not in ("[", "[^"):
            in_class = negated = False
        elif not in_class and char == "[":
            in_class, negated = True, source[i : i + 1] == "^"
            if negated:
                out.append("[^")
                i += 1
                continue
        elif not char.isascii():
            if negated:
                continue  # a negated class that excludes fewer characters matches more
            char = r"\x80" if in_class else r"[\x80]"
        out.append(char)
    return _BOUNDED.sub(r"{\1,}", "".join(out))


_BYTES: list = []  # the last texts' bytes: a ticket's text is scanned by a PatternSet and a WordStarts
_BYTES_KEPT = 4  # a pasted log can be megabytes: keep few copies


def _scan_bytes(text: str) -> bytes | None:
    """The bytes Hyperscan scans for `text`, or None when the prefilter cannot judge it."""
    for seen, data in _BYTES:
        if seen is text:
            return data
    data = _encoded(text)
    _BYTES.insert(0, (text, data))
    del _BYTES[_BYTES_KEPT:]
    return data


def _encoded(text: str) -> bytes | None:
    if text.isascii():
        return text.encode("ascii")
    if any(char in text for char in _ASCII_LOOKALIKES):
        return None
    # In C: characters past latin-1 become 0x80 (the error handler is called once per run), then
    # bytes 0x81-0xff too.
    return text.encode("latin-1", _TO_0X80).translate(_HIGH_AS_0X80)


@dataclass(frozen=True)
class _Compiled:
    """What a set's prefilter can judge: patterns [0, covered) in `databases` (the first holds the
    patterns known at the first scan; a second, small one those added later, such as a policy's
    keyword lists, so adding one does not recompile the rest), except `always`."""

    databases: tuple = ()
    covered: int = 0
    first_covered: int = 0  # patterns in databases[0]
    always: frozenset[int] = frozenset()  # ids Hyperscan cannot compile: always run


class PatternSet:
    """Patterns applied to the same texts, registered once; `possible(id, text)` answers from one
    scan of `text`. One set per kind of text (normalised ticket, lower-cased view, classify's view)
    keeps each database, and so each scan, small."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, int], int] = {}
        self._patterns: list[re.Pattern[str]] = []
        self._lock = threading.Lock()
        self._compiled = _Compiled()
        self._local = threading.local()  # per thread: scratch spaces and remembered answers
        self._last: tuple = (None, None, None)  # the latest answer: (text, ids, compiled)

    def add(self, pattern: re.Pattern[str]) -> int:
        """The pattern's id (the same id for the same source and flags)."""
        key = (pattern.pattern, pattern.flags)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = len(self._patterns)
                self._patterns.append(pattern)
            return self._ids[key]

    def guarded(self, source: str, flags: int = 0) -> Guarded:
        """The pattern compiled and registered in this set."""
        return Guarded(re.compile(source, flags), self)

    def possible(self, pattern_id: int, text: str) -> bool:
        text_seen, found, compiled = self._last  # one tuple, read at once: safe across threads
        if text_seen is not text or compiled is not self._compiled or pattern_id >= compiled.covered:
            found = self._found(text)  # compiles the patterns added since, if any
        return found is None or pattern_id in found

    def possible_ids(self, text: str) -> frozenset[int] | None:
        """The ids of every pattern that may match `text` (None: all may), for a caller that asks
        about many patterns at once."""
        text_seen, found, compiled = self._last
        if text_seen is not text or compiled is not self._compiled or compiled.covered < len(self._patterns):
            found = self._found(text)
        return found

    def _found(self, text: str) -> frozenset[int] | None:
        """Ids that may match `text`; None when the prefilter cannot tell."""
        compiled = self._compile()
        if compiled is None:
            return None
        local = self._local
        if getattr(local, "compiled", None) is not compiled:
            scratches = getattr(local, "scratches", {})
            local.scratches = {db: scratches.get(db) or hyperscan.Scratch(db) for db in compiled.databases}
            local.compiled, local.remembered = compiled, []
        found = next((found for seen, found in local.remembered if seen is text), False)
        if found is False:
            found = _scan(text, compiled, local.scratches)
            local.remembered.insert(0, (text, found))
            del local.remembered[_REMEMBERED:]
        self._last = (text, found, compiled)
        return found

    def _compile(self) -> _Compiled | None:
        if hyperscan is None:
            return None
        compiled = self._compiled
        if compiled.covered == len(self._patterns):
            return compiled
        with self._lock:
            compiled, patterns = self._compiled, dict(enumerate(self._patterns))
            first = compiled.first_covered or len(patterns)
            groups = [
                {i: p for i, p in patterns.items() if i < first},
                {i: p for i, p in patterns.items() if i >= first},
            ]
            if compiled.databases:  # the first database stays; only the later patterns are compiled
                groups[0] = {}
            always, databases = set(compiled.always), list(compiled.databases[:1])
            for group in filter(None, groups):
                database = _database(group)
                if database is None:  # some pattern is not accepted: find which, run those always
                    always |= {i for i, p in group.items() if _database({i: p}) is None}
                    accepted = {i: p for i, p in group.items() if i not in always}
                    database = _database(accepted) if accepted else None  # none accepted: no database to scan
                if database is not None:
                    databases.append(database)
            self._compiled = _Compiled(tuple(databases), len(patterns), first, frozenset(always))
            return self._compiled

    def uncompiled(self) -> list[str]:
        """Sources of the patterns the prefilter cannot judge (they always run): for tests."""
        compiled = self._compile()
        return [self._patterns[i].pattern for i in sorted(compiled.always)] if compiled else []


def _scan(text: str, compiled: _Compiled, scratches: dict) -> frozenset[int] | None:
    data = _scan_bytes(text)
    if data is None:
        return None
    hits: set[int] = set(compiled.always)
    for database in compiled.databases:
        database.scan(
            data, match_event_handler=lambda pattern_id, *_: hits.add(pattern_id), scratch=scratches[database]
        )
    return frozenset(hits)


def _database(patterns: dict[int, re.Pattern[str]]):
    """A prefilter database of `patterns` (id -> pattern), or None if Hyperscan rejects one."""
    return _block_database(
        list(patterns), [p.pattern for p in patterns.values()], [_hs_flags(p) for p in patterns.values()]
    )


def _block_database(ids: list[int], sources: list[str], flags: list[int]):
    """A block-mode database of the Python `sources` (in their Hyperscan form), or None if
    Hyperscan rejects one.

    Compiling takes up to half a second, so a database is kept on disk, like a .pyc, under a name
    made of what it was compiled from: each Airflow task process then only loads it."""
    expressions = [hyperscan_source(source).encode("latin-1") for source in sources]
    key = hashlib.sha256(repr((hyperscan.__version__, platform.machine(), ids, expressions, flags)).encode())
    cached = _cache_dir() / f"{key.hexdigest()[:40]}.hsdb"
    try:
        database = hyperscan.loadb(cached.read_bytes(), hyperscan.HS_MODE_BLOCK)
        database.scan(
            b"", match_event_handler=lambda *_: None, scratch=hyperscan.Scratch(database)
        )  # this CPU can run it
        return database
    except (OSError, hyperscan.error):
        pass
    database = hyperscan.Database()
    try:
        database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
    except hyperscan.error:
        return None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        partial.write_bytes(hyperscan.dumpb(database))
        partial.replace(cached)  # whole or absent, whatever other processes do
    except OSError:
        pass  # a read-only home: compile again next time
    return database


def _cache_dir() -> Path:
    """`ITSM_PREFILTER_CACHE`, else ~/.cache/itsm/prefilter."""
    configured = os.environ.get("ITSM_PREFILTER_CACHE")
    if configured:
        return Path(configured)
    try:
        return Path.home() / ".cache" / "itsm" / "prefilter"
    except RuntimeError:  # no home directory (an unnamed container user): nothing can be kept
        return Path("/nonexistent/itsm-prefilter")


def _hs_flags(pattern: re.Pattern[str]) -> int:
    flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH
    for re_flag, hs_flag in _FLAGS:
        if pattern.flags & re_flag:
            flags |= getattr(hyperscan, hs_flag)
    return flags


class Guarded:
    """A compiled pattern whose scans of a whole text are skipped when the prefilter rules it out.

    A scan that stops before the end of the text (`endpos`) is always run: Python then treats
    `endpos` as the end of the string, where a look-ahead or `$` may match that would not match
    in the whole text."""

    __slots__ = ("pattern", "_id", "_set")

    @property
    def id(self) -> int:
        """The id its PatternSet judges it by (see PatternSet.possible_ids)."""
        return self._id

    def __init__(self, pattern: re.Pattern[str], patterns: PatternSet) -> None:
        self.pattern, self._set, self._id = pattern, patterns, patterns.add(pattern)

    def possible(self, text: str, endpos: int | None = None) -> bool:
        return (endpos is not None and endpos < len(text)) or self._set.possible(self._id, text)

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        if not self.possible(text, endpos):
            return None
        return self.pattern.search(text, pos) if endpos is None else self.pattern.search(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        if not self.possible(text, endpos):
            return iter(())
        return self.pattern.finditer(text, pos) if endpos is None else self.pattern.finditer(text, pos, endpos)

    def sub(self, repl, text: str) -> str:
        return self.pattern.sub(repl, text) if self.possible(text) else text


class WordStarts:
    """Where the words of many word lists (or other fixed-length anchors, `add_anchors`) can start
    in a text, from one exact Hyperscan scan.

    A caller that looks for whole words of several lists (the policy's service keywords, say)
    would otherwise scan the text once per list with `re`; with the positions a list's words can
    start at, it runs its own regex only there (`finditer`), which finds the same matches.
    Each word is registered as the part every match starts with (a boundary character, then the
    word up to its first space): a fixed length, so a match ending at `e` starts at `e - length`.
    The scan runs in Hyperscan's normal mode and so reports every such prefix; non-ASCII
    characters are widened as in `hyperscan_source`, so the positions can only be too many.
    `starts` is None where Hyperscan is missing or cannot judge the text (run the regex)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[tuple[str, int], ...], int] = {}
        self._expressions: list[tuple[int, str, int]] = []  # (list id, Python source, match length)
        self._lock = threading.Lock()
        self._database: tuple = (None, 0, 0)  # (database, expressions and lists it covers)
        self._local = threading.local()  # per thread: scratch space and the latest answer

    def add(self, words: tuple[str, ...], boundary: str) -> int:
        """Id of the list of lower-case `words`, each to be preceded by a character of class `boundary`."""
        prefixes = tuple(sorted({word.split(" ")[0] for word in words}))
        return self.add_anchors(tuple((f"[{boundary}]{re.escape(p)}", len(p) + 1) for p in prefixes))

    def add_anchors(self, anchors: tuple[tuple[str, int], ...]) -> int:
        """Id of a list of (Python source, length): a match of a source ending at `e` means the
        caller's pattern may match from `e - length` (the source may read characters before that,
        as a boundary). Every position the caller's pattern can match from must be reported."""
        with self._lock:
            if anchors not in self._lists:
                list_id = self._lists[anchors] = len(self._lists)
                self._expressions += [(list_id, source, length) for source, length in anchors]
            return self._lists[anchors]

    def starts(self, list_id: int, text: str) -> list[int] | None:
        """Sorted positions of `text` where a match of list `list_id` can start."""
        local = self._local
        seen, lists, covered = getattr(local, "last", (None, None, 0))
        if seen is not text or list_id >= covered:
            database, expression_count, covered = self._database
            if expression_count < len(self._expressions):
                database, _, covered = self._compile()
            lists = self._scan(database, text)
            local.last = (text, lists, covered)
        return None if lists is None else lists.get(list_id, [])

    def finditer(
        self, list_id: int, pattern: re.Pattern[str], text: str, pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        """What `pattern.finditer(text, pos, endpos)` finds, tried only at list `list_id`'s starts
        when the scan can judge `text` (`pattern`'s matches must start with one of its anchors)."""
        starts = self.starts(list_id, text)
        if starts is None:
            return pattern.finditer(text, pos, len(text) if endpos is None else endpos)
        return matches_at(pattern, text, starts, pos, endpos)

    def _scan(self, database, text: str) -> dict[int, list[int]] | None:
        data = _scan_bytes(text) if database is not None else None
        if data is None:
            return None
        local, expressions = self._local, self._expressions
        if getattr(local, "database", None) is not database:
            local.database, local.scratch = database, hyperscan.Scratch(database)
        found: dict[int, set[int]] = {}

        def on_match(expression: int, _start: int, end: int, *_) -> None:
            list_id, _, length = expressions[expression]
            found.setdefault(list_id, set()).add(end - length)

        database.scan(data, match_event_handler=on_match, scratch=local.scratch)
        return {list_id: sorted(starts) for list_id, starts in found.items()}

    def _compile(self) -> tuple:
        """Every list registered so far in one database (normal mode: every match), or None (every
        list is then scanned with `re`); kept on disk as the prefilter's are."""
        with self._lock:
            expressions = list(self._expressions)
            database = (
                None
                if hyperscan is None
                else _block_database(
                    list(range(len(expressions))), [source for _, source, _ in expressions], [0] * len(expressions)
                )
            )
            self._database = (database, len(expressions), len(self._lists))
            return self._database


def matches_at(
    pattern: re.Pattern[str], text: str, starts: list[int], pos: int = 0, endpos: int | None = None
) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text, pos, endpos)` finds, trying only `starts` (sorted, and holding
    every position a match can start at; `pattern` never matches the empty string)."""
    endpos = len(text) if endpos is None else endpos
    match, resume = pattern.match, pos
    for start in starts:
        if start > endpos:
            return
        found = match(text, start, endpos) if start >= resume else None
        if found:
            yield found
            resume = found.end()
