"""`make messages` support: Python files yield their gettext calls and the constant messages of domain errors.

`raise Invalid("The note is empty.")` is a message a person reads (the JSON API's `detail`, a form's error), so its
text goes into the catalogue and `DomainError.detail` is looked up there for the viewer. Messages built with
f-strings are left out: they stay English until they are written with `%(name)s` placeholders.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from babel.messages.extract import extract_python

ERROR_CLASSES = frozenset({"DomainError", "Invalid", "Conflict", "NotFound", "Forbidden", "Unauthorized",
                           "TooManyAttempts"})


def extract(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[int, str, Any, list[str]]]:
    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        first = node.args[0]
        if name in ERROR_CLASSES and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield node.lineno, "_", first.value, []
