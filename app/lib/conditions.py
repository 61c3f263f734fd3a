"""Condition trees, the one shape automation rules and segments share: `{"all": [...]}`, `{"any": [...]}`,
`{"not": {...}}` and leaves `{"field", "op", "value"}`. Checked for shape when saved (against the fields the caller
offers) and evaluated (pure, no I/O) against loaded records; app.segments compiles the same tree to SQL.

Evaluating returns the result and every leaf that was looked at, with the value it read: the run log and "test
against a record" show them ("would this fire, and why")."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from app.lib.errors import Invalid
from app.lib.i18n import N_


@dataclasses.dataclass(frozen=True)
class Field:
    path: str
    """`entity.name`, or `entity.custom.<key>` for a contact's custom field."""
    label: str
    kind: str
    """text | number | list | choice | datetime: which operators the builder offers."""
    options: tuple[str, ...] = ()


OPS: dict[str, str] = {
    "equals": N_("equals"), "not_equals": N_("does not equal"), "contains": N_("contains"), "in": N_("is one of"),
    "gt": N_("is greater than"), "lt": N_("is less than"), "is_set": N_("is set"), "has_tag": N_("has tag"),
    "time_between": N_("time of day between"),
    "days_ago_lt": N_("fewer days ago than"), "days_ago_gt": N_("more days ago than"),
}
FIELDLESS = frozenset({"has_tag", "time_between"})
"""Operators that read no field of their own: `has_tag` reads contact.tags, `time_between` the clock."""
MAX_DEPTH = 6
MAX_LEAVES = 50


Known = Callable[[str], bool]
"""Whether a field path is one the caller offers (automation: every entity; segments: the contact's)."""


def check(tree: Any, known: Known, *, where: str = "conditions",
          fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """The tree as stored, or Invalid naming the first node that is wrong. An empty tree matches everything."""
    if tree in (None, {}, []):
        return {"all": []}
    leaves = [0]
    _check(tree, where, 0, leaves, known, fields)
    return dict(tree)


def _check(node: Any, where: str, depth: int, leaves: list[int], known: Known,
           fields: tuple[str, ...]) -> None:
    if depth > MAX_DEPTH:
        raise Invalid("Conditions nest at most %(max)s groups deep.", field=where, max=MAX_DEPTH)
    if not isinstance(node, dict) or len(node) == 0:
        raise Invalid("Each condition is a group (all, any, not) or a field with an operator.", field=where)
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if len(node) != 1 or not isinstance(node[key], list):
            raise Invalid("A group %(key)s holds a list of conditions and nothing else.", field=where, key=key)
        for i, child in enumerate(node[key]):
            _check(child, f"{where}.{key}[{i}]", depth + 1, leaves, known, fields)
        return
    if "not" in node:
        if len(node) != 1:
            raise Invalid("A group not holds one condition and nothing else.", field=where)
        _check(node["not"], f"{where}.not", depth + 1, leaves, known, fields)
        return
    leaves[0] += 1
    if leaves[0] > MAX_LEAVES:
        raise Invalid("A rule has at most %(max)s conditions.", field=where, max=MAX_LEAVES)
    op = node.get("op")
    if op not in OPS:
        raise Invalid("Unknown operator %(op)s; choose one of: %(choices)s.", field=f"{where}.op", op=repr(op),
                      choices=", ".join(OPS))
    if op not in FIELDLESS and not known(str(node.get("field", ""))):
        raise Invalid("Unknown field %(name)s.", field=f"{where}.field", extra={"fields": list(fields)},
                      name=repr(node.get("field")))
    value = node.get("value")
    if op == "in" and not isinstance(value, list):
        raise Invalid("The operator in needs a list of values.", field=f"{where}.value")
    if op in ("gt", "lt", "days_ago_lt", "days_ago_gt") and (not isinstance(value, (int, float))
                                                         or isinstance(value, bool)):
        raise Invalid("The operator %(op)s needs a number.", field=f"{where}.value", op=op)
    if op == "time_between":
        _window(value, f"{where}.value")
    if op == "has_tag" and not (isinstance(value, str) and value.strip()):
        raise Invalid("has tag needs the tag.", field=f"{where}.value")


def _window(value: Any, where: str) -> tuple[dt.time, dt.time]:
    """`"09:00-17:30"` as two times (a window past midnight, "22:00-06:00", is allowed)."""
    try:
        start, end = str(value).split("-")
        return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    except ValueError:
        raise Invalid("Time of day between needs a window like 09:00-17:30.", field=where) from None


def read(context: dict[str, Any], path: str) -> Any:
    """The value at `entity.name[.key]` of the loaded records (None when the event has no such record)."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclasses.dataclass
class Evaluation:
    matched: bool
    leaves: list[dict[str, Any]]


def evaluate(tree: dict[str, Any], context: dict[str, Any], *, now: dt.datetime,
             zone: zoneinfo.ZoneInfo) -> Evaluation:
    """Evaluate every leaf (no short-circuit: the log shows each leaf's value and result)."""
    leaves: list[dict[str, Any]] = []
    matched = _eval(tree or {"all": []}, context, now.astimezone(zone), leaves)
    return Evaluation(matched, leaves)


def _eval(node: dict[str, Any], context: dict[str, Any], local: dt.datetime, leaves: list[dict[str, Any]]) -> bool:
    if "all" in node:
        return all([_eval(child, context, local, leaves) for child in node["all"]])
    if "any" in node:
        return any([_eval(child, context, local, leaves) for child in node["any"]])
    if "not" in node:
        return not _eval(node["not"], context, local, leaves)
    op, path, expected = node["op"], node.get("field", ""), node.get("value")
    if op == "has_tag":
        path = "contact.tags"
    actual = local.strftime("%H:%M") if op == "time_between" else read(context, path)
    try:
        result = _test(op, actual, expected, local)
    except (TypeError, ValueError):
        result = False
    leaves.append({"field": path, "op": op, "value": expected, "actual": _shown(actual), "result": result})
    return result


def _shown(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value][:20]
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise TypeError
    return float(value)


def _test(op: str, actual: Any, expected: Any, local: dt.datetime) -> bool:
    if op == "is_set":
        return actual not in (None, "", [], {})
    if op == "equals":
        return _norm(actual) == _norm(expected) or (isinstance(actual, (int, float)) and str(actual) == str(expected))
    if op == "not_equals":
        return not _test("equals", actual, expected, local)
    if op in ("contains", "has_tag"):
        if isinstance(actual, list):
            return _norm(expected) in [_norm(v) for v in actual]
        return isinstance(actual, str) and str(_norm(expected)) in actual.casefold()
    if op == "in":
        return _norm(actual) in [_norm(v) for v in expected] or str(actual) in [str(v) for v in expected]
    if op == "gt":
        return _number(actual) > _number(expected)
    if op == "lt":
        return _number(actual) < _number(expected)
    if op in ("days_ago_lt", "days_ago_gt"):
        if not isinstance(actual, dt.datetime):
            return False
        days = (local - actual).total_seconds() / 86400
        return days < _number(expected) if op == "days_ago_lt" else days > _number(expected)
    if op == "time_between":
        start, end = _window(expected, "value")
        now = local.time().replace(tzinfo=None)
        return start <= now < end if start <= end else (now >= start or now < end)
    raise ValueError(op)
