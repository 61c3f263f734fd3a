"""`make messages` support: Python files yield their gettext calls and the constant messages of domain errors.

`raise Invalid("The note is empty.")` is a message a person reads (the JSON API's `detail`, a form's error), so its
text goes into the catalogue and `DomainError.detail` is looked up there for the viewer. Variable parts are
`%(name)s` placeholders filled from the error's keyword arguments (`raise NotFound("No deal %(id)s.", id=deal_id)`),
never f-strings: an f-string's text is not in any catalogue (tests/unit/test_i18n.py refuses them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from babel.messages.extract import extract_python

ERROR_CLASSES = frozenset({"DomainError", "Invalid", "Conflict", "NotFound", "Forbidden", "Unauthorized",
                           "TooManyAttempts"})
STORED_SUMMARIES = {"record": 3, "later": 4}
"""Calls that store a text with its catalogue template (`timeline.record(contact, channel, direction, summary,
params=...)`, the demo's `later(at, contact, channel, direction, summary, params=...)`): the summary's position."""


def stored_summary(node: ast.Call) -> ast.expr | None:
    """The summary argument of a call that stores a translatable text (it passes `params=`), else None."""
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    index = STORED_SUMMARIES.get(name)
    if index is None or len(node.args) <= index or not any(k.arg == "params" for k in node.keywords):
        return None
    return node.args[index]


def _constants(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.IfExp):
        yield from _constants(node.body)
        yield from _constants(node.orelse)
    elif isinstance(node, ast.BoolOp):  # `subject or "New %(channel)s in %(queue)s"`
        for value in node.values:
            yield from _constants(value)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value


def extract(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[int, str, Any, list[str]]]:
    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_is_click_command(dec) for dec in node.decorator_list):
            doc = ast.get_docstring(node)  # click shows it (cleaned alike) as the command's help
            if doc:
                yield node.lineno, "_", doc, []
            continue
        if not isinstance(node, ast.Call) or not node.args:
            continue
        summary = stored_summary(node)
        if summary is not None:
            for text in _constants(summary):
                yield node.lineno, "_", text, []
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in ERROR_CLASSES:
            continue
        first = node.args[0]
        for option in (first.body, first.orelse) if isinstance(first, ast.IfExp) else (first,):
            if isinstance(option, ast.Constant) and isinstance(option.value, str):
                yield node.lineno, "_", option.value, []


def _is_click_command(decorator: ast.expr) -> bool:
    """`@main.command()`, `@tenants.command("list")`, `@click.group(...)`: a CLI command whose docstring is help."""
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(func, ast.Attribute) and func.attr in ("command", "group")
