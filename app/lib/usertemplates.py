"""The one Jinja sandbox for templates people write (email templates and snippets, order status emails).

Immutable sandbox: a template reads plain data (dicts of strings) and can neither reach Python internals nor change
what it is given. No autoescape: the output is plain text (email bodies are turned into HTML afterwards by
markdown with raw HTML disabled). Callers choose only whitespace handling."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["parse", "template"]


@functools.cache
def _sandbox(trim_blocks: bool, keep_trailing_newline: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=False, trim_blocks=trim_blocks,
                                         keep_trailing_newline=keep_trailing_newline)


def template(text: str, *, trim_blocks: bool = False, keep_trailing_newline: bool = False) -> Template:
    """The template, ready to `.render(**plain_data)`; raises jinja2.TemplateError (syntax or sandbox)."""
    return _sandbox(trim_blocks, keep_trailing_newline).from_string(text or "")


def parse(text: str, *, trim_blocks: bool = False, keep_trailing_newline: bool = False) -> Any:
    """Check the syntax only (variables are not known yet); raises jinja2.TemplateError."""
    return _sandbox(trim_blocks, keep_trailing_newline).parse(text or "")
