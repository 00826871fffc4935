"""ADF builders produce schema-valid documents; plain-text rendering and marker sections."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from include.itsm.core import adf

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "include/itsm/devstack/specs/adf-schema-v1-full.json").read_text()
)
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


def test_every_builder_is_schema_valid():
    document = adf.doc(
        adf.heading("Change record", 1),
        adf.paragraph(["Owner: ", adf.text("SRE", bold=True)]),
        adf.paragraph("line one\nline two"),
        adf.paragraph(),
        adf.panel([adf.paragraph("Approved"), adf.bullet_list(["a", ["b ", adf.text("c", code=True)]])], "success"),
        adf.table(["account", "instances"], [["prod", 12], ["dev", None]]),
        adf.code_block("aws ec2 describe-instances", "bash"),
        adf.code_block(""),
        adf.rule(),
        adf.marker("step:triage"),
        adf.paragraph(adf.text("runbook", link="https://example.com/rb")),
    )
    assert list(VALIDATOR.iter_errors(document)) == []
    assert list(VALIDATOR.iter_errors(adf.from_text("a\n\nb\nc"))) == []


def test_builders_refuse_what_adf_refuses():
    with pytest.raises(ValueError, match="table"):
        adf.panel([adf.table(["a"], [["1"]])])
    with pytest.raises(ValueError):
        adf.text("")
    with pytest.raises(ValueError):
        adf.table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError):
        adf.marker("has space")


def test_plain_text_rendering():
    document = adf.doc(
        adf.heading("Title"),
        adf.paragraph("one\ntwo"),
        adf.bullet_list(["x", "y"]),
        adf.table(["k", "v"], [["a", 1]]),
        adf.rule(),
        adf.code_block("code"),
    )
    assert adf.to_plain_text(document) == "Title\none\ntwo\n- x\n- y\nk | v\na | 1\n---\ncode"
    assert adf.to_plain_text(None) == ""


def test_marker_and_with_marker_do_not_repeat():
    body = adf.with_marker("step:x", adf.doc(adf.paragraph("hello")))
    assert adf.starts_with_marker(body, "step:x") and not adf.starts_with_marker(body, "step:y")
    assert adf.with_marker("step:x", body) == body


def test_replace_section_appends_replaces_and_heals():
    original = adf.doc(adf.paragraph("customer text"))
    once = adf.replace_section(original, "triage", [adf.paragraph("v1")])
    assert adf.to_plain_text(once) == "customer text\n[itsm:begin:triage]\nv1\n[itsm:end:triage]"
    twice = adf.replace_section(once, "triage", [adf.paragraph("v2")])
    assert adf.to_plain_text(twice) == "customer text\n[itsm:begin:triage]\nv2\n[itsm:end:triage]"
    # a section duplicated (or its end marker deleted) by hand collapses back into one
    damaged = adf.doc(once["content"] + [adf.paragraph("after")] + once["content"][1:3])
    healed = adf.replace_section(damaged, "triage", [adf.paragraph("v3")])
    assert adf.to_plain_text(healed).count("[itsm:begin:triage]") == 1
    assert adf.to_plain_text(healed).startswith("customer text\n[itsm:begin:triage]\nv3")
    other = adf.replace_section(twice, "labels", [adf.paragraph("L")])
    assert "v2" in adf.to_plain_text(other) and adf.to_plain_text(other).endswith("L\n[itsm:end:labels]")
    assert list(VALIDATOR.iter_errors(other)) == []
