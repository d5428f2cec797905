"""``python -m bot console``: chat with the real bot in a terminal, no Telegram needed.

The same application, handlers, services and database as ``python -m bot``; only the
Bot API is replaced by the in-process fake, so every flow can be tried before a bot is
created with @BotFather. What the bot sends is printed, inline buttons in brackets; type a
button's label (emoji optional, any case) to press it. Lines starting with ``:`` are
console commands (``:help``).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from typing import TextIO

from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.console.botapi import ApiCall, FakeBotApi, FakeUser, rendered_text
from bot.console.driver import ChatDriver

CONSOLE_USER_ID = 100001
SHOWN_METHODS = {
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "sendDocument",
    "sendPhoto",
    "answerCallbackQuery",
}

HELP = """Console commands:
  :help                 this help
  :user ID [LANG]       talk as another Telegram user (e.g. :user 100002 ru)
  :phone NUMBER         share your phone number (the share-contact button)
  :upload PATH          send a file, as if attached in Telegram
  :buttons              list the buttons you can press now
  :quit                 leave (Ctrl+D works too)
Anything else is sent to the bot as a message; a button's label presses the button."""


def _label_key(label: str) -> str:
    """'✅ I accept' and 'i accept' are the same label for a typing user."""
    return "".join(ch for ch in label.casefold() if ch.isalnum() or ch.isspace()).strip()


class Console:
    def __init__(self, api: FakeBotApi, out: TextIO = sys.stdout) -> None:
        self.api, self.out = api, out
        self.current: int = CONSOLE_USER_ID

    def print_call(self, call: ApiCall) -> None:
        if call.method not in SHOWN_METHODS or call.error:
            return
        params = call.params
        if call.method == "answerCallbackQuery":
            if params.get("text"):
                self.out.write(f"  (notice) {params['text']}\n")
            return
        chat = params.get("chat_id")
        who = "bot" if chat == self.current else f"bot → user {chat}"
        edited = " (edited)" if call.method.startswith("edit") else ""
        text = params.get("text") or params.get("caption") or ""
        try:
            text = rendered_text(text, params.get("parse_mode"))
        except Exception:  # shown raw rather than not at all
            pass
        if call.method in {"sendDocument", "sendPhoto"}:
            file = next(iter(call.files.values()), None)
            text = f"[file: {file.file_name if file else '?'}] {text}"
        if text:
            self.out.write(f"{who}{edited}> {text}\n")
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            self.out.write("    " + "  ".join(f"[ {b['text']} ]" for b in row) + "\n")
        for row in markup.get("keyboard", []):
            labels = [b if isinstance(b, str) else b["text"] for b in row]
            self.out.write("    " + "  ".join(f"< {label} >" for label in labels) + "\n")
        self.out.flush()

    def labels(self, driver: ChatDriver) -> list[str]:
        """Buttons the user can press now: the reply keyboard, then recent inline ones."""
        labels = driver.reply_buttons()
        for message in reversed(self.api.messages(driver.chat_id)[-5:]):
            labels += message.buttons
        return list(dict.fromkeys(labels))

    def button_for(self, driver: ChatDriver, line: str) -> str | None:
        wanted = _label_key(line)
        return next((lb for lb in self.labels(driver) if _label_key(lb) == wanted), None)


async def _ask(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


async def run_console(settings: Settings) -> int:
    from bot.app import Qasid

    api = FakeBotApi()
    console = Console(api)
    language = os.environ.get("LANG", "en")[:2]
    user = FakeUser(
        id=CONSOLE_USER_ID, first_name=getpass.getuser() or "owner", language_code=language
    )
    if not settings.admin_ids:
        settings = settings.model_copy(update={"admin_ids": frozenset({CONSOLE_USER_ID})})
        print(
            f"(console) ADMIN_IDS is empty: you (user {CONSOLE_USER_ID}) are the admin "
            "for this session, so you can approve your own registration.",
            flush=True,
        )
    request = HTTPXRequest(httpx_kwargs={"transport": api.transport()})
    qasid = Qasid(settings, request=request, token=api.token, rate_limit=False)
    await qasid.start()
    api.on_call = console.print_call
    driver = ChatDriver(qasid.application, api, user)
    print(
        f"(console) Qasid on {settings.database_path}, gateway {settings.gateway}. "
        "Type /start to begin, :help for console commands."
    )
    try:
        while (line := await _ask("you> ")) is not None:
            line = line.strip()
            if not line:
                continue
            if line in {":q", ":quit", ":exit"}:
                break
            try:
                driver = await _step(console, driver, qasid, line)
            except (LookupError, ValueError, OSError) as exc:
                print(f"(console) {exc}")
    finally:
        await qasid.stop()
    print("(console) bye")
    return 0


async def _step(console: Console, driver: ChatDriver, qasid, line: str) -> ChatDriver:
    command, _, rest = line.partition(" ")
    if command == ":help":
        print(HELP)
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
        print(f"(console) you are now user {user.id}")
    elif command == ":phone":
        phone = rest.strip() or await _ask("phone number to share: ") or ""
        await driver.share_contact(phone)
    elif command == ":upload":
        content, name, mime = await asyncio.to_thread(_read_file, rest.strip())
        await driver.upload(content, name, mime)
    elif command == ":buttons":
        print("(console) buttons: " + (", ".join(console.labels(driver)) or "none"))
    elif (label := console.button_for(driver, line)) is not None:
        try:
            await driver.press(label)
        except ValueError:  # the share-contact button
            phone = await _ask("phone number to share (e.g. +994501234567): ") or ""
            await driver.share_contact(phone)
    else:
        await driver.send(line)
    return driver


def _read_file(raw_path: str) -> tuple[bytes, str, str]:
    """A local file to send as a Telegram document: content, name and MIME type."""
    from mimetypes import guess_type
    from pathlib import Path

    path = Path(raw_path).expanduser()
    return path.read_bytes(), path.name, guess_type(path.name)[0] or "application/octet-stream"
