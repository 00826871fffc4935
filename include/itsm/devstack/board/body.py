"""Reading request bodies and fields the way Jira Cloud does, so a malformed request is a 400, never a 500.

Jira's JSON parser (Jackson) refuses bodies that are not UTF-8 JSON, `NaN`/`Infinity`, numbers
longer than 1,000 digits and nesting deeper than 1,000 levels; the board also refuses strings
holding a lone UTF-16 surrogate, which its SQLite store cannot keep. Jira's field handlers then
answer a value of the wrong JSON type with "data was not an object" / "data was not an array" /
"Operation value must be a string", and enforce the text limits below.
"""

from __future__ import annotations

import json
import re

from include.itsm.devstack.board.validation import RequestInvalid

MAX_NESTING = 1000  # Jackson's StreamReadConstraints defaults
MAX_NUMBER_DIGITS = 1000
MAX_TEXT = 32767  # Jira Cloud's limit for a text field (description, comment), on its stored ADF JSON
MAX_SUMMARY = 255
MAX_LABEL = 255
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
NOT_OBJECT = "data was not an object"
NOT_ARRAY = "data was not an array"
NOT_STRING = "Operation value must be a string"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(text: str) -> int:
    """How deep `text`'s arrays and objects nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _number(kind):
    def parse(text: str):
        if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise ValueError(f"Number value length ({len(text)}) exceeds the maximum allowed ({MAX_NUMBER_DIGITS})")
        return kind(text)

    return parse


def _not_json(name: str):
    raise ValueError(f"Non-standard token '{name}': JSON numbers must be finite")


def parse_json(raw: bytes) -> object:
    """The JSON value of a request body, or RequestInvalid saying why Jira's parser would refuse it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestInvalid(
            [f"Invalid UTF-8 start byte 0x{raw[exc.start]:02x} at byte {exc.start}: the body must be UTF-8 JSON."]
        ) from exc
    text = text.removeprefix("\ufeff")
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise RequestInvalid([f"Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_NESTING})."])
    try:
        value = json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise RequestInvalid([f"Unexpected character at line {exc.lineno}, column {exc.colno}: {exc.msg}."]) from exc
    except ValueError as exc:
        raise RequestInvalid([f"{exc}."]) from exc
    where = lone_surrogate(value)
    if where is not None:
        raise RequestInvalid([], {where or "body": "The text holds a lone UTF-16 surrogate, which is not a character."})
    return value


def lone_surrogate(value: object) -> str | None:
    """The dotted path of the first key or string holding a lone surrogate, or None (iterative: no depth limit)."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return path
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    return path or "body"
                stack.append((child_path, child))
        elif isinstance(node, list):
            stack.extend((f"{path}.{n}" if path else str(n), child) for n, child in enumerate(node))
    return None


def without_nulls(value: object) -> object:
    """`value` with null object members dropped: Jackson maps a null member to an absent one."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def stored_length(document: object) -> int:
    """The characters an ADF document takes in Jira's store (its compact JSON)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def as_object(value: object, field: str, errors: dict[str, str]) -> dict:
    """`value` if it is an object (None: empty); else records Jira's error for `field`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[field] = NOT_OBJECT
        return {}
    return value


def as_text(value: object, field: str, errors: dict[str, str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    errors[field] = NOT_STRING
    return None


def as_labels(value: object, errors: dict[str, str]) -> list[str]:
    """Labels as Jira takes them: an array of non-empty strings, each without spaces and <= 255 characters."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors["labels"] = NOT_ARRAY
        return []
    for label in value:
        if not isinstance(label, str):
            errors["labels"] = NOT_STRING
        elif not label or any(c.isspace() for c in label):
            errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        elif len(label) > MAX_LABEL:
            errors["labels"] = (
                f"The label '{label[:40]}...' exceeds the maximum length for a single label of 255 characters."
            )
        else:
            continue
        return []
    return list(dict.fromkeys(value))


def check_summary(value: object, errors: dict[str, str]) -> str | None:
    summary = as_text(value, "summary", errors)
    if summary is not None and len(summary) > MAX_SUMMARY:
        errors["summary"] = "Summary can't exceed 255 characters."
        return None
    return summary


def check_text_length(field: str, document: object, errors: dict[str, str]) -> None:
    if document is not None and stored_length(document) > MAX_TEXT:
        errors[field] = TOO_LONG
