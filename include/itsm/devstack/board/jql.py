"""The JQL subset the project sends, compiled to a predicate over the store's issue dicts.

Unknown fields, operators or syntax raise `JqlError`, which the app turns into Jira's 400, so
a query the board cannot answer exactly is refused instead of silently answered wrong. A query
with no search restriction (empty, or only ORDER BY) is unbounded, which /search/jql refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from include.itsm.devstack.board import catalog

Issue = dict
Predicate = Callable[[Issue], bool]

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|=|~|>|<|\(|\)|,)"""
    r"""|(?P<word>[^\s=!<>~(),"']+))"""
)
_RELATIVE = re.compile(r"^([+-]?\d+)([wdhm])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
MAX_NESTING = 100  # parentheses and NOTs; deeper queries are refused, never a RecursionError
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."


class JqlError(ValueError):
    """A query outside the subset (or malformed); the message is what Jira would show."""


def _tokens(jql: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    jql = jql.strip()
    while pos < len(jql):
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        pos = m.end()
        if m.group("str") is not None:
            raw = m.group("str")[1:-1]
            out.append(("value", re.sub(r"\\(.)", r"\1", raw)))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        elif m.group("word") is not None:
            out.append(("word", m.group("word")))
    return out


def _date(value: str) -> datetime:
    try:
        m = _RELATIVE.match(value)
        if m:
            return datetime.now(UTC) + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except (ValueError, OverflowError) as exc:  # OverflowError: a period beyond the calendar
        raise JqlError(
            f"Date value '{value}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
            "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# field name -> (kind, getter)
_FIELDS: dict[str, tuple[str, Callable[[Issue], object]]] = {
    "project": ("text", lambda i: i["project"]),
    "status": ("text", lambda i: i["status"]),
    "statuscategory": ("text", lambda i: catalog.STATUSES[i["status"]][3]),
    "issuetype": ("text", lambda i: i["issue_type"]),
    "type": ("text", lambda i: i["issue_type"]),
    "priority": ("text", lambda i: i["priority"]),
    "labels": ("list", lambda i: i["labels"]),
    "key": ("key", lambda i: i["num"]),
    "issuekey": ("key", lambda i: i["num"]),
    "parent": ("text", lambda i: i["parent_key"]),
    "reporter": ("text", lambda i: i["reporter"]),
    "summary": ("contains", lambda i: i["summary"]),
    "created": ("date", lambda i: _as_dt(i["created"])),
    "updated": ("date", lambda i: _as_dt(i["updated"])),
    "resolved": ("date", lambda i: _as_dt(i["resolved"])),
    "resolutiondate": ("date", lambda i: _as_dt(i["resolved"])),
}
_CATEGORY_KEYS = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
_ORDERABLE = {"created": "created", "key": "num", "issuekey": "num", "updated": "updated", "resolved": "resolved"}


class _Parser:
    def __init__(self, jql: str) -> None:
        self.toks = _tokens(jql)
        self.pos = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def peek_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise JqlError("Error in the JQL Query: the query ended unexpectedly.")
        self.pos += 1
        return tok

    def expect_op(self, op: str) -> None:
        tok = self.take()
        if tok != ("op", op):
            raise JqlError(f"Error in the JQL Query: expecting '{op}' but got '{tok[1]}'.")

    def parse(self) -> tuple[Predicate | None, list[tuple[str, bool]]]:
        pred = None if self.peek() is None or self.peek_word("order") else self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.peek_word("order"):
            self.take()
            if not self.peek_word("by"):
                raise JqlError("Error in the JQL Query: expecting 'by' after 'order'.")
            self.take()
            while True:
                field = self.take()[1].lower()
                if field not in _ORDERABLE:
                    raise JqlError(f"Not able to sort using field '{field}'.")
                desc = False
                if self.peek_word("asc", "desc"):
                    desc = self.take()[1].lower() == "desc"
                order.append((_ORDERABLE[field], desc))
                if self.peek() != ("op", ","):
                    break
                self.take()
        if self.peek() is not None:
            raise JqlError(f"Error in the JQL Query: unexpected '{self.peek()[1]}'.")
        return pred, order

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek_word("or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.peek_word("and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def unary(self) -> Predicate:
        if not (self.peek_word("not") or self.peek() == ("op", "(")):
            return self.clause()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise JqlError(f"Error in the JQL Query: the query nests more than {MAX_NESTING} levels deep.")
        if self.take()[0] == "word":  # NOT
            inner = self.unary()
            result = lambda i: not inner(i)  # noqa: E731
        else:
            result = self.or_expr()
            self.expect_op(")")
        self.depth -= 1
        return result

    def value(self) -> str:
        kind, val = self.take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: expecting a value but got '{val}'.")
        return val

    def clause(self) -> Predicate:
        kind, name = self.take()
        field = name.lower()
        if kind != "word" or field not in _FIELDS:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        ftype, getter = _FIELDS[field]
        if self.peek_word("is"):
            self.take()
            negate = self.peek_word("not")
            if negate:
                self.take()
            if not self.peek_word("empty", "null"):
                raise JqlError("Error in the JQL Query: expecting EMPTY after IS.")
            self.take()
            return lambda i: bool(getter(i)) if negate else not getter(i)
        if self.peek_word("in", "not"):
            negate = self.take()[1].lower() == "not"
            if negate and not self.peek_word("in"):
                raise JqlError("Error in the JQL Query: expecting 'in' after 'not'.")
            if negate:
                self.take()
            self.expect_op("(")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.take()
                values.append(self.value())
            self.expect_op(")")
            test = self.matcher(field, ftype, getter, "=", values)
            return (lambda i: not test(i)) if negate else test
        kind, op = self.take()
        if kind != "op" or op in "(),":
            raise JqlError(f"Error in the JQL Query: expecting an operator after '{name}'.")
        return self.matcher(field, ftype, getter, op, [self.value()])

    def matcher(self, field: str, ftype: str, getter, op: str, values: list[str]) -> Predicate:
        if ftype == "date":
            if op not in ("=", "!=", ">", ">=", "<", "<="):
                raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
            bound = _date(values[0])
            compare = {
                "=": lambda a: a == bound,
                "!=": lambda a: a != bound,
                ">": lambda a: a > bound,
                ">=": lambda a: a >= bound,
                "<": lambda a: a < bound,
                "<=": lambda a: a <= bound,
            }[op]
            return lambda i: (v := getter(i)) is not None and compare(v)
        if ftype == "contains":
            if op not in ("~", "!~"):
                raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
            needle = values[0].lower()
            return lambda i: (needle in (getter(i) or "").lower()) == (op == "~")
        if op not in ("=", "!="):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        wanted = {self.normalise(field, v) for v in values}
        if ftype == "list":
            test = lambda i: any(label in wanted for label in getter(i))  # noqa: E731
        elif ftype == "key":
            test = lambda i: f"{i['project']}-{getter(i)}".upper() in wanted  # noqa: E731
        else:
            test = lambda i: (str(getter(i)).lower() if getter(i) is not None else None) in wanted  # noqa: E731
        return test if op == "=" else (lambda i: not test(i))

    @staticmethod
    def normalise(field: str, value: str) -> str:
        if field == "project":
            if value.upper() not in catalog.PROJECTS:
                raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
            return value.lower()
        if field == "statuscategory":
            return _CATEGORY_KEYS.get(value.lower(), value).lower()
        if field in ("key", "issuekey"):
            return value.upper()
        if field == "labels":
            return value
        return value.lower()


def compile_jql(jql: str) -> tuple[Predicate | None, list[tuple[str, bool]]]:
    """(predicate, [(sort column, descending), ...]) for a JQL string; predicate None: no restriction."""
    return _Parser(jql or "").parse()


def search(issues: list[Issue], jql: str) -> list[Issue]:
    """The issues matching `jql`, in its ORDER BY (default: newest first, as Jira); unbounded JQL is refused."""
    pred, order = compile_jql(jql)
    if pred is None:
        raise JqlError(UNBOUNDED)
    found = [i for i in issues if pred(i)]
    for column, desc in reversed(order or [("created", True)]):
        found.sort(key=lambda i: (i[column] is None, i[column] or "", i["id"]), reverse=desc)
    return found
