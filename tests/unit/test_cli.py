"""``python -m bot``'s command line: what it says before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.__main__ as cli
import bot.console.repl


class Terminal:
    def isatty(self) -> bool:
        return True


def test_help_describes_each_command_and_its_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "WhatsApp bulk messaging" in text
    for command, words in [("run", "long polling"), ("console", "terminal"),
                           ("migrate", "migrations"), ("web", "control jobs"),
                           ("worker", "N times")]:
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(command + " ")), "")
        assert words in line, (command, text)

    with pytest.raises(SystemExit):
        cli.main(["console", "--help"])
    text = capsys.readouterr().out
    assert "--files DIR" in text and "console-files" in text and "--language" in text


def test_make_run_on_a_terminal_without_a_token_says_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", Terminal())
    started: list[dict] = []

    async def console(settings, **options) -> int:
        started.append(options)
        return 0

    monkeypatch.setattr(bot.console.repl, "run_console", console)
    assert cli.main([]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "starting the console" in lines[0] and "@BotFather" in lines[0]
    assert "python -m bot console" not in lines[0]  # it is starting, not to be typed
    assert len(started) == 1


def test_console_options_reach_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    started: list[dict] = []

    async def console(settings, **options) -> int:
        started.append(options)
        return 0

    monkeypatch.setattr(bot.console.repl, "run_console", console)
    assert cli.main(["console", "--files", "out", "--language", "ru"]) == 0
    assert started == [{"language": "ru", "files_dir": Path("out")}]


@pytest.mark.parametrize("command", ["web", "worker"])
def test_web_and_worker_without_a_token_say_so_and_start_nothing(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", Terminal())  # never the console: it is not `run`
    assert cli.main([command]) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err
    assert not (tmp_path / "qasid.sqlite3").exists()
