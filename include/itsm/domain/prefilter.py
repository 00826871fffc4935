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

import re
import threading
from collections.abc import Iterator

try:
    import hyperscan
except ImportError:  # no wheel for this platform: every pattern is run
    hyperscan = None

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ASCII_LOOKALIKES = re.compile("[\u0130\u0131\u017f\u212a]")
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


def _scan_bytes(text: str) -> bytes | None:
    """The bytes Hyperscan scans for `text`, or None when the prefilter cannot judge it."""
    if text.isascii():
        return text.encode("ascii")
    if _ASCII_LOOKALIKES.search(text):
        return None
    return _NON_ASCII.sub(lambda run: "\x80" * len(run.group()), text).encode("latin-1")


class PatternSet:
    """Patterns applied to the same texts, registered once; `possible(id, text)` answers from one
    scan of `text`. One set per kind of text (raw markup, normalised ticket, lower-cased view)
    keeps each database, and so each scan, small."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, int], int] = {}
        self._patterns: list[re.Pattern[str]] = []
        self._lock = threading.Lock()
        self._database = None  # compiled lazily, again after new patterns are added
        self._always: frozenset[int] = frozenset()  # ids Hyperscan could not compile: always run
        self._local = threading.local()  # per thread: scratch space and remembered answers
        self._last: tuple = (None, None, None)  # the latest answer: (text, ids, database)

    def add(self, pattern: re.Pattern[str]) -> int:
        """The pattern's id (the same id for the same source and flags)."""
        key = (pattern.pattern, pattern.flags)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = len(self._patterns)
                self._patterns.append(pattern)
                self._database = None
            return self._ids[key]

    def guarded(self, source: str, flags: int = 0) -> Guarded:
        """The pattern compiled and registered in this set."""
        return Guarded(re.compile(source, flags), self)

    def possible(self, pattern_id: int, text: str) -> bool:
        last = self._last  # one tuple, read at once: safe across threads
        found = last[1] if last[0] is text and last[2] is self._database else self._found(text)
        return found is None or pattern_id in found

    def _found(self, text: str) -> frozenset[int] | None:
        """Ids that may match `text`; None when the prefilter cannot tell."""
        local = self._local
        database = self._database if self._database is not None else self._compile()
        if database is None:
            return None
        if getattr(local, "database", None) is not database:
            local.database, local.scratch, local.remembered = database, hyperscan.Scratch(database), []
        found = next((found for seen, found in local.remembered if seen is text), False)
        if found is False:
            found = self._scan(text, local.scratch, database)
            local.remembered.insert(0, (text, found))
            del local.remembered[_REMEMBERED:]
        self._last = (text, found, database)
        return found

    def _scan(self, text: str, scratch, database) -> frozenset[int] | None:
        data = _scan_bytes(text)
        if data is None:
            return None
        hits: set[int] = set(self._always)
        database.scan(data, match_event_handler=lambda pattern_id, *_: hits.add(pattern_id), scratch=scratch)
        return frozenset(hits)

    def _compile(self):
        if hyperscan is None:
            return None
        with self._lock:
            if self._database is None:
                patterns = dict(enumerate(self._patterns))
                always: frozenset[int] = frozenset()
                database = _database(patterns)
                if database is None:  # some pattern is not accepted: find which, run those always
                    always = frozenset(i for i, p in patterns.items() if _database({i: p}) is None)
                    database = _database({i: p for i, p in patterns.items() if i not in always})
                self._always, self._database = always, database
            return self._database

    def uncompiled(self) -> list[str]:
        """Sources of the patterns the prefilter cannot judge (they always run): for tests."""
        self._compile()
        return [self._patterns[i].pattern for i in sorted(self._always)]


def _database(patterns: dict[int, re.Pattern[str]]):
    """A block-mode database of `patterns` (id -> pattern), or None if Hyperscan rejects one."""
    database = hyperscan.Database()
    if not patterns:
        return database
    try:
        database.compile(
            expressions=[hyperscan_source(p.pattern).encode("latin-1") for p in patterns.values()],
            ids=list(patterns),
            elements=len(patterns),
            flags=[_hs_flags(p) for p in patterns.values()],
        )
    except hyperscan.error:
        return None
    return database


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

