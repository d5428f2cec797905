"""The terminal console (``python -m bot console``) as a user types into it.

In-process: `run_console` with scripted lines in place of the keyboard and its output
captured. As a process: ``python -m bot console`` on a pseudo-terminal, for Ctrl+C and
Ctrl+D.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sys
from pathlib import Path

import pytest

import bot
from bot.console.botapi import FakeBotApi, FakeUser, UploadedFile
from bot.console.repl import CONSOLE_USER_ID, Console, run_console

REPO = Path(bot.__file__).resolve().parents[1]
REGISTER = ["/start", "Aysel", "Gül Evi", ":phone +994501234567", "I accept", "Approve"]


class Typed:
    """The keyboard: hands the console one scripted line per prompt, then the end (Ctrl+D)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)

    async def ask(self, prompt: str) -> str | None:
        return self.lines.pop(0) if self.lines else None


async def console_session(make_settings, tmp_path: Path, lines: list[str]) -> str:
    """Everything the console printed while `lines` were typed (the user is the admin)."""
    out = io.StringIO()
    settings = make_settings(admin_ids=frozenset())
    code = await run_console(settings, files_dir=tmp_path / "files", input=Typed(lines),
                             out=out, language="en")
    assert code == 0
    return out.getvalue()


async def test_a_typed_slash_command_is_sent_even_where_a_button_has_that_label(
    make_settings, tmp_path: Path
) -> None:
    output = await console_session(make_settings, tmp_path, [*REGISTER, "/help"])
    # The main menu has a "❓ Help" button; /help is the command: a new message, not an edit.
    shown = output.rpartition("bot> Commands")
    assert shown[1], output
    assert "(edited)> Commands" not in output


async def test_a_button_many_messages_back_can_still_be_pressed(
    make_settings, tmp_path: Path
) -> None:
    lines = [*REGISTER, *["/help"] * 6, "Statistics"]
    output = await console_session(make_settings, tmp_path, lines)
    tail = output.rpartition("/credit — ")[2]  # after the sixth /help
    assert "bot (edited)> No messages yet, so nothing to count." in tail, tail
    assert "I did not understand that" not in tail


async def test_a_repeated_label_presses_the_newest_message_and_buttons_lists_it(
    make_settings, tmp_path: Path
) -> None:
    lines = [*REGISTER, "/menu", "/help", ":buttons", "Help"]
    output = await console_session(make_settings, tmp_path, lines)
    buttons = re.search(r"\(console\) buttons: (.*)", output)
    assert buttons and "❓ Help" in buttons[1] and "💳 Balance" in buttons[1]
    # Two menus are in the chat (after Approve, and /menu): the newest one is edited.
    tail = output.rpartition("(console) buttons:")[2]
    assert "bot (edited)> Commands" in tail


async def test_files_the_bot_sends_are_saved_and_their_path_printed(
    make_settings, tmp_path: Path
) -> None:
    contacts = tmp_path / "shop.csv"
    contacts.write_text("Name,Phone\nLeyla,+994551234567\nNobody,12\n", encoding="utf-8")
    lines = [*REGISTER, f":upload {contacts}", "New list “shop”"]
    output = await console_session(make_settings, tmp_path, lines)
    saved = re.search(r"\[document saved to (\S+)\]", output)
    assert saved, output
    path = Path(saved[1])
    path = path if path.is_absolute() else Path.cwd() / path
    assert path == tmp_path / "files" / "shop_rejected.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[1][:2] == ["3", "too few digits for a phone number"]


async def test_a_chart_and_its_redraw_are_saved_as_pictures_side_by_side(tmp_path: Path) -> None:
    api, out = FakeBotApi(), io.StringIO()
    console = Console(api, out, tmp_path / "files")
    api.on_call = console.print_call
    api.add_user(FakeUser(id=CONSOLE_USER_ID, first_name="Aysel"))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # sent as bytes: Telegram gets no file name
    unnamed = UploadedFile("application.octet-stream", "application/octet-stream", png)
    _, sent = await api.handle("sendPhoto", {"chat_id": CONSOLE_USER_ID, "caption": "Chart"},
                               {"photo": unnamed})
    media = {"type": "photo", "media": "attach://new", "caption": "Chart, redrawn"}
    await api.handle("editMessageMedia", {"chat_id": CONSOLE_USER_ID, "media": media,
                                          "message_id": sent["result"]["message_id"]},
                     {"new": UploadedFile("application.octet-stream", "image/png", png + b"!")})
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["photo-2.png", "photo.png"]
    assert (tmp_path / "files" / "photo-2.png").read_bytes() == png + b"!"
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("bot> [photo saved to ") and lines[0].endswith("photo.png] Chart")
    assert lines[1].startswith("bot (edited)> [photo saved to ")
    assert lines[1].endswith("photo-2.png] Chart, redrawn")


# --- as a process on a terminal ------------------------------------------------------

class Terminal:
    """`python -m bot console` on a pseudo-terminal that is its controlling terminal, so
    Ctrl+C typed there is a SIGINT to it, as in a real terminal."""

    LAUNCH = (
        "import fcntl, os, sys, termios\n"
        "os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'bot', 'console'])\n"
    )

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.output = b""
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        master, slave = os.openpty()
        self.master = master
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.tmp_path),
            "LANG": "en_US.UTF-8",
            "PYTHONPATH": str(REPO),
            "DATABASE_PATH": str(self.tmp_path / "q.sqlite3"),
            "DISPATCH_INTERVAL": "0",
            "PTB_TIMEDELTA": "1",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.LAUNCH, cwd=self.tmp_path, env=env,
            stdin=slave, stdout=slave, stderr=slave,
        )
        os.close(slave)
        await self.expect(b"you> ")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    async def expect(self, text: bytes, seconds: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while text not in self.output:
            assert loop.time() < deadline, self.output.decode(errors="replace")
            if not await self._read(deadline - loop.time()):
                break
        assert text in self.output, self.output.decode(errors="replace")

    async def finish(self, seconds: float = 30.0) -> int:
        """Read until the process closes the terminal; its exit code."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and await self._read(deadline - loop.time()):
            pass
        try:
            return await asyncio.wait_for(self.proc.wait(), max(deadline - loop.time(), 0.1))
        finally:
            os.close(self.master)

    async def _read(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(self.master, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, max(seconds, 0.01))
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(self.master)
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed its end
            return False
        self.output += data
        return bool(data)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


@pytest.mark.parametrize(("keys", "name"), [(b"\x03", "Ctrl+C"), (b"\x04", "Ctrl+D")])
async def test_ctrl_c_and_ctrl_d_leave_the_console_cleanly(
    tmp_path: Path, keys: bytes, name: str
) -> None:
    terminal = Terminal(tmp_path)
    try:
        await terminal.start()
        terminal.type(b"/start\r")
        await terminal.expect(b"What is your name?")
        await terminal.expect(b"you> ")
        terminal.type(keys)
        code = await terminal.finish()
    finally:
        terminal.kill()
    output = terminal.output.decode(errors="replace")
    assert code == 0, (name, output)
    assert "(console) bye" in output, (name, output)
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, (name, output)


async def test_an_invoice_is_shown_and_paid_with_pay(make_settings, tmp_path: Path) -> None:
    lines = [*REGISTER, "/packages", "New package", "Start; 1000; 25; 500; 30", "/balance",
             "Buy credits", "Start: 1,000 credits", "Pay with Stars 500", ":pay", ":pay",
             "/balance"]
    output = await console_session(make_settings, tmp_path, lines)
    assert "[invoice: Start, 500 XTR; :pay pays it] 1,000 credits for WhatsApp" in output
    before, said, after = output.partition("(console) paid (charge ")
    assert said and "Payment received" in before.rpartition("[invoice: ")[2], output
    assert "(console) payment refused: This order is paid already" in after
    assert "Available: 1,000" in after.rpartition("Your credits")[2]
