"""The deployment files say what README's "Operate" promises: read here, since neither a
Docker daemon nor systemd runs the tests. Dockerfile: two slim stages, a non-root user, a
health check on /healthz, no secret or database in the image; compose.yaml: the bot, two
workers, PostgreSQL and WAHA wired together; deploy/*.service: the single-process install
and its daily backup."""

from __future__ import annotations

import inspect
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

import bot.__main__ as cli
from bot.services.dispatcher import Dispatcher

ROOT = Path(__file__).resolve().parents[2]
SECRETS = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|WEBHOOK_KEY", re.IGNORECASE)


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) in order; continuation lines joined, comments left out."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text("utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def args(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for instruction, rest in stage if instruction == word]


def test_the_image_builds_wheels_then_installs_them_into_a_slim_python() -> None:
    build, final = stages()
    assert args(build, "FROM") == ["python:3.11-slim AS build"]
    assert args(final, "FROM") == ["python:3.11-slim"]
    assert any("pip wheel" in run for run in args(build, "RUN"))
    install = " ".join(args(final, "RUN"))
    assert "from=build" in install and "pip install --no-index" in install
    assert args(final, "COPY") == []  # nothing of the context, the wheels only mounted


def test_the_image_runs_as_an_unprivileged_user_with_its_data_in_a_volume() -> None:
    final = stages()[-1]
    users = args(final, "USER")
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "useradd" in " ".join(args(final, "RUN"))
    assert args(final, "VOLUME") == ['["/data"]']
    env = " ".join(args(final, "ENV"))
    assert "DATABASE_PATH=/data/qasid.sqlite3" in env and "HTTP_HOST=0.0.0.0" in env
    assert "HTTP_PORT=8080" in env and args(final, "EXPOSE") == ["8080"]
    assert args(final, "CMD") == ['["python", "-m", "bot"]']
    assert args(final, "STOPSIGNAL") == ["SIGTERM"]


def test_the_health_check_asks_healthz_with_python_alone() -> None:
    (check,) = args(stages()[-1], "HEALTHCHECK")
    assert "CMD [\"python\", \"-c\"" in check
    assert "urllib.request.urlopen('http://127.0.0.1:%s/healthz'" in check
    assert "HTTP_PORT" in check and "curl" not in check and "timeout=" in check


def test_the_image_takes_no_secret_and_copies_only_the_package() -> None:
    copied = [shlex.split(rest) for stage in stages() for rest in args(stage, "COPY")]
    sources = {part for words in copied for part in words[:-1] if not part.startswith("--")}
    assert sources == {"pyproject.toml", "README.md", "bot"}
    assert args(stages()[0], "ADD") == args(stages()[-1], "ADD") == []
    for stage in stages():
        for word in ("ENV", "ARG", "LABEL"):
            assert not [a for a in args(stage, word) if SECRETS.search(a)], (word, stage)


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins (``!`` keeps), and a
    pattern matching a folder takes everything in it."""
    def regex(pattern: str) -> re.Pattern[str]:
        out = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        return re.compile(out.replace(r"\?", "[^/]") + "$")

    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        if any(regex(pattern.removeprefix("!")).match(p) for p in prefixes):
            ignored = not keep
    return ignored


def test_dockerignore_keeps_secrets_environments_and_databases_out_of_the_context() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    for path in [".env", "deploy/.env", ".env.production", ".venv/bin/python", ".git/config",
                 "qasid.sqlite3", "qasid.sqlite3-wal", "data/qasid.sqlite3",
                 "backups/qasid-20261204-031500.sqlite3",
                 "qasid.sqlite3.before-restore-20261204-031500", "bot/__pycache__/app.pyc"]:
        assert _ignored(patterns, path), path
    for path in ["pyproject.toml", "README.md", "bot/app.py", "bot/locales/en.po",
                 "bot/storage/migrations/0001_initial.sql"]:
        assert not _ignored(patterns, path), path


def test_the_wheel_carries_every_file_the_package_reads() -> None:
    """The image installs the wheel, not the tree: catalogs and both engines' migrations
    must be package data."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "package-data"]["bot"]
    data = [p.relative_to(ROOT / "bot") for p in (ROOT / "bot").rglob("*")
            if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts]
    assert data
    assert [str(p) for p in data if not any(p.match(g) for g in globs)] == []


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))


def commands_of_the_cli() -> set[str]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]  # argparse's subparsers
    assert isinstance(sub.choices, dict)
    return set(sub.choices)


def test_compose_runs_the_bot_two_workers_postgresql_and_waha() -> None:
    services = compose()["services"]
    assert {"bot", "worker", "postgres", "waha"} <= set(services)
    assert services["bot"]["command"] == ["python", "-m", "bot", "web"]
    assert services["worker"]["command"] == ["python", "-m", "bot", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["python", "-m", "bot", "migrate"]
    for name in ("bot", "worker", "migrate"):
        assert services[name]["command"][3] in commands_of_the_cli()
    assert services["bot"]["ports"] == ["8080:8080"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["waha"]["image"].startswith("devlikeapro/waha-plus")
    assert services["waha"]["environment"]["WAHA_API_KEY"].startswith("${WAHA_API_KEY:?")


@pytest.mark.parametrize("name", ["bot", "worker", "migrate"])
def test_each_qasid_service_is_wired_to_postgresql(name: str) -> None:
    service = compose()["services"][name]
    assert service["build"] == "." and service["env_file"] == ".env"
    env = service["environment"]
    url = env["DATABASE_URL"]
    assert re.fullmatch(r"postgresql://qasid:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/qasid",
                        url), url  # the password from .env, never written here
    assert env["HTTP_HOST"] == "0.0.0.0" and env["WAHA_BASE_URL"].endswith("http://waha:3000}")
    assert env["METRICS_HOST"] == "0.0.0.0"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    if name != "migrate":
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        grace = int(service["stop_grace_period"].removesuffix("s"))
        assert grace >= 3 * drain_grace()


def test_compose_health_checks_and_volumes() -> None:
    document = compose()
    services = document["services"]
    postgres = services["postgres"]
    assert "pg_isready -U qasid -d qasid" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert postgres["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "healthcheck" not in services["bot"]  # the image's: /healthz
    assert "/metrics" in " ".join(services["worker"]["healthcheck"]["test"])  # no HTTP there
    assert services["migrate"]["restart"] == "no"
    assert set(document["volumes"]) == {"pgdata", "waha-sessions"}
    text = (ROOT / "compose.yaml").read_text("utf-8")
    assert not re.search(r"(PASSWORD|API_KEY): +(?!\$\{)\S", text), "a secret written in"


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (ROOT / "deploy" / name).read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def drain_grace() -> float:
    return float(inspect.signature(Dispatcher.drain).parameters["grace"].default)


def test_the_systemd_unit_runs_the_single_process_install_hardened() -> None:
    service = unit("qasid.service")["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["User"] == "qasid" and one["WorkingDirectory"] == "/opt/qasid"
    assert one["ExecStart"] == "/opt/qasid/.venv/bin/python -m bot"
    assert one["EnvironmentFile"] == "/etc/qasid/qasid.env"
    assert one["Restart"] == "on-failure" and one["RestartPreventExitStatus"] == "2"
    assert one["KillSignal"] == "SIGTERM" and one["KillMode"] == "control-group"
    assert float(one["TimeoutStopSec"].removesuffix("s")) >= 3 * drain_grace()
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("PrivateTmp", "yes"), ("ProtectHome", "yes")]:
        assert one[key] == value, key
    database = dict(v.split("=", 1) for v in service["Environment"])["DATABASE_PATH"]
    assert str(Path(database).parent) in one["ReadWritePaths"].split()
    assert one["StateDirectory"] == "qasid"
    assert unit("qasid.service")["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_backup_timer_runs_the_backup_daily() -> None:
    service = {k: v[-1] for k, v in unit("qasid-backup.service")["Service"].items()}
    assert service["Type"] == "oneshot" and service["User"] == "qasid"
    assert service["ExecStart"] == "/opt/qasid/.venv/bin/python -m bot backup"
    assert "backup" in commands_of_the_cli()
    assert service["EnvironmentFile"] == "/etc/qasid/qasid.env"
    assert "/var/lib/qasid/backups" in service["ExecStartPost"]  # old copies pruned
    timer = {k: v[-1] for k, v in unit("qasid-backup.timer")["Timer"].items()}
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:00", timer["OnCalendar"])  # once a day
    assert timer["Persistent"] == "true" and timer["Unit"] == "qasid-backup.service"
    assert unit("qasid-backup.timer")["Install"]["WantedBy"] == ["timers.target"]


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""
    def one(found: re.Match[str]) -> str:
        name, op, rest = found.group(1), found.group(2), found.group(3)
        if env.get(name):
            return env[name]
        assert op != ":?", f"compose would stop: {rest}"
        return rest if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


@pytest.mark.parametrize("name", ["bot", "worker"])
def test_the_settings_compose_gives_are_valid_ones(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What .env.example plus the compose file's environment make: Qasid starts on them
    (no "Invalid setting ..." line), on PostgreSQL, WAHA and every interface."""
    from bot.config import load_settings

    dotenv = {"POSTGRES_PASSWORD": "pw", "WAHA_API_KEY": "waha-key", "GATEWAY": "waha"}
    monkeypatch.chdir(tmp_path)
    for key, value in compose()["services"][name]["environment"].items():
        monkeypatch.setenv(key, _interpolate(str(value), dotenv))
    monkeypatch.setenv("WAHA_API_KEY", dotenv["WAHA_API_KEY"])  # from env_file: .env
    settings = load_settings()
    assert settings.database_url == "postgresql://qasid:pw@postgres:5432/qasid"
    assert settings.gateway.value == "waha" and settings.waha_base_url == "http://waha:3000"
    assert settings.public_url == "http://bot:8080"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)
    assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9464)
