"""Logs without secrets or personal data, whoever writes them (our code, PTB, httpx,
aiohttp, uvicorn).

Redaction happens when a record is made (``logging.setLogRecordFactory``), so every
handler, formatter and test capture sees the same redacted text:

- known secrets (the bot token, gateway keys, app secrets, and each Cloud API access
  token an owner types, registered as it becomes known: ``REDACTOR.add`` or
  ``SecretTokens``) become ``[secret]``, and so do strings shaped like a bot token, a
  Meta access token or a Qasid API key (``qsd_1a2b3c4d_...``);
- phone numbers (``+`` and 7-15 digits, or digits before ``@`` as in WhatsApp's
  ``994501234567@c.us``) keep only their last four digits: ``+•••••••4567``;
- message bodies, Telegram updates, Bot API parameters and SQL parameters logged by
  third-party libraries at DEBUG (``Calling Bot API endpoint ... with parameters ...``,
  ``Processing update ...``, aiosqlite's ``executing ...``) are replaced by
  ``[not logged]``; our own code never logs a body.

The message is formatted once, redacted, and stored without its arguments; a
traceback is formatted and redacted the same way.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

NOT_LOGGED = "[not logged]"
SECRET = "[secret]"

# Third-party DEBUG lines whose arguments are bodies: updates, API parameters and results.
_BODY_TEMPLATES = (
    "with parameters `%s`",
    "with return value `%s`",
    "Processing update %s",
    "Dropping pending update: %s",
    "Getting updates: %s",
    "executing %s",  # aiosqlite: the call with its SQL parameters
    "operation %s completed",
)
_SHAPES = re.compile(
    r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}"  # a Telegram bot token (also inside a URL)
    r"|\bEAA[A-Za-z0-9]{20,}\b"  # a Meta access token
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{16,}"  # any bearer token
    r"|qsd_[0-9a-f]{8}_[A-Za-z0-9_-]{32,}"  # a Qasid API key (bot/services/api_keys.py)
    r"|whsec_[A-Za-z0-9_-]{32,}"  # a webhook signing secret (bot/services/webhooks.py)
)
# ``+`` and digits, or digits before ``@`` (a WhatsApp id: 994501234567@c.us); a bare run
# of digits is left alone (Meta's phone-number ids, times, Telegram ids look the same)
_PHONES = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)|(?<![\w+])\d{7,15}(?=@)")


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    plus = "+" if text.startswith("+") else ""
    digits = text.lstrip("+")
    return plus + "•" * (len(digits) - 4) + digits[-4:]


def mask_phone(phone: str) -> str:
    """A phone as logs show it: only the last four digits."""
    return _PHONES.sub(_mask_phone, phone)


class Redactor:
    """Removes secrets and masks phones in a text; secrets can be added at any time."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *secrets: str | None) -> None:
        fresh = {s for s in secrets if s and len(s) >= 6 and s not in self._secrets}
        if fresh:
            self._secrets |= fresh
            self._pattern = re.compile("|".join(
                re.escape(s) for s in sorted(self._secrets, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(SECRET, text)
        text = _SHAPES.sub(SECRET, text)
        return _PHONES.sub(_mask_phone, text)


REDACTOR = Redactor()


class SecretTokens(dict[int, str]):
    """Access tokens by sender id; each one stored here is also kept out of the logs."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor

    def __setitem__(self, key: int, value: str) -> None:
        self._redactor.add(value)
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        found: Mapping[int, str] | Iterable[tuple[int, str]] = dict(*args, **kwargs)
        for key, value in dict(found).items():
            self[key] = value


_installed = False


def install(redactor: Redactor = REDACTOR) -> None:
    """Redact every log record from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _redact(record, redactor)
        return record

    logging.setLogRecordFactory(factory)


def _redact(record: logging.LogRecord, redactor: Redactor) -> None:
    template = str(record.msg)
    if record.args and not record.name.startswith("bot") \
            and any(t in template for t in _BODY_TEMPLATES):
        count = template.count("%s")
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        # the endpoint of "Calling Bot API endpoint `%s` with ..." stays; the body goes
        keep = args[:count - 1] if "endpoint `%s`" in template else ()
        record.args = (*keep, *([NOT_LOGGED] * (count - len(keep))))
    try:
        message = record.getMessage()
    except Exception:  # a broken format: kept as its template, never raised from logging
        message = template
    record.msg, record.args = redactor(message), None
    if record.exc_info and record.exc_info[0] is not None:
        # formatters use this text instead of formatting the traceback again
        record.exc_text = redactor("".join(traceback.format_exception(*record.exc_info)))
