"""Schemathesis against the real server: `uvicorn app.asgi:create_app` in its own process, a shop signed up through
the API, its API key on every request, every operation of `/schema` with a few generated cases each (the coverage
phase's boundary and invalid values, then a few fuzzed ones). No answer may be a 5xx, every status code answered
must be one `/schema` documents, and data that breaks the schema must be refused (negative_data_rejection).
About 4,500 requests; under a minute on an idle 2-core machine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import ServerProcess

pytestmark = pytest.mark.xdist_group("schemathesis")

CHECKS = "not_a_server_error,status_code_conformance,negative_data_rejection"
# Operations left out, and why: revoking API keys would revoke the key the run itself uses, and the
# run would go on with nothing but 404s.
EXCLUDE_PATH_REGEX = r"/api-keys/\{"


@pytest.fixture
async def fx_server(fx_db: str) -> AsyncIterator[ServerProcess]:
    server = ServerProcess({"DATABASE_URL": fx_db, "BASE_URL": "http://testserver.local", "EMBEDDED_WORKER": "false",
                            "MAIL_CATCHER": "false"}).start()
    try:
        await server.wait_ready()
        yield server
    finally:
        server.stop()


async def _signed_up_shop(base: str) -> tuple[str, str]:
    slug = f"fuzz_{os.urandom(4).hex()}"
    async with httpx.AsyncClient(base_url=base) as client:
        made = await client.post("/api/v1/signup", json={"shop_name": "Fuzz", "slug": slug, "owner_name": "Owner",
                                                         "email": f"owner@{slug.replace('_', '-')}.example",
                                                         "password": "fuzz-owner-password"})
        assert made.status_code == 201, made.text
        key = made.json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        contact = await client.post(f"/t/{slug}/api/v1/contacts", json={"name": "Probe", "phones": ["+14155550100"]},
                                    headers=auth)
        assert contact.status_code == 201, contact.text
    return slug, key


def _schemathesis(server: ServerProcess, slug: str, key: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    config = workdir / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.slug" = "{slug}"\n')
    # One worker: with two threads, Hypothesis describing a strategy's lambda runs ast.parse concurrently, which
    # CPython 3.11 can fail with "SystemError: AST constructor recursion depth mismatch" (a crash of the fuzzer,
    # not a finding).
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
           f"{server.url}/schema/openapi.json", "--url", server.url,
           "-H", f"Authorization: Bearer {key}", "--checks", CHECKS,
           "--exclude-path-regex", EXCLUDE_PATH_REGEX,
           "--phases", "examples,coverage,fuzzing", "--max-examples", "5", "--seed", "1", "--workers", "1",
           "--no-shrink", "--continue-on-failure", "--request-timeout", "20",
           "--report", "ndjson", "--report-dir", str(workdir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=workdir,
                          env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})


def _statuses(workdir: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for path in workdir.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            for match in _find_status(json.loads(line)):
                counts[match] = counts.get(match, 0) + 1
    return counts


def _find_status(node: Any) -> list[int]:
    found: list[int] = []
    if isinstance(node, dict):
        if isinstance(node.get("status_code"), int) and "elapsed" in node:
            found.append(node["status_code"])
        for value in node.values():
            found += _find_status(value)
    elif isinstance(node, list):
        for value in node:
            found += _find_status(value)
    return found


async def test_schemathesis_finds_no_server_error_and_no_undocumented_status(
        fx_server: ServerProcess, tmp_path: Path) -> None:
    slug, key = await _signed_up_shop(fx_server.url)
    result = await asyncio.to_thread(_schemathesis, fx_server, slug, key, tmp_path)
    statuses = _statuses(tmp_path)
    (tmp_path / "schemathesis.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (f"full output in {tmp_path / 'schemathesis.out'}\n" + result.stdout[-15000:]
                                    + result.stderr[-3000:] + fx_server.output())
    assert sum(statuses.values()) > 2000 and not [code for code in statuses if code >= 500]
    assert sum(n for code, n in statuses.items() if code < 300) > 200  # the key worked: real work, not only refusals
