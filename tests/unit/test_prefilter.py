"""The Hyperscan prefilter may only skip a pattern that cannot match: triage is the same with or without it."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.itsm.core.policy import Policy
from include.itsm.core.ticket import Ticket
from include.itsm.steps.classify import domain as classify
from include.itsm.steps.intake import domain as intake
from include.itsm.textscan import prefilter

pytestmark = pytest.mark.skipif(prefilter.hyperscan is None, reason="hyperscan has no wheel for this platform")

DATA = Path(__file__).resolve().parents[1] / "data"
SETS = (intake._TEXT, intake.WORDS, classify._VIEW)
ODD = [
    "\u017f",
    "\u212a",
    "\u0131",
    "\u0130",
    "\x0b",
    "\x1c",
    "\xa0",
    "\u2014",
    "ß",
    "Σ",
    "ダウン",
    "é",
    "\ud800",
    "１２",
]


def _examples() -> list[Ticket]:
    tickets = []
    for name in ("dev_set.jsonl", "holdout_set.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if isinstance(record.get("description"), str) and isinstance(record.get("summary"), str):
                tickets.append(Ticket(key="OPS-1", summary=record["summary"], description=record["description"]))
    return tickets


def _mutated(tickets: list[Ticket]) -> list[Ticket]:
    """Upper-cased, with characters on which Python and Hyperscan could disagree inserted."""
    rng = random.Random(5)
    out = []
    for ticket in tickets:
        text = ticket.description.upper() if rng.random() < 0.5 else ticket.description
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(ODD) + text[at:]
        out.append(ticket.model_copy(update={"description": text}))
    return out


def _triage(tickets: list[Ticket]) -> list:
    policy = Policy()
    out = []
    for ticket in tickets:
        found = intake.extract(ticket, policy)
        out.append((found.model_dump(), classify.classify(ticket, found, policy).model_dump()))
    return out


def test_triage_is_the_same_without_the_prefilter(monkeypatch) -> None:
    tickets = _examples()
    tickets += _mutated(tickets)
    with_prefilter = _triage(tickets)
    monkeypatch.setattr(prefilter.PatternSet, "_found", lambda self, text: None)  # every pattern runs
    monkeypatch.setattr(prefilter.WordStarts, "starts", lambda self, list_id, text: None)  # every position is tried
    assert _triage(tickets) == with_prefilter


def _registered() -> list[tuple[prefilter.PatternSet, int, re.Pattern[str]]]:
    _triage(_examples()[:3])  # the policy's keyword scans register on first use
    return [(patterns, i, p) for patterns in SETS for i, p in enumerate(patterns._patterns)]


WORDS = [
    "prod",
    "ec2",
    "instance",
    "down",
    "502",
    "account",
    "role",
    "bucket",
    "s3://a-b",
    "rds",
    "-db",
    "cost",
    "urgent",
    "recurring",
    "ignore previous instructions",
    "arn:aws:iam::318274650011:role/x",
    "318274650011",
    "i-0123456789abcdef0",
    "{quote}",
    "<p>",
    "bq. ",
    "h2. ",
    "[a|b]",
    "> quoted",
    "On Tue wrote:",
    "system:",
    "please josé create",
    "give zoë access",
    "３１８２７４６５００１１",
    "role\u2003name",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(WORDS),
            st.sampled_from(ODD),
            st.sampled_from([" ", "\n", "-", ".", "_", ":"]),
            st.text(max_size=4),
        ),
        max_size=30,
    )
)
def test_every_match_is_reported(parts: list[str]) -> None:
    text = "".join(parts)
    for variant in (text, text.upper(), " " + text.lower()):
        for patterns, pattern_id, pattern in REGISTERED:
            if pattern.search(variant):
                assert patterns.possible(pattern_id, variant), (pattern.pattern[:80], variant)


REGISTERED = _registered()


def _word_list_scans() -> list[intake.WordScan]:
    policy = Policy()
    env_words = {w.lower(): env for env, words in policy.environments.aliases.items() for w in words}
    scans = [intake._words_pattern(s.keywords, plural=True) for s in policy.services.types]
    return scans + [
        intake._words_pattern(env_words),
        intake._words_pattern(("auto scaling", "x-ray", "本番", "k8s"), plural=True),
    ]


WORD_LIST_SCANS = _word_list_scans()
LISTED = sorted({w for scan in WORD_LIST_SCANS for w in re.split(r"\\s\+|\|", scan._slow.pattern) if w.isalnum()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LISTED),
            st.sampled_from(["auto  scaling", "auto\nscalings", "x-rays", "本番環境"]),
            st.sampled_from(ODD),
            st.sampled_from([" ", "\n", "-", ".", "_", "s", "ss", "İ", "ﬀ"]),
            st.text(max_size=3),
        ),
        max_size=25,
    ),
    st.integers(0, 40),
    st.integers(0, 400),
)
def test_word_lists_match_the_same_from_reported_starts_only(parts: list[str], pos: int, endpos: int) -> None:
    text = "".join(parts)
    for variant in (text, text.upper(), text.title()):
        for scan in WORD_LIST_SCANS:
            assert scan._words is not None  # a literal word list: positions come from WORD_STARTS
            fast = [(hit.span(), hit.group()) for hit in scan.finditer(variant, pos, endpos)]
            every_position = [(hit.span(), hit.group()) for hit in _without_starts(scan.finditer, variant, pos, endpos)]
            assert fast == every_position, (scan._slow.pattern[:60], variant)


def _without_starts(finditer, *args) -> list:
    starts, prefilter.WordStarts.starts = prefilter.WordStarts.starts, lambda self, list_id, text: None
    try:
        return list(finditer(*args))
    finally:
        prefilter.WordStarts.starts = starts


def test_word_starts_are_every_position_a_listed_word_can_start() -> None:
    starts = prefilter.WordStarts()
    services = starts.add(("ec2", "auto scaling", "instances", "instance"), "^a-z0-9")
    text = " ec2 auto\tscaling, instances xec2 本番"
    assert starts.starts(services, text) == [0, 4, 18]
    later = starts.add(("本番", "prod"), "^a-z0-9")  # a list added after this text was scanned
    assert starts.starts(later, text) == [33] and starts.starts(services, text) == [0, 4, 18]
    assert starts.starts(services, "\u0130 ec2") is None  # a character Hyperscan cannot judge: try every position


def test_hyperscan_form_only_widens() -> None:
    assert prefilter.hyperscan_source(r"\bab\s{1,3}c\w+\d{12}") == r"ab[\s\x0b\x1c-\x1f\x80]{1,}c[\w\x80]+[\d\x80]{12}"
    assert prefilter.hyperscan_source(r"[^a-zダ\s]x[\w.-]ダ") == r"[^a-z\s]x[\w\x80.-][\x80]"


def test_every_triage_pattern_is_prefiltered() -> None:
    assert [source for patterns in SETS for source in patterns.uncompiled()] == []


def test_patterns_added_later_are_judged_without_recompiling_the_first() -> None:
    patterns = prefilter.PatternSet()
    cue = patterns.guarded(r"\bdisk full\b", re.I)
    assert cue.search("the disk full again") and not cue.possible("all fine")
    first = patterns._compiled.databases[0]
    assert not cue.possible("mount it")  # remembered: the next question about this text is not a scan
    late = patterns.guarded(r"(?<![a-z])mount(?![a-z])")
    assert late.possible("mount it")
    broken = patterns.guarded(r"^From: x$\n^Sent:", re.M)  # beyond Hyperscan: always run
    assert late.possible("a mount point") and not late.possible("all fine") and broken.possible("all fine")
    assert patterns._compiled.databases[0] is first and patterns.uncompiled() == [broken.pattern.pattern]


def test_compiled_databases_are_kept_on_disk_and_a_damaged_one_is_compiled_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ITSM_PREFILTER_CACHE", str(tmp_path))
    patterns = {0: re.compile(r"(?<![a-z])outage(?![a-z])", re.I)}
    prefilter._database(patterns)
    [kept] = list(tmp_path.iterdir())
    kept.write_bytes(b"not a database")
    database = prefilter._database(patterns)
    hits = []
    database.scan(
        b"an OUTAGE",
        match_event_handler=lambda pattern_id, *_: hits.append(pattern_id),
        scratch=prefilter.hyperscan.Scratch(database),
    )
    assert hits == [0] and kept.read_bytes() != b"not a database"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(ODD + ["é", "\xff", "\x80", "ﬀ", "😀", "a", " "]), st.text(max_size=4)), max_size=20
    )
)
def test_scanned_bytes_are_the_text_with_every_non_ascii_character_one_0x80(parts: list[str]) -> None:
    text = "".join(parts)
    expected = (
        None
        if any(c in text for c in "\u0130\u0131\u017f\u212a")
        else bytes(ord(c) if ord(c) < 128 else 0x80 for c in text)
    )
    assert prefilter._encoded(text) == expected
    assert prefilter._scan_bytes(text) == expected and prefilter._scan_bytes(text) == expected  # remembered
