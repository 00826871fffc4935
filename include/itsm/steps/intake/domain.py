"""Step 1, intake: pull service type, environment, account ids and resource ids out of a ticket.

Every value carries the span of text that supports it, so a reviewer can check it and the
quality gate can say why something is missing. Ticket text is data, never instructions:
prompt-injection lines and quoted e-mail history are masked out of the primary text (history
is only a fallback), and every regular expression is linear so a pasted 10 MB log is cheap.
"""

from __future__ import annotations

import bisect
import html
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel

from include.itsm.core.adf import to_plain_text
from include.itsm.core.artifact import Artifact
from include.itsm.core.policy import (
    FAILURE_NOUN,
    MODIFIER,
    BusinessService,
    CauseRules,
    CueSet,
    Policy,
    ServiceCatalogue,
    ServiceType,
)
from include.itsm.core.ticket import Ticket
from include.itsm.textscan.prefilter import Guarded, PatternSet, WordStarts

QUOTE_LIMIT = 120  # characters of supporting text kept per span


class Span(BaseModel):
    """Offsets into the normalised ticket text (summary, newline, description) and the quote."""

    start: int
    end: int
    quote: str


class Extracted(BaseModel):
    value: str
    kind: str  # account, instance, volume, arn, rds, s3-bucket, iam-role, ...
    span: Span
    quoted_history: bool = False  # found only in quoted e-mail history


class Rejected(BaseModel):
    """A candidate that looked like an id but was not taken, and why."""

    value: str
    reason: str
    span: Span


class GateItem(BaseModel):
    item: str
    ok: bool
    detail: str


class IntakeResult(BaseModel):
    service: str | None = None
    service_span: Span | None = None
    service_why: str | None = None  # how the service was chosen (the label review shows it)
    environment: str | None = None
    environment_span: Span | None = None
    business_service: str | None = None  # the service catalogue's entry the ticket names, if any
    account_ids: list[Extracted] = []
    resource_ids: list[Extracted] = []
    rejected: list[Rejected] = []
    gate: list[GateItem] = []

    @property
    def gate_passed(self) -> bool:
        return all(item.ok for item in self.gate)

    @property
    def account_values(self) -> list[str]:
        return [a.value for a in self.account_ids]

    @property
    def resource_values(self) -> list[str]:
        return [r.value for r in self.resource_ids]


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class TicketText:
    """The normalised text (summary, newline, description) and where its parts come from.

    Text before `history_from` that is not in a `quoted` range is what the reporter wrote
    now; quoted e-mail history is a fallback; `ignored` ranges (lines that try to instruct
    the system) are read by nothing. Ranges, not copies, keep a 10 MB paste cheap.
    """

    text: str
    summary_end: int
    history_from: int
    quoted: tuple[tuple[int, int], ...]
    ignored: tuple[tuple[int, int], ...]

    def region(self, pos: int) -> str | None:
        """`primary`, `history` or None (ignored) for a position in `text`."""
        if _in_ranges(self.ignored, pos):
            return None
        return "history" if pos >= self.history_from or _in_ranges(self.quoted, pos) else "primary"

    def view(self, region: str, limit: int | None = None) -> str:
        """`text` with everything outside `region` blanked (offsets unchanged), first `limit` chars."""
        views = self.__dict__.setdefault("_views", {})  # memo: intake and classify read the same views
        key = (region, limit)
        if key not in views:
            views[key] = self._view(region, limit)
        return views[key]

    @property
    def has_history(self) -> bool:
        """Whether the history view can hold anything: most tickets quote no history."""
        return self.history_from < len(self.text) or bool(self.quoted)

    def _view(self, region: str, limit: int | None) -> str:
        end = len(self.text) if limit is None else min(limit, len(self.text))
        if self.history_from >= end and not self.quoted and not self.ignored:  # nothing to blank: no pieces to join
            return self.text[:end] if region == "primary" else " " * end
        return self._blanked(region, end)

    def _blanked(self, region: str, end: int) -> str:
        keep = [(0, self.history_from)] if region == "primary" else [(self.history_from, len(self.text)), *self.quoted]
        drop = [*self.ignored, *(self.quoted if region == "primary" else ())]
        pieces, cursor = [], 0
        for start, stop in _spans_of(keep, drop, end):
            pieces.append(" " * (start - cursor))
            pieces.append(self.text[start:stop])
            cursor = stop
        pieces.append(" " * (end - cursor))
        return "".join(pieces)


def _in_ranges(ranges: tuple[tuple[int, int], ...], pos: int) -> bool:
    index = bisect.bisect_right(ranges, (pos, sys.maxsize)) - 1
    return index >= 0 and ranges[index][0] <= pos < ranges[index][1]


def _spans_of(keep: list[tuple[int, int]], drop: list[tuple[int, int]], end: int) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans covered by `keep` minus `drop`, cut at `end`."""
    events = sorted(
        [(a, 0, 1) for a, _ in keep]
        + [(b, 0, -1) for _, b in keep]
        + [(a, 1, 1) for a, _ in drop]
        + [(b, 1, -1) for _, b in drop]
    )
    spans, depth, cursor = [], [0, 0], 0
    for pos, kind, step in events:
        pos = min(pos, end)
        if depth[0] > 0 and depth[1] == 0 and pos > cursor:
            spans.append((cursor, pos))
        depth[kind] += step
        cursor = pos
    return spans


# Prefilters (include/itsm/textscan/prefilter.py), one per kind of text the patterns read.
_TEXT = PatternSet()  # the normalised ticket text
WORDS = PatternSet()  # lower-cased views (WordScan)
WORD_STARTS = WordStarts()  # lower-cased views, for WordScans of literal word lists

# Markup is not prefiltered: each replacement that changes the text would cost a Hyperscan scan
# of the new text, while these patterns start with a literal the engine finds at C speed (or are
# run only when a string every match holds is present).
_QUOTE_MARK = "-----Original Message-----"
_HTML_HINT = re.compile(r"<(?:p|br|div|span|html|body|table|td|li|blockquote|b|i|a)\b", re.I)
_HTML_DROP = re.compile(r"<(script|style)\b[^>]{0,500}>.{0,100000}?</\1\s*>", re.I | re.S)
_HTML_BLOCKQUOTE = re.compile(r"<blockquote\b[^>]{0,500}>", re.I)
_HTML_BREAK = re.compile(r"<(?:br|/p|/div|/li|/tr|/h\d|p|div|li|tr)\b[^>]{0,500}>", re.I)
_HTML_CELL = re.compile(r"</?t[dh]\b[^>]{0,500}>", re.I)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_WIKI_QUOTE = re.compile(r"\{quote\}|^bq\. ", re.M)  # run only where "{quote}" or "bq. " stands
_WIKI_MACRO = re.compile(r"\{(?:code|noformat|panel|color|quote)(?::[^}\n]{0,300})?\}")
_WIKI_LINK = re.compile(r"\[([^|\]\n]{0,300})\|([^\]\n]{0,2000})\]")
_WIKI_HEADING = re.compile(r"h(?<![^\n]h)[1-6]\. ")  # `^h[1-6]\. ` (multi-line) with the literal first
# A history header starts a line: the newline before it comes first in the pattern, a literal
# the engine skips to (a leading `^` would be tried at every position).
_HISTORY_START = _TEXT.guarded(
    r"\n\s*(?:-{2,}\s*Original Message\s*-{2,}"
    r"|On\b.{1,300}\bwrote:\s*$"
    r"|From:\s.{1,300}\n\s*(?:Sent|Date):"  # `.` stops at the line's end: the header's next line
    r"|_{20,}\s*$)",
    re.I | re.M,
)
# Run only where a `>` stands (see _ticket_text), not prefiltered: Hyperscan 0.9.1 misses this
# pattern on a last line `>` after a long line, whatever the database around it.
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$", re.M)
# Lines that address the system instead of describing a problem. Each pattern starts with a
# look-ahead on its possible first letters: the engine then skips most positions at C speed.
_INJECTION = _TEXT.guarded(
    r"(?=[idfoyscmlp])(?:\b(?:ignore|disregard|forget|override)\b.{0,60}?\b(?:previous|prior|above|earlier|all|any|your)\b"
    r".{0,40}?\b(?:instructions?|prompts?|rules?|guidelines?)\b"
    r"|\byou are now\b|\bsystem prompt\b"
    r"|\b(?:set|mark|classify|change|label|make)\b.{0,40}?\b(?:priority|ticket|this|rca|severity|labels?)\b.{0,30}?"
    r"\b(?:to|as)\b\s*[`'\"]?(?:p[0-4]|incident|problem|change|service|human|code|config|infra|3rd|standard|emergency))",
    re.I,
)
_ROLE_PLAY = _TEXT.guarded(r"^[ \t]*(?:system|assistant)[ \t]*:", re.I | re.M)


def _line_around(text: str, start: int, end: int) -> tuple[int, int]:
    line_end = text.find("\n", end)
    return text.rfind("\n", 0, start) + 1, len(text) if line_end < 0 else line_end


def _adf_or_text(ticket: Ticket) -> str:
    if ticket.description.strip() or not ticket.description_adf:
        return ticket.description
    return to_plain_text(ticket.description_adf)


def _normalise(raw: str) -> str:
    """Plain text from wiki markup or HTML; quoted blocks become an e-mail history marker.

    A step is skipped when a string every match holds is absent: `in` (a memchr for one
    character) is far cheaper than the regex engine's walk over the text."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n") if "\r" in raw else raw
    if _HTML_HINT.search(text):
        text = _HTML_DROP.sub(" ", text)
        text = _HTML_BLOCKQUOTE.sub(f"\n{_QUOTE_MARK}\n", text)
        text = _HTML_BREAK.sub("\n", text)
        text = _HTML_CELL.sub(" | ", text)
        text = _HTML_TAG.sub(" ", text)
        text = html.unescape(text)
    if "{quote}" in text or "bq. " in text:
        text = _WIKI_QUOTE.sub(f"\n{_QUOTE_MARK}\n", text)
    if "{" in text:
        text = _WIKI_MACRO.sub(" ", text)
    if "|" in text:
        text = _WIKI_LINK.sub(r"\1 \2", text)
    text = _WIKI_HEADING.sub("", text)
    if "{" in text or "}" in text:  # monospace marks become spaces: what `\{\{|\}\}` would do, faster
        text = text.replace("{{", " ").replace("}}", " ")
    return text.replace("\u00a0", " ")


_LAST_TEXT: list = [None, None, None]  # (summary, description) of the last ticket read, and its TicketText


def ticket_text(ticket: Ticket) -> TicketText:
    """Normalise the ticket and find its quoted history and injection lines.

    Intake and classify both read the same ticket: the last result is reused when the ticket's
    summary and description are the very same strings (ADF-only descriptions are not cached)."""
    summary, description = ticket.summary, ticket.description
    if _LAST_TEXT[0] is summary and _LAST_TEXT[1] is description and _LAST_TEXT[2] is not None:
        return _LAST_TEXT[2]
    result = _ticket_text(ticket)
    cacheable = (
        type(summary) is str and type(description) is str and (description.strip() or not ticket.description_adf)
    )
    _LAST_TEXT[:] = [summary, description, result] if cacheable else [None, None, None]
    return result


def _ticket_text(ticket: Ticket) -> TicketText:
    summary = _normalise(ticket.summary).replace("\n", " ")
    text = f"{summary}\n{_normalise(_adf_or_text(ticket))}"
    body = len(summary) + 1
    first = _HISTORY_START.search(text, body - 1)  # from the summary's newline: the body's first line counts
    history_from = first.start() + 1 if first else len(text)
    # Every quoted line holds a `>`: without one the scan (whose `^` is tried at each position) is skipped.
    quoted = (
        tuple(m.span() for m in _QUOTED_LINE.finditer(text, body, history_from))
        if text.find(">", body, history_from) >= 0
        else ()
    )
    ignored = tuple(sorted({_line_around(text, *m.span()) for p in (_INJECTION, _ROLE_PLAY) for m in p.finditer(text)}))
    return TicketText(text=text, summary_end=len(summary), history_from=history_from, quoted=quoted, ignored=ignored)


def span(text: str, start: int, end: int) -> Span:
    return Span(start=start, end=end, quote=text[start:end][:QUOTE_LIMIT])


# --------------------------------------------------------------------------- fast word scans


class Hit:
    """A match of `WordScan`, with offsets into the caller's (original-case) text."""

    __slots__ = ("_start", "_end", "_text")

    def __init__(self, start: int, end: int, text: str) -> None:
        self._start, self._end, self._text = start, end, text

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def group(self) -> str:
        return self._text[self._start : self._end]


_LOWERED: list = []  # the last few texts lower-cased (with a leading space), for repeated scans
_LOWERED_SLOTS = 4


def _lowered(text: str) -> str | None:
    for seen, low in _LOWERED:
        if seen is text:
            return low
    low = " " + text.lower()
    low = low if len(low) == len(text) + 1 else None
    _LOWERED.insert(0, (text, low))
    del _LOWERED[_LOWERED_SLOTS:]
    return low


def _structure(pattern: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth after it) for each character outside escapes and classes."""
    depth, in_class, escaped = 0, False, False
    for i, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += (char == "(") - (char == ")")
            yield i, char, depth


def _split_alternatives(alternatives: str) -> list[str]:
    """Top-level `|` alternatives of a pattern (not inside groups or classes)."""
    cuts = [i for i, char, depth in _structure(alternatives) if char == "|" and depth == 0]
    return [alternatives[start + 1 : end] for start, end in zip([-1, *cuts], [*cuts, len(alternatives)])]


def _group_end(part: str) -> int:
    """Index of the parenthesis closing the group `part` starts with (-1 if unbalanced)."""
    return next((i for i, _, depth in _structure(part) if depth == 0), -1)


DISTRIBUTED_LIMIT = 4_000  # characters a part may grow to when distributed: past it, it stays whole


def _distributed(part: str) -> list[str]:
    """`(?:a|b)c` as `ac`, `bc`: the same tries in the same order, each with a literal first letter.

    A part that would grow past DISTRIBUTED_LIMIT (a cue list of nouns times a list of failure
    words) stays whole: its regex would be too large for Hyperscan and slower to compile."""
    end = _group_end(part) if part.startswith("(?:") else -1
    if end < 0 or part[end + 1 : end + 2] in ("?", "*", "+", "{"):
        return [part]
    wholes = [whole for inner in _split_alternatives(part[3:end]) for whole in _distributed(inner + part[end + 1 :])]
    return wholes if sum(map(len, wholes)) <= DISTRIBUTED_LIMIT else [part]


def _first_letters(part: str) -> str | None:
    """The letters every match of `part` starts with, or None when that cannot be read off it."""
    if part.startswith("(?:"):
        end = _group_end(part)
        if end < 0 or part[end + 1 : end + 2] in ("?", "*", "{"):
            return None
        letters = [_first_letters(inner) for inner in _split_alternatives(part[3:end])]
        return None if None in letters else "".join(sorted(set("".join(letters))))
    if len(part) > 1 and part[0] not in "\\()[]{}?*+|.^$" and part[1] not in "?*{":
        return part[0]
    return None


def _by_first_letter(alternatives: list[str], depth: int = 3) -> tuple[str, str | None]:
    """The alternatives as a trie on their leading letters (`a(?:lt1|lt2)|b(?:...)`), and the set
    of letters every match starts with (None when some alternative does not start with one).

    The engine then rejects most alternatives with one comparison instead of trying each. Only
    alternatives that start with different letters change order, and those cannot both match at
    one position, so the first match is the same as the plain alternation's."""
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for part in alternatives:
        if len(part) > 1 and part[0] not in "\\()[]{}?*+|.^$" and part[1] not in "?*+{":
            groups.setdefault(part[0], []).append(part[1:])
        else:
            rest.append(part)
    grouped = []
    for letter, tails in groups.items():
        if depth > 1 and len(tails) > 1:
            tails = [_by_first_letter(tails, depth - 1)[0]]
        grouped.append(f"{letter}(?:{'|'.join(tails)})" if len(tails) > 1 or "|" in tails[0] else letter + tails[0])
    rest_letters = [_first_letters(part) for part in rest]
    first = (
        "".join(groups) + "".join(sorted(set("".join(rest_letters)) - set(groups)))
        if None not in rest_letters
        else None
    )
    return "|".join(grouped + rest), first


class WordScan:
    """Case-insensitive whole-word alternatives, linear and fast.

    The scan runs on the lower-cased text with the pattern starting at the boundary character
    (`[^a-z0-9]`), a character class the regex engine can skip to at C speed; a look-behind
    start (the obvious way to write it) makes the engine try every alternative at every
    position. Alternatives must be written in lower case. Falls back to a case-insensitive
    scan when lower-casing would change the text's length (offsets must stay true).
    """

    def __init__(
        self,
        alternatives: str,
        left: str = "a-z0-9",
        right: str = "a-z0-9",
        words: tuple[str, ...] = (),
        prefiltered: bool = True,
    ) -> None:
        """`words`, if given, are the literal words `alternatives` is made of (a space standing
        for any whitespace, optional suffixes after them): the scan then only tries the positions
        `WORD_STARTS` reports for them. `prefiltered=False`: a scan only ever run over part of a
        text (which the prefilter cannot judge) stays out of the WORDS prefilter."""
        regex = re.compile(self.source(alternatives, left, right))
        # Rare texts (lower-casing changes their length) use a case-insensitive form, compiled
        # when first needed: a process that never meets one does not pay for it.
        self._slow_source = rf"(?<![{left}])((?:{alternatives}))(?![{right}])"
        self._words = WORD_STARTS.add(words, f"^{left}") if words else None
        # A word list runs only at the starts WORD_STARTS reports, or (Hyperscan missing or unable
        # to judge the text) everywhere: in the WORDS prefilter it would only cost a scan.
        self.pattern: re.Pattern[str] | Guarded = regex if words or not prefiltered else Guarded(regex, WORDS)

    @property
    def _slow(self) -> re.Pattern[str]:
        return re.compile(self._slow_source, re.I)  # re's own cache keeps it after the first call

    @staticmethod
    def source(alternatives: str, left: str = "a-z0-9", right: str = "a-z0-9") -> str:
        """The regex a scan of `alternatives` runs on the lower-cased text (nothing registered)."""
        if re.search(r"(?<!\\)[A-Z]", alternatives.replace("\\", "")):
            raise ValueError(f"WordScan alternatives must be lower case: {alternatives[:60]!r}")
        parts = [whole for part in _split_alternatives(alternatives) for whole in _distributed(part)]
        trie, first = _by_first_letter(parts)
        ahead = f"(?=[{re.escape(first)}])" if first else ""  # one test rejects most boundaries
        return rf"[^{left}]{ahead}((?:{trie}))(?![{right}])"

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[Hit]:
        endpos = len(text) if endpos is None else min(endpos, len(text))
        low = _lowered(text)
        if low is None:
            for m in self._slow.finditer(text, pos, endpos):
                yield Hit(m.start(1), m.end(1), text)
            return
        for m in self._matches(low, pos, endpos):
            yield Hit(m.start(1) - 1, m.end(1) - 1, text)

    def spans(self, text: str, pos: int = 0, endpos: int | None = None) -> list[tuple[int, int]]:
        """The (start, end) of every match `finditer` finds, without a Hit each: for scans whose
        many matches only need their place."""
        endpos = len(text) if endpos is None else min(endpos, len(text))
        low = _lowered(text)
        if low is None:
            return [m.span(1) for m in self._slow.finditer(text, pos, endpos)]
        return [(m.start(1) - 1, m.end(1) - 1) for m in self._matches(low, pos, endpos)]

    def _matches(self, low: str, pos: int, endpos: int) -> Iterator[re.Match[str]]:
        if self._words is None:
            return self.pattern.finditer(low, pos, endpos + 1)
        return WORD_STARTS.finditer(self._words, self.pattern, low, pos, endpos + 1)

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> Hit | None:
        return next(self.finditer(text, pos, endpos), None)


# --------------------------------------------------------------------------- cause clauses


@dataclass(frozen=True, slots=True)
class CauseClause:
    """Text a connective points at: the cause after "due to", before "caused", under "Root cause:".

    `start`..`end` is the clause, `anchor`..`anchor_end` the connective; `backward` clauses (the
    cause before the connective) are read from their end, the others from their start."""

    start: int
    end: int
    anchor: int
    anchor_end: int
    backward: bool
    hedged: bool = False  # "may be due to ...", "whether it was caused by ...": states nothing

    def distance(self, start: int, end: int) -> int:
        """How far a cue at [start, end) stands from the connective (the nearest cue names the cause)."""
        return self.end - end if self.backward else start - self.start


CLAUSE_REACH = 250  # characters a clause reaches from its connective, within its sentence
HEADING_REACH = 600  # a heading's clause is the paragraph under it
_SENTENCE_END = re.compile(r"[.!?](?=[\s\"')\]]|$)|\n")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")
_LEADING_SPACE = re.compile(r"\s*")
# A connective after these words states nothing: "may be due to", "is not caused by", "likely due to".
_CONNECTIVE_HEDGE = re.compile(
    r"(?:\b(?:not|never|possibly|probably|perhaps|potentially|likely|allegedly|presumably|apparently)|n't"
    r"|\b(?:may|might|could|would)(?: also| have| be| been| possibly| partly| partially| all)*"
    r"|\b(?:suspected|believed|thought|appears?|seems?|assumed|expected) (?:to )?(?:be|have been)(?: \w+)?)\s*$",
    re.I,
)
# ... nor one asked about, guessed at or guarded against: "investigating whether this was caused
# by", "which we believe have been caused by", "to reduce the risk of host upgrades leading to".
_CONNECTIVE_OPEN = re.compile(
    r"\b(?:whether|if|unless|to (?:determine|identify|understand|confirm|find out|see|check|establish|learn)"
    r" (?:if|whether|what|why|how)|prevent\w*|avoid\w*|reduce (?:the )?(?:risk|chance|likelihood|impact)"
    r"|protect\w* against|guard\w* against|in case|(?:we|i) (?:believe|think|suspect|assume|guess))\b[^.!?\n]{0,80}$",
    re.I,
)
# An after-clause ends where a new statement starts after a comma: "As a result of this issue, some
# users may be unable to deploy" blames only "this issue".
_CLAUSE_BREAK = re.compile(
    r",\s+(?=(?:we|our|some|customers?|users?|this|it|they|the|all|many|most|there|and|but|so|while|resulting"
    r"|causing|leading|impacting|affecting)\b)",
    re.I,
)


@dataclass(frozen=True)
class _ConnectiveScans:
    scan: WordScan
    kinds: tuple[tuple[str, re.Pattern[str]], ...]  # ("after" | "before" | "heading", the group's own regex)


class _BuiltFor:
    """What is built from a policy model (compiled scans), found by the model's identity first and,
    for an equal model (a new Policy() per call), by its value: hashing a model walks all its
    fields, an identity lookup does not."""

    def __init__(self, build, size: int = 16) -> None:
        self._build, self._size = build, size
        self._by_id: dict[int, tuple[object, object]] = {}  # holds the model: its id stays its own
        self._by_value: dict[object, object] = {}

    def __call__(self, model):
        hit = self._by_id.get(id(model))
        if hit is not None and hit[0] is model:
            return hit[1]
        built = self._by_value.get(model)
        if built is None:
            built = self._build(model)
            if len(self._by_value) >= self._size:
                self._by_value.clear()
            self._by_value[model] = built
        if len(self._by_id) >= self._size:
            self._by_id.clear()
        self._by_id[id(model)] = (model, built)
        return built


def spaced(pattern: str) -> str:
    """A cue or connective pattern with each space standing for any run of whitespace."""
    return pattern.replace(" ", r"\s+")


def _build_connective_scans(rules: CauseRules) -> _ConnectiveScans:
    groups = (("after", rules.after), ("before", rules.before), ("heading", rules.headings))
    scans = _ConnectiveScans(
        scan=WordScan(
            "|".join(spaced(p) for _, patterns in groups for p in patterns), left="a-z0-9_-", right="a-z0-9_"
        ),
        kinds=tuple(
            (kind, re.compile("(?:" + "|".join(spaced(p) for p in patterns) + r")(?![a-z0-9_])", re.I))
            for kind, patterns in groups
        ),
    )
    return scans


_connective_scans = _BuiltFor(_build_connective_scans)


def _sentence_start(text: str, pos: int, reach: int) -> int:
    floor = max(0, pos - reach)
    last = floor
    for match in _SENTENCE_END.finditer(text, floor, pos):
        last = match.end()
    return last


def _sentence_end(text: str, pos: int, reach: int) -> int:
    match = _SENTENCE_END.search(text, pos, pos + reach)
    return match.start() if match else min(len(text), pos + reach)


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence that holds [start, end), at most CLAUSE_REACH characters either side."""
    return _sentence_start(text, start, CLAUSE_REACH), _sentence_end(text, end, CLAUSE_REACH)


_CLAUSES: list = []  # (text, rules, clauses) of the last texts: intake and classify ask alike


def cause_clauses(text: str, rules: CauseRules) -> tuple[CauseClause, ...]:
    """The cause clauses of `text` in order; those of hedged and asked-about connectives are
    marked `hedged` (their cues state nothing, wherever else they stand)."""
    clauses = next((answer for seen, seen_rules, answer in _CLAUSES if seen is text and seen_rules is rules), None)
    if clauses is None:
        clauses = _cause_clauses(text, rules)
        _CLAUSES.insert(0, (text, rules, clauses))
        del _CLAUSES[_CAUSES_KEPT:]
    return clauses


def _cause_clauses(text: str, rules: CauseRules) -> tuple[CauseClause, ...]:
    scans = _connective_scans(rules)
    clauses = []
    for hit in scans.scan.finditer(text):
        start, end = hit.span()
        kind = next((kind for kind, regex in scans.kinds if regex.match(text, start)), "after")
        sentence_end = _sentence_end(text, end, CLAUSE_REACH)
        hedge = None
        if kind != "heading":
            floor = max(0, start - 80)
            hedge = _CONNECTIVE_HEDGE.search(text, floor, start) or _CONNECTIVE_OPEN.search(text, floor, start)
        question = kind != "heading" and text.startswith("?", sentence_end)  # a question states nothing
        hedged = hedge is not None or question
        if kind == "after":
            cut = _CLAUSE_BREAK.search(text, end, sentence_end)
            clauses.append(CauseClause(end, cut.start() if cut else sentence_end, start, end, False, hedged))
        elif kind == "before":
            # "The database was shut down, as we discussed if the cluster could be causing it": only
            # the words from the hedge on are in doubt.
            begin = _sentence_start(text, start, CLAUSE_REACH)
            begin = max(begin, hedge.start()) if hedge is not None and not question else begin
            clauses.append(CauseClause(begin, start, start, end, True, hedged))
        else:
            body = _LEADING_SPACE.match(text, end).end()
            stop = _PARAGRAPH_END.search(text, body, body + HEADING_REACH)
            clauses.append(
                CauseClause(body, stop.start() if stop else min(len(text), body + HEADING_REACH), start, end, False)
            )
    return tuple(clauses)


# --------------------------------------------------------------------------- stated cause

# A cue after these words, in its sentence, is hedged, negated or asked about: "maybe a bug?",
# "not a config issue", "check for drift".
HEDGE_BEFORE = re.compile(
    r"(?=[nrwumpcsioal])(?:\bnot|\bno|n't|\brule[ds]? out|\bunlikely|\bwhether|\bmight|\bmaybe|\bpossibl[ey]|\bcould (?:it )?be|\bsuspect\w*|\bperhaps"
    r"|\bif\b|\bunsure|\bunknown|\bor\b|\bcheck(?:ing)? for|\bprevent|\bavoid|\blooking for|\bany)\b[^.!?\n]{0,40}$",
    re.I,
)
SENTENCE_END = re.compile(r"[.!?\n]")
# Negation just before a cue inside a cause clause ("due to a change, not a bug"); outside a clause
# the wider HEDGE_BEFORE applies.
_NEGATED_CUE = re.compile(r"(?=[nw])(?:\bnot|\bno|\bnever|\bwithout|n't)\s+(?:[\w-]+\s+)?$", re.I)
# "Slack normally deploys software and configuration changes": what usually happens is no cause.
_HABITUAL = re.compile(
    r"(?=[nutrg])\b(?:normally|usually|typically|routinely|generally|regularly)\b[^.!?\n]{0,60}$", re.I
)
# Words about a report, not a cause: "Describe the bug", "a bug fix", "bug report", and a form
# field ("labels: bug", "name: Bug report") at the start of the cue's line.
_META_BEFORE = re.compile(
    r"(?=[drfo])\b(?:describe the|report(?:ed|ing)? (?:a|the|this)|fil(?:e|ed|ing) (?:a|the)|open(?:ed)? (?:a|the))\s*$",
    re.I,
)
_META_FIELD = re.compile(r"[ \t>*#-]*(?:labels?|name|title|type)[ \t]*:", re.I)
_META_AFTER = re.compile(r"[ \t]*(?:reports?|trackers?|bount(?:y|ies)|fix(?:es|ed)?\b|/)", re.I)


CUE_LEFT, CUE_RIGHT = "a-z0-9_-", "a-z0-9_"  # ASCII boundaries: CJK cues match inside CJK text


def cue_scan(*alternatives: str, prefiltered: bool = True) -> WordScan:
    """Whole-word alternatives (lower case); boundaries are ASCII so CJK cues match inside CJK text."""
    return WordScan("|".join(alternatives), left=CUE_LEFT, right=CUE_RIGHT, prefiltered=prefiltered)


@dataclass(frozen=True, slots=True)
class _Cue:
    """A cue found in the text: its category, whether it is a fallback cue, where it stands."""

    category: str
    fallback: bool
    start: int
    end: int
    party_outranks: bool = True


@dataclass(frozen=True)
class _CueScans:
    """Each group: its sets (with each set's own regex, to tell a hit's set) and one scan of them all."""

    anywhere: tuple[tuple[tuple[tuple[CueSet, re.Pattern[str]], ...], WordScan], ...]  # state a cause anywhere
    clause: tuple[tuple[tuple[tuple[CueSet, re.Pattern[str]], ...], WordScan], ...]  # inside a cause clause only


def _provider_cue_sets(rules: CauseRules) -> list[CueSet]:
    """The named providers' failures, 3rd-party and weaker than any other cue. A publisher names
    itself too ("the Cloudflare outage"), so a bare name and failure counts inside a cause clause
    only; anywhere else, only where the text puts the failure on that party ("AWS is down", "an
    outage at Let's Encrypt", "Okta's outage")."""
    if not rules.provider_names:
        return []
    names = "(?:" + "|".join(re.escape(name.lower()).replace("\\ ", " ") for name in rules.provider_names) + ")"
    return [
        CueSet(
            category="3rd-party",
            fallback=True,
            patterns=(
                rf"{names}(?:'s|’s) (?:{MODIFIER} ){{0,2}}?{FAILURE_NOUN}",
                rf"{FAILURE_NOUN} (?:reported |confirmed |experienced |happening )?(?:at|with|of|from|on|by) {names}",
                rf"{names} (?:is|was|were|are|has been|had been) (?:currently )?(?:down|experiencing (?:an? )?"
                rf"(?:{MODIFIER} )?{FAILURE_NOUN})",
                rf"{names} status (?:page )?(?:confirms|confirmed|shows|showed|reports|reported)",
                rf"on {names}(?:'s|’s)? side",
            ),
        ),
        CueSet(
            category="3rd-party",
            fallback=True,
            clause_only=True,
            patterns=(
                rf"{names}(?:'s|’s)? (?:{MODIFIER} ){{0,2}}?{FAILURE_NOUN}",
                rf"{FAILURE_NOUN} (?:reported |confirmed |experienced |happening )?(?:at|with|of|from|on|in|by)"
                rf" (?:{MODIFIER} )?{names}",
                rf"{names} (?:is|was|were|are|has been|had been) (?:currently )?(?:down|experiencing|investigating|reporting)",
            ),
        ),
    ]


def _build_cue_scans(rules: CauseRules) -> _CueScans:
    sets = [*rules.cue_sets, *_provider_cue_sets(rules)]
    scans = _CueScans(
        anywhere=_grouped([s for s in sets if not s.clause_only], prefiltered=True),
        clause=_grouped([s for s in sets if s.clause_only], prefiltered=False),  # run over clauses only
    )
    return scans


_cue_scans = _BuiltFor(_build_cue_scans)


_BEFORE: dict[str | None, re.Pattern[str] | None] = {}  # CueSet.before -> its compiled form
BEFORE_REACH = 80  # characters before a cue its set's `before` is read in
CUE_GROUP_LIMIT = 8_000  # characters of regex per cue scan: Hyperscan refuses patterns not much larger


def _grouped(sets: list[CueSet], prefiltered: bool) -> tuple:
    """The sets in as few scans as stay under CUE_GROUP_LIMIT: each scan call costs its setup
    and prefilter check, most tickets match none of them."""
    groups: list[list[tuple[CueSet, re.Pattern[str], int]]] = []
    for cue_set in sets:
        alternatives = [spaced(p) for p in cue_set.patterns]
        size = len(WordScan.source("|".join(alternatives), CUE_LEFT, CUE_RIGHT))
        own = re.compile("(?:" + "|".join(alternatives) + r")(?![a-z0-9_])", re.I)
        _BEFORE.setdefault(cue_set.before, re.compile(f"(?:{cue_set.before})\\s*$", re.I) if cue_set.before else None)
        if groups and sum(member[2] for member in groups[-1]) + size <= CUE_GROUP_LIMIT:
            groups[-1].append((cue_set, own, size))
        else:
            groups.append([(cue_set, own, size)])
    return tuple(
        (
            tuple((cue_set, own) for cue_set, own, _ in group),
            cue_scan(*(spaced(p) for cue_set, _, _ in group for p in cue_set.patterns), prefiltered=prefiltered),
        )
        for group in groups
    )


def _cues(scans: tuple, text: str, pos: int = 0, endpos: int | None = None) -> list[_Cue]:
    cues = []
    low = _lowered(text) if endpos is None else None
    ids = WORDS.possible_ids(low) if low is not None else None  # one question for all the groups
    for members, scan in scans:
        if ids is not None and isinstance(scan.pattern, Guarded) and scan.pattern.id not in ids:
            continue
        for start, end in scan.spans(text, pos, endpos):
            cue_set = (
                members[0][0] if len(members) == 1 else next((s for s, own in members if own.match(text, start)), None)
            )
            if cue_set is None:
                continue
            if cue_set.before is not None:
                floor = max(0, start - BEFORE_REACH)
                line = max(text.rfind(stop, floor, start) for stop in ".!?\n") + 1
                if not _BEFORE[cue_set.before].search(text, max(floor, line), start):
                    continue
            cues.append(_Cue(cue_set.category, cue_set.fallback, start, end, cue_set.party_outranks))
    return cues


def _hedged(text: str, cue: _Cue) -> bool:
    """A cue outside any cause clause that is hedged, negated, habitual, asked about or only names
    a kind of report states nothing."""
    floor = max(0, cue.start - 60)
    # The hedges read within the cue's sentence: starting after its last stop finds the same.
    window = max(floor, max(text.rfind(stop, floor, cue.start) for stop in ".!?\n") + 1)
    if HEDGE_BEFORE.search(text, window, cue.start) or _HABITUAL.search(text, window, cue.start):
        return True
    if _META_BEFORE.search(text, max(0, cue.start - 30), cue.start) or _META_AFTER.match(text, cue.end):
        return True
    if _META_FIELD.match(text, text.rfind("\n", 0, cue.start) + 1):
        return True
    end = SENTENCE_END.search(text, cue.end)
    return bool(end and end.group() == "?")


def _nearest(cues: list[_Cue], key) -> _Cue:
    """The specific cue nearest the connective (by `key`); fallback cues only when there is no other."""
    return min([c for c in cues if not c.fallback] or cues, key=key)


def _quote(text: str, start: int, end: int) -> str:
    return " ".join(text[start:end].split())[:QUOTE_LIMIT]


@dataclass(frozen=True)
class StatedCause:
    """The cause a text states: its rca category, why (for the label review), and where it stands.

    `clause` is the cause clause or, for a cue stated outside one, its sentence; `cue` is the span of
    the cue that named the category. The words there name the failing component (`distance`)."""

    category: str
    how: str
    quote: str
    clause: CauseClause
    cue: tuple[int, int]
    in_clause: bool  # False: the cue stood outside any cause clause

    def distance(self, start: int, end: int) -> tuple[int, int]:
        """How far a word at [start, end) stands from the cause: after "due to", from the connective
        (the head of the cause comes first: "due to an erroneous database credential change"); in a
        clause before "caused" or a plain sentence, from the cue ("a misconfigured server joined one
        of our clusters, causing"), ties broken by the connective."""
        if self.in_clause and not self.clause.backward:
            return self.clause.distance(start, end), 0
        gap = max(self.cue[0] - end, start - self.cue[1], 0)
        return gap, self.clause.distance(start, end) if self.in_clause else start


def _found_cause(
    text: str, rules: CauseRules
) -> tuple[tuple[_Cue, list[_Cue], CauseClause | None, list[_Cue]] | None, ...]:
    """(in a clause, anywhere): each (the cue that names the cause, the cues stated with it, its
    clause, every cue) or None. In a clause: the cue nearest the connective of the first cause
    clause that holds one. Anywhere: that, or without one the first cue stated anywhere (hedged
    ones left out)."""
    scans = _cue_scans(rules)
    clauses = cause_clauses(text, rules)
    hedged = [(c.start, c.end) for c in clauses if c.hedged]
    found = sorted(_cues(scans.anywhere, text), key=lambda c: c.start)
    if hedged:
        found = [c for c in found if not any(a <= c.start < b for a, b in hedged)]
    for clause in clauses:
        if clause.hedged:
            continue
        inside = [c for c in found if clause.start <= c.start and c.end <= clause.end]
        inside += _cues(scans.clause, text, clause.start, clause.end)
        inside = [c for c in inside if not _NEGATED_CUE.search(text, max(0, c.start - 40), c.start)]
        if inside:
            chosen = _nearest(inside, lambda c, clause=clause: clause.distance(c.start, c.end))
            stated = (chosen, inside, clause, found)
            return stated, stated
    stated = [c for c in found if not _hedged(text, c)]
    if not stated:
        return None, None
    chosen = _nearest(stated, lambda c: c.start)
    start, end = sentence_around(text, chosen.start, chosen.end)
    return None, (chosen, [c for c in stated if start <= c.start and c.end <= end], None, found)


_CAUSES: list = []  # (text, rules, (in a clause, anywhere)) of the last texts: intake and classify ask alike
_CAUSES_KEPT = 2  # a ticket's primary view and its history


def stated_cause(text: str, rules: CauseRules, clauses_only: bool = False) -> StatedCause | None:
    """The cause `text` states (see CauseRules), or None. A person's hand-run action outranks the
    misconfiguration it made ("an operator executed a DNS change ... DNS misconfiguration"); an
    outside party's failure stated with a power or hardware fault outranks it (the fault is in the
    party's facility). `clauses_only`: only a cause clause states a cause (a change ticket, where
    "a configuration change" is the work itself). Intake (the failing component) and classify (the
    rca) ask about the same text: the last answers are kept."""
    both = next((answer for seen, seen_rules, answer in _CAUSES if seen is text and seen_rules is rules), None)
    if both is None:
        in_clause, anywhere = _found_cause(text, rules)
        cause = _cause_of(text, anywhere)
        both = (cause if in_clause is anywhere else _cause_of(text, in_clause), cause)
        _CAUSES.insert(0, (text, rules, both))
        del _CAUSES[_CAUSES_KEPT:]
    return both[0] if clauses_only else both[1]


def _cause_of(text: str, found: tuple | None) -> StatedCause | None:
    if found is None:
        return None
    chosen, around, clause, every = found
    category, how = chosen.category, "cause stated"
    party = next((c for c in around if c.category == "3rd-party" and not c.fallback), None)
    if category == "infra-failure" and party and chosen.party_outranks:
        category, how = "3rd-party", f"an outside party's failure ({_quote(text, party.start, party.end)!r}) behind it"
    person = next((c for c in every if c.category == "human-error" and not c.fallback and not _hedged(text, c)), None)
    if category == "config-drift" and person:
        category, how = "human-error", f"a person's hand-run action ({_quote(text, person.start, person.end)!r})"
    cue = (chosen.start, chosen.end)
    if clause is None:  # a cue outside any clause: its sentence
        start, end = sentence_around(text, chosen.start, chosen.end)
        return StatedCause(category, how, _quote(text, *cue), CauseClause(start, end, start, start, False), cue, False)
    where = (min(clause.anchor, chosen.start), max(clause.anchor_end, chosen.end))
    return StatedCause(category, how, _quote(text, *where), clause, cue, True)


# --------------------------------------------------------------------------- accounts

# The ways an account number is written: digit groups and the separator between them.
_ACCOUNT_LAYOUTS = ((12,), (4, 4, 4), (4, 4, 4), (3, 3, 3, 3), (3, 3, 3, 3))
_ACCOUNT_SEPARATORS = ("", "-", " ", " ", "-")
# The first digit comes first (the look-behinds follow it, one character wider; each layout then
# reads one digit less): a pattern that starts with a character class lets the engine skip to the
# next digit at C speed.
_ACCOUNT = re.compile(
    r"\d(?<![\w+.,]\d)(?<!\d[ -]\d)(?:"
    + "|".join(
        sep.join(rf"\d{{{n - (i == 0)}}}" for i, n in enumerate(groups))
        for groups, sep in zip(_ACCOUNT_LAYOUTS, _ACCOUNT_SEPARATORS)
    )
    + r")(?![\w]|[.,]\d|[ -]\d)"
)
# Logs are full of digits, and trying _ACCOUNT at each costs more than the rest of the intake:
# one Hyperscan scan reports where a whole account number stands after a non-word character.
ID_STARTS = WordStarts()  # the normalised ticket text
_ACCOUNT_STARTS = ID_STARTS.add_anchors(
    tuple(
        (r"(?:^|[^\w+.,])" + sep.join(rf"\d{{{n}}}" for n in groups), sum(groups) + len(sep) * (len(groups) - 1))
        for groups, sep in zip(_ACCOUNT_LAYOUTS, _ACCOUNT_SEPARATORS)
    )
)
_DECOY_WORDS = (
    r"order|orders|po|p\.o\.|purchase|case|invoice|inv|ticket|ref|reference|phone|tel|telephone|mobile|"
    r"cell|call|fax|tracking|serial|confirmation|booking|receipt|transaction|txn|abn|gst|iban|bsb|"
    r"card|contract|quote|sku|barcode|ird|isbn|msisdn|whatsapp|sms|ph|mob|job|build|request id|"
    r"incident|sr|change|cr|record|batch|shipment|consignment|parcel|customer number|member|"
    r"monitor|alert|event|trace|span|correlation|session|execution|run|claim|voucher|coupon|reservation|"
    r"licen[cs]e|policy number|employee|staff|patient|student|nhi|imei|vin|text|ring|reach|contact"
)
_ACCOUNT_WORDS = r"account|accounts|acct|acc|aws|a/c|owner|arn|payer|linked|member account|organisation|organization"
_ACCOUNT_TRIE, _ACCOUNT_FIRST = _by_first_letter(_split_alternatives(_ACCOUNT_WORDS))
_DECOY_TRIE, _DECOY_FIRST = _by_first_letter(_split_alternatives(_DECOY_WORDS))
_CONTEXT_WORD = re.compile(  # each list as a trie on its first letters (see _by_first_letter), which one test rejects
    rf"(?=[{''.join(sorted(set(_ACCOUNT_FIRST + _DECOY_FIRST)))}])(?<![a-z-])(?:({_ACCOUNT_TRIE})|({_DECOY_TRIE}))(?![a-z-])",
    re.I,
)
# A decoy word names the number only when it stands right before it ("PO #", "order no.").
# "call me on", "reach us at": a pronoun and a preposition may stand between.
_DECOY_GAP = re.compile(
    r"(?:\s{1,3}(?:me|us|him|her|them))?(?:\s{1,3}(?:on|at))?"
    r"\s{0,3}(?:no\.?|nr\.?|num(?:ber)?|id|#)?\s{0,3}[:#.=-]?\s{0,3}",
    re.I,
)
_PHONE_PREFIX = re.compile(r"(?:\+\d{1,3}|\(\d{1,4}\))[ -]?$")
_STRUCTURAL_BEFORE = re.compile(r"arn:aws[\w-]*:[\w-]*:[\w-]*:$|/$", re.I)
_SIGNIN_AFTER = re.compile(r"\.signin\.aws|\.awsapps\.com|:(?:role|user|root|policy|instance|db|assumed-role)", re.I)
_TIMESTAMP = re.compile(r"^(?:19[89]\d|20\d\d)(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[01]\d|2[0-3])[0-5]\d$")


def _account_decoy_reason(text: str, start: int, end: int, digits: str) -> str | None:
    """Why a 12-digit number is not an account id, judged from its context alone."""
    line_start = text.rfind("\n", max(0, start - 60), start) + 1
    before = text[max(line_start, start - 48) : start]
    structural = bool(_STRUCTURAL_BEFORE.search(before) or _SIGNIN_AFTER.match(text, end))
    if structural:
        return None
    if _PHONE_PREFIX.search(before):
        return "phone number (country or area code)"
    nearest_account, nearest_decoy = -1, None
    for word in _CONTEXT_WORD.finditer(before):
        if word.group(1):
            nearest_account = word.start()
        elif _DECOY_GAP.fullmatch(before, word.end()):
            nearest_decoy = word
    if nearest_decoy and nearest_decoy.start() > nearest_account:
        return f"decoy context ({nearest_decoy.group().lower()} number)"
    if nearest_account < 0 and _TIMESTAMP.match(digits):
        return "timestamp (YYYYMMDDhhmm)"
    return None


NOT_ORG = "not an account of the organisation"
MAX_REJECTED = 50  # rejected candidates reported per ticket (a log can hold thousands)


class _Found:
    """Ids found in one scan of the whole text, split by the region they came from."""

    def __init__(self, view: TicketText) -> None:
        self.view = view
        self.taken: dict[str, dict[str, Extracted]] = {"primary": {}, "history": {}}
        self.rejected: list[Rejected] = []

    def take(self, value: str, kind: str, start: int, end: int) -> None:
        region = self.view.region(start)
        if region and value not in self.taken[region]:
            where = span(self.view.text, start, end)
            self.taken[region][value] = Extracted(
                value=value, kind=kind, span=where, quoted_history=region == "history"
            )

    def reject(self, value: str, reason: str, start: int, end: int) -> None:
        if len(self.rejected) < MAX_REJECTED and self.view.region(start) == "primary":
            self.rejected.append(Rejected(value=value, reason=reason, span=span(self.view.text, start, end)))

    def best(self) -> list[Extracted]:
        """Primary-text ids; quoted history only when the reporter's own text has none."""
        chosen = self.taken["primary"] or self.taken["history"]
        return sorted(chosen.values(), key=lambda e: e.span.start)


def _anchored(pattern: re.Pattern[str], list_id: int, text: str) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, tried only where the ID_STARTS list `list_id` says a match can start."""
    return ID_STARTS.finditer(list_id, pattern, text)


def _accounts(view: TicketText, org: frozenset[str]) -> _Found:
    found = _Found(view)
    for match in _anchored(_ACCOUNT, _ACCOUNT_STARTS, view.text):
        digits = match.group().replace("-", "").replace(" ", "")
        if digits in found.taken["primary"]:
            continue  # already taken from the reporter's own text: nothing to add
        reason = _account_decoy_reason(view.text, match.start(), match.end(), digits)
        if org:
            reason = None if digits in org else (reason or NOT_ORG)
        if reason:
            found.reject(digits, reason, match.start(), match.end())
        else:
            found.take(digits, "account", match.start(), match.end())
    return found


# --------------------------------------------------------------------------- resources

_EC2_KINDS = {
    "i": "instance",
    "vol": "volume",
    "snap": "snapshot",
    "vpc": "vpc",
    "subnet": "subnet",
    "sg": "security-group",
    "eni": "network-interface",
    "ami": "image",
    "acl": "network-acl",
    "tgw": "transit-gateway",
    "tgw-attach": "transit-gateway-attachment",
    "rtb": "route-table",
    "igw": "internet-gateway",
    "nat": "nat-gateway",
    "vpce": "vpc-endpoint",
    "pcx": "peering",
    "eipalloc": "elastic-ip",
    "lt": "launch-template",
    "vpn": "vpn-connection",
    "vgw": "vpn-gateway",
    "cgw": "customer-gateway",
    "eigw": "egress-only-internet-gateway",
    "dopt": "dhcp-options",
}
_EC2_KIND_ALT = "|".join(sorted(_EC2_KINDS, key=len, reverse=True))
_EC2_ID = re.compile(r"(?<![\w-])(" + _EC2_KIND_ALT + r")-([0-9a-f]{1,40})(?![\w-])", re.I)
# The scan anchors on the dash (a literal prefix the engine finds at C speed), reads the hex
# after it and only then the kind just before it: a 10 MB log costs one pass, not one per letter.
_EC2_DASH = re.compile(r"-([0-9a-f]{3,40})(?![\w-])", re.I)
_EC2_KIND_BEFORE = re.compile(r"(?<![\w-])(" + _EC2_KIND_ALT + r")$", re.I)
# Logs are full of dashes: the ID_STARTS scan tells the few with a kind just before them.
_EC2_STARTS = ID_STARTS.add_anchors(((rf"(?i)(?:^|[^\w-])(?:{_EC2_KIND_ALT})-[0-9a-f]{{3}}", 4),))
_EC2_KIND_REACH = max(map(len, _EC2_KINDS))
_ARN = _TEXT.guarded(
    r"(?=[a])\barn:aws[a-z-]{0,20}:[a-z0-9-]{1,40}:[a-z0-9-]{0,30}:(?:\d{12})?:[^\s\"'<>`|]{1,1600}", re.I
)
_ARN_TRAIL = ".,;:)]}*"
# The notification machinery, not the resource a ticket is about: alarms, topics, findings, events, rules.
_MACHINERY_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:sns|health|securityhub|cloudwatch:[^:]*:[^:]*:alarm|config:[^:]*:[^:]*:config-rule"
    r"|events:[^:]*:[^:]*:rule|ssm:[^:]*:[^:]*:windowtarget|guardduty|inspector2?|macie2?):",
    re.I,
)
# Endpoint hostnames: find the cheap suffix first, then read the name just before it.
_RDS_ANCHOR = _TEXT.guarded(r"\.rds\.amazonaws\.com", re.I)
_RDS_BEFORE = re.compile(
    r"(?<![a-z0-9-])([a-z][a-z0-9-]{0,62})\.(?:cluster-(?:ro-)?)?[a-z0-9]{12}\.[a-z]{2}(?:-[a-z]+){1,2}-\d$", re.I
)
_S3_HOST_ANCHOR = _TEXT.guarded(r"\.s3[.-](?:[a-z0-9-]{1,30}\.){0,2}amazonaws\.com", re.I)
_S3_BUCKET_BEFORE = re.compile(r"(?<![a-z0-9.-])([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$", re.I)
_S3_URL = _TEXT.guarded(
    r"(?=[s/])(?:\bs3://|\bs3[.-](?:[a-z0-9-]{1,30}\.){0,2}amazonaws\.com/|/s3/buckets/)([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])",
    re.I,
)
_NAME_AFTER = r"\s{0,3}(?:name|identifier|id)?\s{0,3}(?:named|called)?\s{0,3}[:=]?\s{0,3}([`'\"*]?)"
_RDS_WORDS = ("rds", "aurora", "db", "database")
_RDS_NAMED = re.compile(
    rf"(?=[rad])\b(?:{'|'.join(_RDS_WORDS)})(?:\s{{1,3}}(?:instance|cluster))?(?![a-z0-9])"
    + _NAME_AFTER
    + r"([a-z][a-z0-9-]{2,62})\b",
    re.I,
)
# "db" is in many a hex id (so the _TEXT prefilter would let most texts through): the ID_STARTS
# scan tells where a database word starts a word.
_RDS_STARTS = ID_STARTS.add_anchors(tuple((rf"(?i)(?:^|[^\w]){word}", len(word)) for word in _RDS_WORDS))
_BUCKET_NAMED = _TEXT.guarded(
    r"(?=[b])\bbucket(?![a-z0-9])" + _NAME_AFTER + r"([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\b", re.I
)
_ROLE_NAMED = _TEXT.guarded(r"(?=[r])\brole(?![a-z0-9])" + _NAME_AFTER + r"([A-Za-z0-9+=,.@_-]{3,64})", re.I)
# Hyphenated English that follows "bucket", "role" or "database" in prose, not a name.
_PROSE_COMPOUNDS = frozenset(
    "cross-account cross-region bucket-level object-level read-only write-only read-write public-read server-side "
    "well-known up-to-date end-to-end self-service fail-over cut-over follow-up built-in least-privilege "
    "role-based multi-az single-az in-place point-in-time".split()
)
# Names given under a machine key: CloudWatch alarm dimensions (`DBInstanceIdentifier = x`),
# console URL fragments (`#database:id=x`) and ticket-form fields (`Bucket name: x`).
_KEYED_KINDS = {
    "dbinstanceidentifier": "rds",
    "dbclusteridentifier": "rds",
    "database:id": "rds",
    "dbidentifier": "rds",
    "bucketname": "s3-bucket",
    "bucket": "s3-bucket",
    "s3bucket": "s3-bucket",
    "rolename": "iam-role",
    "role": "iam-role",
    "iamrole": "iam-role",
    # the resource an AWS event is about, under its JSON key (names keep their case)
    "autoscalinggroupname": "autoscaling-group",
    "clusterid": "emr-cluster",
    "windowid": "maintenance-window",
    "loadbalancername": "load-balancer",
}
_CASE_FREE_KINDS = ("rds", "s3-bucket")  # DNS names: compared in lower case
_KEYED_NAME = _TEXT.guarded(
    r"(?=[dbrsiacwl])(?<![\w-])(DBInstanceIdentifier|DBClusterIdentifier|database:id|db identifier|bucket ?name|s3 bucket"
    r"|bucket|role ?name|iam role|role|AutoScalingGroupName|clusterId|WindowId|LoadBalancerName)"
    r"[`'\"]?(?:\s{0,2}[=:]\s{0,2}|=)(?!\s)[`'\"]?([A-Za-z0-9][A-Za-z0-9+=,.@_-]{1,62}[A-Za-z0-9])",
    re.I,
)
# A bucket named in prose without the word before it: "the acme-logs bucket", "replication from
# acme-backups-prod", "objects in acme-media". The name must look like a name (digit, dash or dot).
_BUCKET_BEFORE_NOUN = _TEXT.guarded(r"(?<![\w.-])([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\s{1,3}(?:s3\s{1,3})?bucket\b", re.I)
_BUCKET_PROSE = _TEXT.guarded(
    r"(?=[rcsuo])\b(?:replicat(?:e|es|ed|ing|ion)|cross-region replication|sync(?:ing|ed)?|upload(?:s|ed|ing)?|objects?)"
    r"\s{1,3}(?:from|to|into|in)\s{1,3}(?:the\s{1,3})?([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?![\w.-])(?!\s{1,3}(?:account|acct|vpc|region|env))",
    re.I,
)
# Bare database identifiers: hyphenated names with a database word as one part (orders-db,
# sit-db-1). Found from the cheap `-db` anchor, then the name is read around it.
_DB_ANCHOR = _TEXT.guarded(r"-(?:db|rds|aurora|replica|mysql|pg|postgres)(?![a-z0-9])", re.I)
_DB_LEFT = re.compile(r"(?<![\w.-])[a-z][a-z0-9-]{0,62}$", re.I)
_DB_RIGHT = re.compile(r"(?:-[a-z0-9]+){0,4}(?![\w-]|\.\w)", re.I)


_S3_WORD = _TEXT.guarded(r"(?<![\w-])(?:s3|buckets?|replication|object lock|versioning)(?![\w-])", re.I)
# Environment or account-style names ("prod-core", "dev-sandbox") are not buckets by themselves.
_ENV_ONLY = re.compile(
    r"(?:prod|production|prd|staging|stage|stg|dev|development|sandbox|dr|uat|sit|preprod|test|qa)(?:-[a-z]+)?", re.I
)


def _looks_like_name(name: str, quoted: bool) -> bool:
    """A resource name next to a noun like `bucket` or `role`, not an English word after it."""
    if quoted or re.search(r"\d", name):
        return True
    if re.search(r"[-_.]", name):
        return name.lower() not in _PROSE_COMPOUNDS
    return bool(re.search(r"[a-z][A-Z]", name))  # CamelCase role names


def _resources(view: TicketText) -> _Found:
    found = _Found(view)
    text = view.text
    arns: list[tuple[int, int]] = []
    for match in _ARN.finditer(text):
        value = match.group().rstrip(_ARN_TRAIL)
        arns.append((match.start(), match.start() + len(value)))
        if _MACHINERY_ARN.match(value):
            found.reject(value, "notification machinery, not an affected resource", match.start(), arns[-1][1])
        else:
            found.take(value, "arn", match.start(), match.start() + len(value))
    arn_spans = tuple(arns)
    for dash in _anchored(_EC2_DASH, _EC2_STARTS, text):
        kind = _EC2_KIND_BEFORE.search(text, max(0, dash.start() - _EC2_KIND_REACH), dash.start())
        if not kind or _in_ranges(arn_spans, kind.start()):
            continue
        prefix, hexpart = kind.group(1).lower(), dash.group(1).lower()
        value = f"{prefix}-{hexpart}"
        if value in found.taken["primary"]:
            continue
        if len(hexpart) in (8, 17):
            found.take(value, _EC2_KINDS[prefix], kind.start(), dash.end())
        elif 3 <= len(hexpart) < 17 and re.search(r"\d", hexpart):
            found.reject(value, "truncated id (not 8 or 17 hex digits)", kind.start(), dash.end())
    for match in _KEYED_NAME.finditer(text, 0, KEYWORD_WINDOW):  # form fields and alarm dimensions head a ticket
        key = match.group(1).lower().replace(" ", "")
        kind = _KEYED_KINDS.get(key)
        name = match.group(2).rstrip(".,;:-")
        if kind and not _in_ranges(arn_spans, match.start(2)) and not _EC2_ID.fullmatch(name):
            found.take(
                name.lower() if kind in _CASE_FREE_KINDS else name, kind, match.start(2), match.start(2) + len(name)
            )
    for anchor, before, kind in ((_RDS_ANCHOR, _RDS_BEFORE, "rds"), (_S3_HOST_ANCHOR, _S3_BUCKET_BEFORE, "s3-bucket")):
        for match in anchor.finditer(text):
            name = before.search(text, max(0, match.start() - 120), match.start())
            if name:
                found.take(name.group(1).lower(), kind, name.start(1), name.end(1))
    for match in _S3_URL.finditer(text):
        found.take(match.group(1).lower(), "s3-bucket", match.start(1), match.end(1))
    for match in _DB_ANCHOR.finditer(text):
        left = _DB_LEFT.search(text, max(0, match.start() - 63), match.start())
        right = _DB_RIGHT.match(text, match.end())
        if left and right and not _in_ranges(arn_spans, left.start()):
            found.take(text[left.start() : right.end()].lower(), "rds", left.start(), right.end())
    storage_context = _S3_WORD.search(text, 0, KEYWORD_WINDOW) is not None
    for pattern in (_BUCKET_BEFORE_NOUN, _BUCKET_PROSE) if storage_context else ():
        for match in pattern.finditer(text, 0, KEYWORD_WINDOW):
            name = match.group(1)
            if (
                _ENV_ONLY.fullmatch(name)
                or _EC2_ID.fullmatch(name)
                or _in_ranges(arn_spans, match.start(1))
                or not re.search(r"[.-]", name)
                or not _looks_like_name(name, False)
                or _DB_ANCHOR.pattern.search(name)
            ):
                continue
            found.take(name.lower(), "s3-bucket", match.start(1), match.end(1))
    named = (
        (_anchored(_RDS_NAMED, _RDS_STARTS, text), "rds", True),
        (_BUCKET_NAMED.finditer(text), "s3-bucket", True),
        (_ROLE_NAMED.finditer(text), "iam-role", False),
    )
    for matches, kind, lower in named:
        for match in matches:
            name = match.group(2).rstrip(".,;:-")
            if (
                _in_ranges(arn_spans, match.start(2))
                or _EC2_ID.fullmatch(name)
                or not _looks_like_name(name, bool(match.group(1)))
            ):
                continue
            found.take(name.lower() if lower else name, kind, match.start(2), match.start(2) + len(name))
    return found


# --------------------------------------------------------------------------- service, environment

_KIND_SERVICE = {
    "instance": "compute",
    "image": "compute",
    "launch-template": "compute",
    "volume": "storage",
    "snapshot": "storage",
    "s3-bucket": "storage",
    "vpc": "network",
    "subnet": "network",
    "security-group": "network",
    "network-interface": "network",
    "network-acl": "network",
    "transit-gateway": "network",
    "transit-gateway-attachment": "network",
    "route-table": "network",
    "internet-gateway": "network",
    "nat-gateway": "network",
    "vpc-endpoint": "network",
    "peering": "network",
    "elastic-ip": "network",
    "vpn-connection": "network",
    "vpn-gateway": "network",
    "customer-gateway": "network",
    "egress-only-internet-gateway": "network",
    "dhcp-options": "network",
    "rds": "database",
    "iam-role": "identity",
    "autoscaling-group": "compute",
    "emr-cluster": "compute",
    "maintenance-window": "compute",
    "load-balancer": "network",
}
_ARN_SERVICE = {
    "ec2": None,
    "s3": "storage",
    "rds": "database",
    "iam": "identity",
    "sts": "identity",
    "lambda": "compute",
    "ecs": "compute",
    "eks": "compute",
    "elasticloadbalancing": "network",
    "dynamodb": "database",
    "route53": "network",
}
SUMMARY_WEIGHT = 3
RESOURCE_WEIGHT = 2


_WORDS_BY_TUPLE: dict[tuple[int, bool], tuple[tuple[str, ...], WordScan]] = {}  # id -> (the tuple itself, its scan)


def _words_pattern(words: Iterable[str], plural: bool = False) -> WordScan:
    """Whole-word scan for configured words (compiled once per word list).

    A tuple (immutable, as the policy's keyword lists are) is looked up by identity first; the
    entry holds the tuple, so its id cannot be reused while cached."""
    if type(words) is tuple:
        hit = _WORDS_BY_TUPLE.get((id(words), plural))
        if hit is not None and hit[0] is words:
            return hit[1]
        scan = _words_scan(tuple(sorted({w.lower() for w in words})), plural)
        if len(_WORDS_BY_TUPLE) >= 256:
            _WORDS_BY_TUPLE.clear()
        _WORDS_BY_TUPLE[(id(words), plural)] = (words, scan)
        return scan
    return _words_scan(tuple(sorted({w.lower() for w in words})), plural)


@lru_cache(maxsize=256)
def _words_scan(words: tuple[str, ...], plural: bool) -> WordScan:
    alternatives = sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    # Top-level alternatives (`ab?|cd?`, the same tries in the same order as `(?:a|c)s?`) so that
    # WordScan can group them by first letter.
    return WordScan("|".join(a + ("s?" if plural else "") for a in alternatives), words=words)


def _resource_service(resource: Extracted) -> str | None:
    if resource.kind == "arn":
        arn_service = resource.value.split(":")[2].lower()
        if arn_service == "ec2":
            return _KIND_SERVICE.get(_EC2_KINDS.get(resource.value.split(":")[5].split("/")[0].split("-")[0], ""))
        return _ARN_SERVICE.get(arn_service)
    return _KIND_SERVICE.get(resource.kind)


_ACCESS_GRANT = WordScan(
    r"(?:give|gives|giving|grant|grants|granting|granted|provide|revoke|revoking|remove|need|needs|request(?:ing)?|get)"
    r"\s+(?:[\w@.'-]+\s+){0,3}?(?:read[- ]only\s+|read\s+|write\s+|admin\s+|console\s+|sso\s+|full\s+)?access"
    r"|access\s+(?:request|for\s+(?:a\s+)?new)|(?:read[- ]only|admin|console|sso|cli|programmatic)\s+access"
)
KEYWORD_WINDOW = 65_536  # service/environment words are read from the top of the text, ids from all of it


RELATED_WEIGHT = 0.5  # a related word ("website", "sign in") counts half a keyword
FAILING_WEIGHT = 4  # the service the stated cause names (the failing component), on top of its word


# "database connectivity and availability are functioning normally": a service said to be fine
# is not the one that failed.
# These read the lower-cased view the service words are read in, so they join the WORDS
# prefilter scan that view gets anyway (the normalised text's _TEXT scan is of another string when
# the ticket quotes history).
_UNAFFECTED_LIST = cue_scan(  # "This incident did not impact:" heads a list of what was fine
    r"(?:did|does|do|was|were|has|have)(?: not|n't) (?:impact|affect)(?:ed)?[^\n.]{0,80}:(?=[ \t]*\n)"
)
# "database connectivity and availability are functioning normally": a service said to be fine is
# not the one that failed. Found once per text; a word counts as fine when one follows it in its
# sentence, within UNAFFECTED_REACH characters.
_UNAFFECTED = cue_scan(
    r"not (?:been )?(?:affected|impacted)|unaffected|unimpacted|(?:functioning|operating|working|running)"
    r" (?:normally|as expected|as normal|fine)|remain(?:ed|s)? (?:available|operational|accessible|healthy|up)"
)
UNAFFECTED_REACH = 80


# "Server errors", "internal server error": an HTTP status, not a failing server.
_HTTP_STATUS = cue_scan(r"(?:internal )?server[- ](?:side )?errors?")


def _fine_ranges(source: str) -> list[tuple[int, int]]:
    """Ranges of `source` whose service words name no failing service: from each word of a
    sentence up to a statement that it is fine, the lists under "did not impact:", and HTTP
    status phrases ("server errors")."""
    ranges = _HTTP_STATUS.spans(source)
    for _, end in _UNAFFECTED_LIST.spans(source):
        stop = _PARAGRAPH_END.search(source, end)
        ranges.append((end, stop.start() if stop else len(source)))
    for start, _ in _UNAFFECTED.spans(source):
        ranges.append((_sentence_start(source, start, UNAFFECTED_REACH), start))
    return ranges


def _build_service_scans(catalogue: ServiceCatalogue) -> tuple[tuple[str, WordScan, frozenset[str]], ...]:
    """(type name, one scan of its keywords and related words, its weak words) per service type."""
    return tuple((service.name, _service_scan(service), _weak_words(service)) for service in catalogue.types)


_service_scans = _BuiltFor(_build_service_scans, size=64)


def _weak_words(service: ServiceType) -> frozenset[str]:
    """The related words that count RELATED_WEIGHT: not keywords, nor holding one ("object storage")."""
    keywords = {w.lower() for w in service.keywords}
    return frozenset(
        w.lower()
        for w in service.related
        if w.lower() not in keywords and not any(k in keywords for k in w.lower().split())
    )


def _service_scan(service: ServiceType) -> WordScan:
    """One whole-word scan of a service type's keywords (plural `s` allowed) and related words."""
    keywords = {w.lower() for w in service.keywords}
    related = {w.lower() for w in service.related} - keywords
    alternatives = [(re.escape(w).replace(r"\ ", r"\s+"), "s?") for w in keywords] + [
        (re.escape(w).replace(r"\ ", r"\s+"), "") for w in related
    ]
    alternatives.sort(key=lambda pair: len(pair[0]), reverse=True)
    return WordScan("|".join(a + s for a, s in alternatives), words=tuple(sorted(keywords | related)))


def _service_words(source: str, policy: Policy) -> list[tuple[int, int, str, float]]:
    """(start, end, service, weight) of every keyword and related word in `source`, in text order;
    words the text calls unaffected are left out."""
    fine = _fine_ranges(source)
    found = []
    for name, scan, weak in _service_scans(policy.services):
        for start, end in scan.spans(source):
            if fine and any(a <= start < b for a, b in fine):
                continue
            word = source[start:end].lower()
            if word in weak or (" " in word or "\n" in word or "\t" in word) and " ".join(word.split()) in weak:
                found.append((start, end, name, RELATED_WEIGHT))
            else:
                found.append((start, end, name, 1.0))
    found.sort()
    return found


def _failing_component(
    source: str, words: list[tuple[int, int, str, float]], policy: Policy
) -> tuple[str, tuple[int, int]] | None:
    """The service the stated cause names ("due to a configuration change causing our internal load
    balancer to drop requests"): the word nearest it in its clause (StatedCause.distance). The
    failing component decides the service, not the symptoms around it."""
    if not words:
        return None
    cause = stated_cause(source, policy.causes)
    if cause is not None:
        clause = cause.clause
        inside = [w for w in words if clause.start <= w[0] and w[1] <= clause.end]
        if inside:
            start, end, name, _ = min(inside, key=lambda w: cause.distance(w[0], w[1]))
            return name, (start, end)
        return None
    # No kind of cause named, but "caused by degraded connectivity to ..." still names what failed.
    for clause in cause_clauses(source, policy.causes):
        if clause.backward or clause.hedged or clause.anchor == clause.start:
            continue
        inside = [w for w in words if clause.start <= w[0] and w[1] <= clause.end]
        if inside:
            start, end, name, _ = min(inside, key=lambda w, clause=clause: clause.distance(w[0], w[1]))
            return name, (start, end)
    return None


def finops_scan(policy: Policy) -> WordScan:
    """The catalogue's cost and billing words, whole words, read at the word starts the service
    words' scan already found (no prefilter scan of its own)."""
    return _words_pattern(policy.services.finops_keywords)


def _finops_summary(source: str, summary_end: int, policy: Policy) -> bool:
    return finops_scan(policy).search(source, 0, summary_end) is not None


def _service(
    source: str, summary_end: int, resources: list[Extracted], policy: Policy
) -> tuple[str | None, tuple[int, int] | None, str | None]:
    """(service, where, why): the type named most (summary words count SUMMARY_WEIGHT, related
    words RELATED_WEIGHT, resources RESOURCE_WEIGHT), the failing component a stated cause names
    counting FAILING_WEIGHT more."""
    words = _service_words(source, policy)
    failing = _failing_component(source, words, policy)
    scores: dict[str, float] = {}
    first: dict[str, tuple[int, int]] = {}
    catalogued = {
        service.name for service in policy.services.types
    }  # what `by_name` finds, without a walk per question
    for start, end, name, weight in words:  # in text order: the first span of each service stays
        scores[name] = scores.get(name, 0) + weight * (SUMMARY_WEIGHT if start < summary_end else 1)
        if name not in first:
            first[name] = (start, end)

    def count(name: str, match: Hit, weight: float) -> None:
        scores[name] = scores.get(name, 0) + weight * (SUMMARY_WEIGHT if match.start() < summary_end else 1)
        first[name] = min(first.get(name, match.span()), match.span())

    if "identity" in catalogued:
        # Granting or revoking someone's access is an identity matter whatever it is access to.
        for match in _ACCESS_GRANT.finditer(source):
            count("identity", match, 1)
    for resource in resources:
        name = _resource_service(resource)
        if name in catalogued:
            scores[name] = scores.get(name, 0) + RESOURCE_WEIGHT
            where = (resource.span.start, resource.span.end)
            first[name] = min(first.get(name, where), where)
    if failing:
        name, where = failing
        scores[name] += FAILING_WEIGHT
        first[name] = min(first[name], where)
    if not scores:
        return None, None, None
    best = max(scores, key=lambda name: (scores[name], -first[name][0]))
    if not resources and all(w[3] < 1 for w in words) and _finops_summary(source, summary_end, policy):
        return None, None, None  # a cost or billing matter ("Billing system errors") that names no service type
    weights = ", ".join(f"{name} {score:g}" for name, score in sorted(scores.items(), key=lambda kv: -kv[1]))
    why = "the failing component the stated cause names" if failing and failing[0] == best else "named most"
    return best, first[best], f"{why} ({weights})"


_ENV_NEGATION_BEFORE = re.compile(
    r"(?:\bnot|\bno|\bnon|\bexcept|\bother than|\bnothing in|\boutside(?: of)?)[\s-]{1,3}(?:the\s|in\s)?$", re.I
)
_ENV_NEGATION_AFTER = re.compile(
    r"[\w-]{0,20}\s{0,2}(?:env\w*\s{1,2}|account\s{1,2}|systems?\s{1,2})?(?:is|are|was|were|remains?|looks?)?\s{0,2}"
    r"(?:not affected|unaffected|not impacted|unimpacted|fine|ok\b|okay|healthy|working fine)",
    re.I,
)
_WHITESPACE = re.compile(r"\s+")
_ENV_QUALIFIER_AFTER = re.compile(r"[-_]|\s{0,2}(?:env|environment|account|stack|vpc|cluster)\b", re.I)


@lru_cache(maxsize=64)
def _environment_words(aliases: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[dict[str, str], WordScan]:
    """Each alias (lower case) -> its environment, and their scan: built once per alias table."""
    word_env = {w.lower(): env for env, words in aliases for w in words}
    return word_env, _words_pattern(word_env)


def _environment(source: str, summary_end: int, policy: Policy) -> tuple[str | None, tuple[int, int] | None]:
    aliases = policy.environments
    scores: dict[str, float] = {}
    first: dict[str, tuple[int, int]] = {}
    word_env, scan = _environment_words(tuple(aliases.aliases.items()))
    for match in scan.finditer(source):
        word = _WHITESPACE.sub(" ", match.group()).lower()
        if word in aliases.ambiguous and not (
            match.group().isupper() or _ENV_QUALIFIER_AFTER.match(source, match.end())
        ):
            continue
        before = source[max(0, match.start() - 16) : match.start()]
        if before.endswith(("pre-", "pre", "non-", "non")) or _ENV_NEGATION_BEFORE.search(before):
            continue
        if _ENV_NEGATION_AFTER.match(source, match.end()):
            continue
        env = word_env[word]
        scores[env] = scores.get(env, 0) + (SUMMARY_WEIGHT if match.start() < summary_end else 1)
        first.setdefault(env, match.span())
    if not scores:
        return None, None
    order = {env: i for i, env in enumerate(aliases.aliases)}
    best = max(scores, key=lambda env: (scores[env], -order[env]))
    return best, first[best]


def _business_service(source: str, policy: Policy) -> tuple[BusinessService, tuple[int, int]] | None:
    """The catalogued business service the text names first, and where."""
    named = []
    for service in policy.services.business:
        match = _words_pattern(service.words).search(source)
        if match is not None:
            named.append((match.start(), service, match.span()))
    if not named:
        return None
    _, service, where = min(named, key=lambda n: n[0])
    return service, where


# --------------------------------------------------------------------------- step


def extract(ticket: Ticket, policy: Policy, org_accounts: set[str] | None = None) -> IntakeResult:
    """Step 1: extract the four checklist items and run the seed's quality gate.

    Quoted e-mail history is read only for an item the primary text does not give.
    `org_accounts` (or `policy.org_accounts`) turns the account check into membership;
    without it, context decides (order, case, phone numbers, timestamps are not accounts).
    """
    view = ticket_text(ticket)
    org = frozenset(org_accounts or ()) | frozenset(policy.org_accounts)
    accounts, resources = _accounts(view, org), _resources(view)
    result = IntakeResult(
        account_ids=accounts.best(), resource_ids=resources.best(), rejected=accounts.rejected + resources.rejected
    )
    catalogued: tuple[BusinessService, tuple[int, int]] | None = None
    for region in ("primary", "history"):
        if region == "history" and not view.has_history:
            break  # its view is blank: no word, no resource
        source = view.view(region, KEYWORD_WINDOW)
        if result.service is None:
            region_resources = sorted(resources.taken[region].values(), key=lambda e: e.span.start)
            result.service, where, result.service_why = _service(source, view.summary_end, region_resources, policy)
            result.service_span = where and span(view.text, *where)
        if result.environment is None:
            result.environment, where = _environment(source, view.summary_end, policy)
            result.environment_span = where and span(view.text, *where)
        if catalogued is None:
            catalogued = _business_service(source, policy)
    if catalogued is not None:
        service, where = catalogued
        result.business_service = service.name
        if not (result.environment_span and result.environment_span.start < view.summary_end):
            # the catalogue knows where the named service runs; only the summary's own word overrides it
            result.environment = service.environment.value
            result.environment_span = span(view.text, *where)
    result.gate = _quality_gate(result, policy, bool(org))
    return result


def _quality_gate(result: IntakeResult, policy: Policy, org_known: bool) -> list[GateItem]:
    """The seed's gate: 4 checklist items populated, service in the catalogue, accounts in the org."""
    not_org = [r.value for r in result.rejected if r.reason == NOT_ORG]
    truncated = [r.value for r in result.rejected if r.reason.startswith("truncated")]
    in_catalogue = result.service is not None and policy.services.by_name(result.service) is not None
    return [
        GateItem(item="service_type", ok=result.service is not None, detail=result.service or "no service type named"),
        GateItem(
            item="environment", ok=result.environment is not None, detail=result.environment or "no environment named"
        ),
        GateItem(
            item="account_ids",
            ok=bool(result.account_ids),
            detail=", ".join(result.account_values) or "no account id found",
        ),
        GateItem(
            item="resource_ids",
            ok=bool(result.resource_ids),
            detail=", ".join(result.resource_values[:20])
            or ("no resource id found" + (f"; truncated: {', '.join(truncated)}" if truncated else "")),
        ),
        GateItem(
            item="service_in_catalogue",
            ok=in_catalogue,
            detail="verified against the service catalogue" if in_catalogue else "service type not in the catalogue",
        ),
        GateItem(
            item="accounts_in_organisation",
            ok=org_known and not not_org,
            detail=(
                "no organisation account list to verify against"
                if not org_known
                else (
                    f"not organisation accounts: {', '.join(not_org)}"
                    if not_org
                    else "all accounts are organisation accounts"
                )
            ),
        ),
    ]


class IntakeArtifact(Artifact):
    """Step 1's artifact: the extraction with the text behind every value."""

    summary: str
    issue_type_as_filed: str
    result: IntakeResult
