"""The deployment files in infra/ name commands, options and settings that exist (they cannot rot silently):
every `switchboard ...` they run is parsed by the real CLI, every variable they set is a documented setting."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from app import cli

INFRA = Path(__file__).resolve().parents[2] / "infra"
SETTINGS_SOURCE = (Path(__file__).resolve().parents[2] / "app" / "settings.py").read_text()
SETTINGS = set(re.findall(r'"""([A-Z][A-Z0-9_]+):', SETTINGS_SOURCE)) | set(
    re.findall(r'_(?:env|int|bool|url)\("([A-Z][A-Z0-9_]+)"', SETTINGS_SOURCE))


def _check_command(argv: list[str]) -> click.Context:
    """Parse `switchboard <argv>` with the real CLI (no callback runs): unknown commands or options raise."""
    assert argv, "an empty switchboard command"
    command = cli.main.commands.get(argv[0])
    assert command is not None, f"switchboard has no command {argv[0]!r}"
    return command.make_context(f"switchboard {argv[0]}", list(argv[1:]), resilient_parsing=False)


def _compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def _units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for path in sorted((INFRA / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text())
        units[path.name] = parser
    return units


def test_settings_are_found() -> None:
    assert {"DATABASE_URL", "DATABASE_POOLER", "DATABASE_DIRECT_URL", "REDIS_URL", "WORKER_CONCURRENCY",
            "WEB_WORKERS"} <= SETTINGS


def test_compose_runs_real_commands_with_settings_that_exist() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "redis", "pgbouncer", "web", "worker", "mail-in", "migrate"} <= set(services)
    app_services = {name: s for name, s in services.items() if s.get("image") == "switchboard:latest"}
    assert set(app_services) == {"web", "worker", "mail-in", "migrate"}
    roles = {}
    for name, service in app_services.items():
        ctx = _check_command([str(a) for a in service["command"]])
        roles[name] = ctx
        unknown = set(service["environment"]) - SETTINGS
        assert not unknown, f"{name}: {sorted(unknown)} are not settings of app/settings.py"
        env = service["environment"]
        assert env["DATABASE_POOLER"] == "pgbouncer" and "@pgbouncer:" in env["DATABASE_URL"]
        assert "@postgres:" in env["DATABASE_DIRECT_URL"]
        assert env["EMBEDDED_WORKER"] == "false"
    assert roles["web"].params["workers"] >= 2 and roles["web"].params["mail_in"] is False
    assert roles["worker"].params["concurrency"] >= 1
    assert services["web"]["deploy"]["replicas"] >= 1 and services["worker"]["deploy"]["replicas"] >= 2
    assert services["pgbouncer"]["environment"]["PGBOUNCER_POOL_MODE"] == "transaction"


def test_dockerfile_installs_the_package_and_runs_a_real_command_as_a_non_root_user() -> None:
    text = (INFRA / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER (?!root)\w+$", text, re.M)
    assert re.search(r"^RUN pip install -e \.", text, re.M)
    for directory in ("app", "tenants", "realtime", "telephony", "frontend"):
        assert re.search(rf"^COPY {directory} ", text, re.M), f"the image lacks {directory}/"
    assert yaml.safe_load(re.search(r"^ENTRYPOINT (.*)$", text, re.M).group(1)) == ["switchboard"]  # type: ignore[union-attr]
    _check_command(yaml.safe_load(re.search(r"^CMD (.*)$", text, re.M).group(1)))  # type: ignore[union-attr]
    env = dict(re.findall(r"([A-Z][A-Z0-9_]+)=(\S+)", text.split("USER", 1)[1]))
    assert set(env) <= SETTINGS, f"{sorted(set(env) - SETTINGS)} are not settings"


@pytest.mark.parametrize("unit", ["switchboard-web.service", "switchboard-worker@.service",
                                  "switchboard-mail-in.service"])
def test_systemd_units_run_real_commands(unit: str) -> None:
    parser = _units()[unit]
    service = parser["Service"]
    assert service["User"] != "root" and service["KillSignal"] == "SIGTERM"
    for key in ("ExecStartPre", "ExecStart"):
        if key not in service:
            continue
        argv = shlex.split(service[key].replace("%i", "1"))
        assert argv[0].endswith("/switchboard")
        _check_command(argv[1:])
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_env_example_names_only_settings() -> None:
    names = {line.split("=", 1)[0] for line in (INFRA / "switchboard.env.example").read_text().splitlines()
             if line and not line.startswith("#")}
    assert names <= SETTINGS, f"{sorted(names - SETTINGS)} are not settings"
    assert {"DATABASE_URL", "DATABASE_POOLER", "DATABASE_DIRECT_URL", "REDIS_URL"} <= names


def test_pgbouncer_example_is_transaction_pooling() -> None:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.read_string((INFRA / "pgbouncer.ini").read_text())
    assert parser["pgbouncer"]["pool_mode"] == "transaction"
    assert "search_path" in parser["pgbouncer"]["ignore_startup_parameters"]
    assert "switchboard" in parser["databases"]
