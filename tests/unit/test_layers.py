"""The layers hold: the import-linter contracts of pyproject.toml pass (and catch an upward import), and an import
inside a function is there only where a `# deferred import: <reason>` comment says why."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "tenants", "realtime", "telephony")
MARK = "# deferred import:"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def function_local_imports(source: str) -> list[tuple[int, bool]]:
    """(line, explained) for every import statement inside a function of `source`. Explained: the import's line,
    or the comment lines right above it, carry `# deferred import: <reason>` with a reason after the colon."""
    lines = source.splitlines()
    found: dict[int, bool] = {}
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in found:
                comments = [lines[node.lineno - 1]]
                i = node.lineno - 2
                while i >= 0 and lines[i].strip().startswith("#"):
                    comments.append(lines[i])
                    i -= 1
                found[node.lineno] = any(MARK in c and c.split(MARK, 1)[1].strip() for c in comments)
    return sorted(found.items())


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py")) if "piccolo_migrations" not in p.parts]


def test_the_checker_tells_an_explained_import_from_a_bare_one() -> None:
    source = '''
import os

def bare():
    import json
    return json

async def explained():
    # deferred import: optional dependency, only when REDIS_URL is set
    import redis
    return redis

def empty_reason():
    import csv  # deferred import:
    return csv

def nested():
    def inner():
        from pathlib import Path  # deferred import: a real cycle, a -> b -> a
        return Path
    return inner
'''
    assert function_local_imports(source) == [(5, False), (10, True), (14, False), (19, True)]


def test_every_function_local_import_says_why() -> None:
    bare = []
    explained = 0
    for path in _sources():
        for line, ok in function_local_imports(path.read_text()):
            if ok:
                explained += 1
            else:
                bare.append(f"{path.relative_to(ROOT)}:{line}")
    assert not bare, (
        "imports inside functions hide import cycles; import at the top of the module, or say why it must wait "
        f"with a `{MARK} <reason>` comment (an optional dependency, or the cycle by name): {bare}")
    # Today: the embedded PostgreSQL and psutil (optional at run time), realtime.publish -> realtime.runtime (a cycle).
    assert explained <= 5, f"{explained} deferred imports: a cycle may be growing back; see tests/unit/test_layers.py"


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_layer_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "broken." in result.stdout, result.stdout


def test_the_contracts_catch_an_upward_import_and_a_channel_importing_another(tmp_path: Path) -> None:
    """A copy of the code with two forbidden imports added: the base importing a domain, one channel another."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "app" / "lib" / "_probe.py").write_text("from app.orders import services  # noqa: F401\n")
    (tmp_path / "telephony" / "_probe.py").write_text("from app.chat import services  # noqa: F401\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _lint_imports(tmp_path, env)
    assert result.returncode != 0, result.stdout
    assert "2 broken" in result.stdout, result.stdout
    assert "app.lib._probe -> app.orders.services" in result.stdout, result.stdout
    assert "telephony._probe -> app.chat.services" in result.stdout, result.stdout
