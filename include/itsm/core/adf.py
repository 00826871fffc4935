"""Atlassian Document Format (ADF) builders and readers.

Jira Cloud v3 takes descriptions and comments only as ADF documents, and rejects nodes the
schema does not allow (empty text nodes, a table inside a panel, ...). Every step builds its
ticket output with these helpers so that what we send is valid by construction, and reads
ticket text back through `to_plain_text`. Pure functions over plain dicts: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

Node = dict

PANEL_TYPES = ("info", "note", "warning", "success", "error")
# Marker text is kept small and grey: visible to a human (so nobody deletes it by surprise)
# but out of the way. Steps find their own comment / description section by it.
_MARKER_MARKS = ({"type": "subsup", "attrs": {"type": "sub"}}, {"type": "textColor", "attrs": {"color": "#97a0af"}})
_MARKER_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def text(value: str, *, bold: bool = False, code: bool = False, link: str | None = None) -> Node:
    """One inline text node; ADF forbids empty text, so callers must not pass ''."""
    if not value:
        raise ValueError("ADF text nodes may not be empty")
    marks = []
    if bold:
        marks.append({"type": "strong"})
    if code:
        marks.append({"type": "code"})
    if link:
        marks.append({"type": "link", "attrs": {"href": link}})
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = marks
    return node


def _inline(content: str | Node | Sequence[str | Node]) -> list[Node]:
    items = [content] if isinstance(content, (str, dict)) else list(content)
    return [text(item) if isinstance(item, str) else item for item in items if item != ""]


def paragraph(content: str | Node | Sequence[str | Node] = "") -> Node:
    """A paragraph of inline nodes; lines of a string become hard breaks."""
    if isinstance(content, str) and "\n" in content:
        parts: list[Node] = []
        for i, line in enumerate(content.split("\n")):
            if i:
                parts.append({"type": "hardBreak"})
            if line:
                parts.append(text(line))
        content = parts
    inline = _inline(content)
    return {"type": "paragraph", "content": inline} if inline else {"type": "paragraph"}


def heading(value: str, level: int = 2) -> Node:
    if not 1 <= level <= 6:
        raise ValueError("heading level must be 1..6")
    return {"type": "heading", "attrs": {"level": level}, "content": [text(value)]}


def code_block(value: str, language: str | None = None) -> Node:
    node: Node = {"type": "codeBlock", "content": [text(value)] if value else []}
    if language:
        node["attrs"] = {"language": language}
    return node


def bullet_list(items: Iterable[str | Node | Sequence[str | Node]]) -> Node:
    """A bullet list; each item is a paragraph's worth of inline content."""
    list_items = [{"type": "listItem", "content": [paragraph(item)]} for item in items]
    if not list_items:
        raise ValueError("ADF bullet lists need at least one item")
    return {"type": "bulletList", "content": list_items}


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Node:
    """A table with a header row; cell values are rendered with str()."""

    def cell(kind: str, value: object) -> Node:
        return {"type": kind, "content": [paragraph("" if value is None else str(value))]}

    body = [{"type": "tableRow", "content": [cell("tableHeader", h) for h in headers]}]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row {row!r} has {len(row)} cells, expected {len(headers)}")
        body.append({"type": "tableRow", "content": [cell("tableCell", v) for v in row]})
    return {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": body}


def panel(nodes: Sequence[Node], panel_type: str = "info") -> Node:
    """A panel; ADF allows no table inside one (put tables beside the panel instead)."""
    if panel_type not in PANEL_TYPES:
        raise ValueError(f"panel type must be one of {PANEL_TYPES}")
    for node in nodes:
        if node.get("type") == "table":
            raise ValueError("ADF panels may not contain a table; put the table beside the panel")
    return {"type": "panel", "attrs": {"panelType": panel_type}, "content": list(nodes)}


def rule() -> Node:
    return {"type": "rule"}


def doc(*nodes: Node | Iterable[Node]) -> Node:
    """A document from nodes or iterables of nodes (flattened)."""
    content: list[Node] = []
    for node in nodes:
        content.extend([node] if isinstance(node, dict) else node)
    return {"type": "doc", "version": 1, "content": content}


def from_text(value: str) -> Node:
    """Plain text to a document, one paragraph per blank-line separated block."""
    blocks = [b for b in re.split(r"\n\s*\n", value.strip()) if b.strip()]
    return doc([paragraph(b) for b in blocks])


_BLOCK_TYPES = {
    "paragraph",
    "heading",
    "codeBlock",
    "blockquote",
    "listItem",
    "tableRow",
    "panel",
    "rule",
    "bulletList",
    "orderedList",
    "table",
    "mediaSingle",
    "mediaGroup",
    "expand",
    "nestedExpand",
    "decisionList",
    "taskList",
    "decisionItem",
    "taskItem",
}


MAX_DEPTH = 100  # real documents nest a few levels; hostile ones would exhaust the stack


class AdfTooDeep(ValueError):
    """An ADF document nests deeper than MAX_DEPTH (refused with a clear error, never a RecursionError)."""


def to_plain_text(node: Node | None, _depth: int = 0) -> str:
    """Render ADF as plain text (what extractors and text-only renderers read)."""
    if not node:
        return ""
    lines: list[str] = []
    current: list[str] = []
    prefix: list[str] = []  # a list item's "- ", written before its first text

    def emit(value: str) -> None:
        current.extend(prefix)
        prefix.clear()
        current.append(value)

    def flush() -> None:
        if current:
            lines.append("".join(current).rstrip())
            current.clear()

    def walk(n: Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise AdfTooDeep(f"ADF nested deeper than {MAX_DEPTH} levels")
        kind = n.get("type")
        if kind == "text":
            emit(n.get("text", ""))
        elif kind == "hardBreak":
            flush()
        elif kind in ("mention", "emoji"):
            emit(n.get("attrs", {}).get("text", ""))
        elif kind == "inlineCard":
            emit(n.get("attrs", {}).get("url", ""))
        elif kind == "tableRow":
            flush()
            cells = [
                to_plain_text({"type": "doc", "content": c.get("content", [])}, depth + 1) for c in n.get("content", [])
            ]
            lines.append(" | ".join(c.replace("\n", " ") for c in cells))
        elif kind == "rule":
            flush()
            lines.append("---")
        else:
            if kind in _BLOCK_TYPES:
                flush()
            if kind == "listItem":
                prefix[:] = ["- "]
            for child in n.get("content", []) or []:
                walk(child, depth + 1)
            if kind in _BLOCK_TYPES:
                flush()

    walk(node, _depth)
    flush()
    return "\n".join(lines).strip()


def marker(tag: str) -> Node:
    """The small marker paragraph `[itsm:<tag>]` by which a step finds its own output again."""
    if not _MARKER_ID.match(tag.replace(":", "")):
        raise ValueError(f"marker tag {tag!r} may hold only letters, digits, '.', '_', '-' and ':'")
    return {"type": "paragraph", "content": [{"type": "text", "text": f"[itsm:{tag}]", "marks": list(_MARKER_MARKS)}]}


def is_marker(node: Node, tag: str) -> bool:
    return node.get("type") == "paragraph" and to_plain_text(node) == f"[itsm:{tag}]"


def starts_with_marker(document: Node | None, tag: str) -> bool:
    content = (document or {}).get("content") or []
    return bool(content) and is_marker(content[0], tag)


def with_marker(tag: str, body: Node) -> Node:
    """`body` (a doc) with the marker paragraph first (any existing one is not repeated)."""
    content = list(body.get("content") or [])
    if content and is_marker(content[0], tag):
        content = content[1:]
    return doc(marker(tag), content)


def replace_section(document: Node | None, section_id: str, nodes: Sequence[Node]) -> Node:
    """Replace the section between `[itsm:begin:<id>]` and `[itsm:end:<id>]`, or append it.

    Every existing copy of the section is removed and the new one goes where the first was,
    so a description damaged by hand (or an end marker deleted) heals instead of growing.
    """
    begin, end = f"begin:{section_id}", f"end:{section_id}"
    section = [marker(begin), *nodes, marker(end)]
    content = list((document or {}).get("content") or [])
    kept: list[Node] = []
    insert_at: int | None = None
    inside = False
    for node in content:
        if is_marker(node, begin):
            inside = True
            if insert_at is None:
                insert_at = len(kept)
            continue
        if inside:
            inside = not is_marker(node, end)
            continue
        if is_marker(node, end):
            continue
        kept.append(node)
    if insert_at is None:
        insert_at = len(kept)
    return doc(kept[:insert_at], section, kept[insert_at:])
