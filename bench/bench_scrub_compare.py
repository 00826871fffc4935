"""Scrub throughput and recall against Presidio on the same texts (same process).

Presidio's default pipeline needs the spaCy model `en_core_web_lg`, which is not on PyPI
(model downloads at run time are not allowed here), so the comparison runs Presidio
(`presidio-analyzer` + `presidio-anonymizer`, optional: not in requirements.txt) with a blank
English spaCy pipeline: its pattern recognisers (e-mail, phone, IP, credit card, URL, ...)
without NER. That is Presidio's fastest configuration and it cannot find names, so its recall
here is an upper bound on speed, not on quality. Recall is measured on the labelled scrub sets
(tests/data/scrub_set.jsonl + scrub_holdout.jsonl): a PII value counts as caught when it no
longer appears in the output.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench._common import Result, timed
from bench.bench_scrub import generate
from include.itsm.domain.scrub import scrub

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def _labelled() -> list[dict]:
    return [json.loads(line) for name in ("scrub_set.jsonl", "scrub_holdout.jsonl")
            for line in (DATA / name).read_text().splitlines() if line.strip()]


def recall(records: list[dict], clean) -> float:
    total = caught = 0
    for record in records:
        out = clean(record["text"])
        for pii in record["pii"]:
            total += 1
            caught += pii["value"] not in out
    return caught / total if total else 1.0


def presidio_cleaner():
    """Presidio with a blank spaCy pipeline (pattern recognisers only), or None if not installed."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_anonymizer import AnonymizerEngine
    except ImportError:
        return None

    try:  # the e-mail recogniser's tldextract: the bundled suffix list, never a download
        import logging

        import tldextract

        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    except ImportError:
        pass

    class BlankSpacy(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    anonymizer = AnonymizerEngine()

    def clean(text: str) -> str:
        return anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text=text, language="en")).text

    return clean


def run(quick: bool) -> Result:
    from tests.unit.test_scrub import demo_registers

    registers = demo_registers()
    texts = generate(2_000 if quick else 10_000)
    size_mb = sum(len(t.encode()) for t in texts) / 1e6
    ours = lambda text: scrub(text, registers).text  # noqa: E731
    ours(texts[0])
    ours_s, _ = timed(lambda: [ours(t) for t in texts], repeat=2)
    labelled = _labelled()
    ours_recall = recall(labelled, ours)
    result = Result(name="scrub vs Presidio", target=">= 50x Presidio at equal or better recall", ratio_label="ours/Presidio speed")
    result.figures["ours"] = f"{len(texts) / ours_s:,.0f} texts/s ({size_mb / ours_s:.2f} MB/s), recall {ours_recall:.3f}"
    presidio = presidio_cleaner()
    if presidio is None:
        result.note = "presidio-analyzer not installed (optional: pip install presidio-analyzer presidio-anonymizer)"
        return result
    sample = texts[: max(200, len(texts) // 10)]  # Presidio is slow: time a tenth, report per text
    presidio(sample[0])
    p_s, _ = timed(lambda: [presidio(t) for t in sample], repeat=2)
    ours_s = min(ours_s, timed(lambda: [ours(t) for t in texts])[0])  # interleaved: both see the same load
    result.figures["ours"] = f"{len(texts) / ours_s:,.0f} texts/s ({size_mb / ours_s:.2f} MB/s), recall {ours_recall:.3f}"
    p_recall = recall(labelled, presidio)
    p_rate = len(sample) / p_s
    result.figures["Presidio (blank spaCy, pattern recognisers)"] = f"{p_rate:,.0f} texts/s, recall {p_recall:.3f}"
    result.ratio = (len(texts) / ours_s) / p_rate
    result.passed = result.ratio >= 50 and ours_recall >= p_recall
    result.note = ("Presidio's default pipeline needs en_core_web_lg (not on PyPI; no run-time model downloads): "
                   "compared with a blank spaCy pipeline, Presidio's fastest configuration (no NER, so no names)")
    return result
