"""``python -m bot console``: chat with the real bot in a terminal, no Telegram needed.

The same application, handlers, services and database as ``python -m bot``; only the
Bot API is replaced by the in-process fake, so every flow can be tried before a bot is
created with @BotFather. What the bot sends is printed, inline buttons in brackets; type a
button's label (emoji optional, any case) to press it: any button still in the chat, the
newest message's when several have the same label. Text starting with ``/`` is always a
command. Files the bot sends are saved in a folder (``console-files/``) and their path
printed. Lines starting with ``:`` are console commands (``:help``). Ctrl+C and Ctrl+D
leave like ``:quit``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import getpass
import os
import re
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Protocol, TextIO

from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.console.botapi import ApiCall, FakeBotApi, FakeUser, SentMessage, rendered_text
from bot.console.driver import ChatDriver

CONSOLE_USER_ID = 100001
FILES_DIR = Path("console-files")
FILE_METHODS = {"sendDocument", "sendPhoto", "editMessageMedia"}
SHOWN_METHODS = {
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "answerCallbackQuery",
    "sendInvoice",
    *FILE_METHODS,
}

HELP = """Console commands:
  :help                 this help
  :user ID [LANG]       talk as another Telegram user (e.g. :user 100002 ru)
  :phone NUMBER         share your phone number (the share-contact button)
  :upload PATH          send a file, as if attached in Telegram
  :buttons              list the buttons you can press (newest message first)
  :pay                  pay the newest invoice in the chat (Telegram Stars, as Telegram does)
  :quit                 leave (Ctrl+C and Ctrl+D work too)
Text starting with / is sent as a command. Other text that is a button's label presses
that button (any message's; the newest one's when several have it); anything else is
sent to the bot as a message. Files the bot sends are saved in {files}."""


def _label_key(label: str) -> str:
    """'✅ I accept' and 'i accept' are the same label for a typing user."""
    return "".join(ch for ch in label.casefold() if ch.isalnum() or ch.isspace()).strip()


class Input(Protocol):
    async def ask(self, prompt: str) -> str | None:
        """The next line typed after `prompt`, without its newline; None at the end."""


class TerminalInput:
    """Lines typed in the terminal, read on the event loop itself (``add_reader``), not in
    a thread: a thread blocked in ``input()`` holds the process after Ctrl+C until Enter.
    Where the loop cannot watch the input (a regular file, Windows) a read runs in a
    thread instead (it never blocks for long on a file)."""

    def __init__(self, stream: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
        self._fd, self._out = stream.fileno(), out
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lines: deque[str] = deque()
        self._partial = ""
        self._eof = False

    async def ask(self, prompt: str) -> str | None:
        self._out.write(prompt)
        self._out.flush()
        while not self._lines and not self._eof:
            self._feed(await self._read())
        return self._lines.popleft() if self._lines else None

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(self._fd, wake)
        except (NotImplementedError, OSError, ValueError):
            return await asyncio.to_thread(os.read, self._fd, 65536)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)
        return os.read(self._fd, 65536)

    def _feed(self, data: bytes) -> None:
        if not data:
            self._eof = True
            if self._partial:  # a last line without its newline
                self._lines.append(self._partial)
                self._partial = ""
            return
        *lines, self._partial = (self._partial + self._decoder.decode(data)).split("\n")
        self._lines.extend(line.removesuffix("\r") for line in lines)


class Console:
    def __init__(self, api: FakeBotApi, out: TextIO = sys.stdout,
                 files_dir: Path = FILES_DIR) -> None:
        self.api, self.out, self.files_dir = api, out, files_dir
        self.current: int = CONSOLE_USER_ID
        self._saved: dict[str, Path] = {}  # file_id -> where that file was saved

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def print_call(self, call: ApiCall) -> None:
        if call.method not in SHOWN_METHODS or call.error:
            return
        params = call.params
        if call.method == "answerCallbackQuery":
            if params.get("text"):
                self.say(f"  (notice) {params['text']}")
            return
        chat = params.get("chat_id")
        who = "bot" if chat == self.current else f"bot → user {chat}"
        edited = " (edited)" if call.method.startswith("edit") else ""
        if call.method == "editMessageMedia":
            media = params.get("media") or {}
            text, parse_mode = media.get("caption") or "", media.get("parse_mode")
        else:
            text = params.get("text") or params.get("caption") or ""
            parse_mode = params.get("parse_mode")
        try:
            text = rendered_text(text, parse_mode)
        except Exception:  # shown raw rather than not at all
            pass
        if call.method in FILE_METHODS:
            text = f"[{self._file_note(call)}] {text}".rstrip()
        if call.method == "sendInvoice":
            total = sum(price.get("amount", 0) for price in params.get("prices") or [])
            text = (f"[invoice: {params.get('title')}, {total} {params.get('currency')}; "
                    f":pay pays it] {params.get('description')}")
        if text:
            self.say(f"{who}{edited}> {text}")
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            self.say("    " + "  ".join(f"[ {b['text']} ]" for b in row))
        for row in markup.get("keyboard", []):
            labels = [b if isinstance(b, str) else b["text"] for b in row]
            self.say("    " + "  ".join(f"< {label} >" for label in labels))

    def _file_note(self, call: ApiCall) -> str:
        result = call.result if isinstance(call.result, dict) else {}
        message = self.api.message(call.params.get("chat_id", 0), result.get("message_id", 0))
        if message is None or message.file is None:
            return "file: ?"
        try:
            path = self.save_file(message)
        except OSError as exc:
            return f"{message.kind} {message.file.file_name}, not saved: {exc}"
        return f"{message.kind} saved to {_shown(path)}"

    def save_file(self, message: SentMessage) -> Path:
        """Write a file the bot sent into `files_dir` (once per file); its path."""
        assert message.file is not None
        key = message.file_id or str(id(message.file))
        if (path := self._saved.get(key)) is not None:
            return path
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = _free_path(self.files_dir, _file_name(message))
        path.write_bytes(message.file.content)
        self._saved[key] = path
        return path

    def labels(self, driver: ChatDriver) -> list[str]:
        """Buttons the user can press now: the reply keyboard, then every inline button
        still in the chat, newest message first."""
        labels = driver.reply_buttons()
        for message in reversed(self.api.messages(driver.chat_id)):
            labels += message.buttons
        return list(dict.fromkeys(labels))

    def button_for(self, driver: ChatDriver, line: str) -> str | None:
        if line.startswith("/"):  # a command, even where a button has that label
            return None
        wanted = _label_key(line)
        return next((lb for lb in self.labels(driver) if _label_key(lb) == wanted), None)


def _file_name(message: SentMessage) -> str:
    assert message.file is not None
    name = Path(message.file.file_name.replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
    if not name or name == "application.octet-stream":  # bytes sent without a name
        content = message.file.content
        suffix = ".png" if content.startswith(b"\x89PNG") else (
            ".jpg" if content.startswith(b"\xff\xd8") else ".bin")
        name = message.kind + suffix
    return name


def _free_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `name-2`, `name-3`... so that nothing saved before is overwritten."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}{suffix}"
    return path


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path.resolve())


async def run_console(
    settings: Settings,
    *,
    files_dir: Path = FILES_DIR,
    language: str | None = None,
    input: Input | None = None,
    out: TextIO = sys.stdout,
) -> int:
    from bot.app import Qasid

    api = FakeBotApi()
    console = Console(api, out, files_dir)
    source = input or TerminalInput(out=out)
    user = FakeUser(
        id=CONSOLE_USER_ID,
        first_name=getpass.getuser() or "owner",
        language_code=language or os.environ.get("LANG", "en")[:2],
    )
    if not settings.admin_ids:
        settings = settings.model_copy(update={"admin_ids": frozenset({CONSOLE_USER_ID})})
        console.say(
            f"(console) ADMIN_IDS is empty: you (user {CONSOLE_USER_ID}) are the admin "
            "for this session, so you can approve your own registration."
        )
    request = HTTPXRequest(httpx_kwargs={"transport": api.transport()})
    qasid = Qasid(settings, request=request, token=api.token, rate_limit=False)

    # Ctrl+C (and SIGTERM) end the session like :quit: during start-up they wait for the
    # start to finish, then everything is stopped in order.
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    chat: asyncio.Task[bool] | None = None

    def interrupt() -> None:
        stopping.set()
        if chat is not None:
            chat.cancel()

    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupt)
            handled.append(sig)
    try:
        await qasid.start()
        api.on_call = console.print_call
        console.say(
            f"(console) Qasid on {settings.database_path}, gateway {settings.gateway}; "
            f"files the bot sends are saved in {_shown(files_dir)}. "
            "Type /start to begin, :help for console commands."
        )
        if not stopping.is_set():
            driver = ChatDriver(qasid.application, api, user)
            chat = asyncio.ensure_future(_chat(console, source, driver, qasid))
            await asyncio.wait({chat})
            if not chat.cancelled() and (error := chat.exception()) is not None:
                raise error
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        api.on_call = None
        await qasid.stop()
    quit_typed = chat is not None and not chat.cancelled() and chat.result()
    console.say("(console) bye" if quit_typed else "\n(console) bye")  # after "you> ^C"
    return 0


async def _chat(console: Console, source: Input, driver: ChatDriver, qasid) -> bool:
    """The conversation, line by line: True when :quit ended it, False at the input's end."""
    while (line := await source.ask("you> ")) is not None:
        line = line.strip()
        if not line:
            continue
        if line in {":q", ":quit", ":exit"}:
            return True
        try:
            driver = await _step(console, source, driver, qasid, line)
        except (LookupError, ValueError, OSError) as exc:
            console.say(f"(console) {exc}")
    return False


async def _step(
    console: Console, source: Input, driver: ChatDriver, qasid, line: str
) -> ChatDriver:
    command, _, rest = line.partition(" ")
    if command == ":help":
        console.say(HELP.format(files=_shown(console.files_dir)))
    elif command == ":user":
        parts = rest.split()
        if not parts or not parts[0].isdigit():
            raise ValueError("usage: :user ID [LANG]")
        user = FakeUser(
            id=int(parts[0]),
            first_name=f"user{parts[0]}",
            language_code=parts[1] if len(parts) > 1 else "en",
        )
        console.current = user.id
        driver = ChatDriver(qasid.application, console.api, user)
        console.say(f"(console) you are now user {user.id}")
    elif command == ":phone":
        phone = rest.strip() or await source.ask("phone number to share: ") or ""
        await driver.share_contact(phone)
    elif command == ":upload":
        content, name, mime = await asyncio.to_thread(_read_file, rest.strip())
        await driver.upload(content, name, mime)
    elif command == ":pay":
        checkout = await driver.pay()
        if checkout.ok:
            console.say(f"(console) paid (charge {checkout.charge_id})")
        else:
            console.say(f"(console) payment refused: {checkout.error_message}")
    elif command == ":buttons":
        console.say("(console) buttons: " + (", ".join(console.labels(driver)) or "none"))
    elif (label := console.button_for(driver, line)) is not None:
        try:
            await driver.press(label)
        except ValueError:  # the share-contact button
            phone = await source.ask("phone number to share (e.g. +994501234567): ") or ""
            await driver.share_contact(phone)
    else:
        await driver.send(line)
    return driver


def _read_file(raw_path: str) -> tuple[bytes, str, str]:
    """A local file to send as a Telegram document: content, name and MIME type."""
    from mimetypes import guess_type

    path = Path(raw_path).expanduser()
    return path.read_bytes(), path.name, guess_type(path.name)[0] or "application/octet-stream"
