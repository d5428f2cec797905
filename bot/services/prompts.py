"""Prompts: "the next message you type answers this question".

A button asks a question whose answer is typed: a list's new name, the phone for a WAHA
pairing code, a Cloud API number's id and token, a template's approved Cloud API twin, a
new name, business or time zone (My account), or, for an admin, the reason for declining
a registration. Each is a ``Prompt`` of one ``PromptKind``, stored (``chat_prompts``, and
``admin_prompts`` for admins, who are Telegram ids rather than owners) so that it survives
a restart. One question is open at a time: asking another replaces it.

The rules, in one place:
- the bot's typed-text dispatch (``bot/handlers/prompts.py``) reads the open question
  (``PromptsService.pending``) before anything else sees the text, and routes the text to
  the feature that asked;
- a typed command instead drops the question (and runs);
- a wrong answer keeps the question open (the owner is told why and types again);
- a saved answer closes it in the same transaction that saves it (``close``, called by
  the feature's service), so an answer is never taken twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.clock import Clock, utcnow
from bot.storage import prompts as prompts_repo
from bot.storage.db import Connection, Database


class PromptKind(StrEnum):
    """What the typed answer is (the stored ``action``); the payload each one keeps."""

    RENAME_LIST = "rename_list"  # list_id: the list's new name
    PAIR_PHONE = "pair_phone"  # sender_id: the phone a WAHA pairing code is for
    CLOUD_NUMBER = "cloud_number"  # a Cloud API number: "<phone number id> <token>"
    CLOUD_TEMPLATE = "cloud_template"  # template_id: its approved twin, "name language ..."
    PROFILE = "profile"  # field: the owner's new name, company or timezone
    API_KEY_NAME = "api_key_name"  # the name of a new API key (then its scopes: /api)
    WEBHOOK_URL = "webhook_url"  # a new webhook endpoint's URL (then its events: /webhooks)
    REJECT_REASON = "reject"  # owner_id, message_id: an admin's reason for declining
    # order_id: the photo or PDF of a transfer's receipt (a file, not text: typed text is
    # answered with a reminder; ``bot/handlers/transfers.py``)
    TRANSFER_RECEIPT = "transfer_receipt"
    TRANSFER_REJECT = "transfer_reject"  # order_id, message_id: an admin's reason to reject
    # step, draft: a new package's answers so far (/packages; bot/services/packages.py)
    PACKAGE_NEW = "package_new"
    PACKAGE_EDIT = "package_edit"  # package_id, field: a package's new name, price, ...
    # conversation_id: the answer to a customer (text, or a photo / document: the file
    # answers it too; ``bot/handlers/inbox.py``), sent through the number they wrote to
    INBOX_REPLY = "inbox_reply"
    CONTACT_EDIT = "contact_edit"  # contact_id, field: "name" or "attribute" (/contact)
    # list_id, steps, name (and template_id while a step's wait is chosen): a new
    # sequence being drafted (/automations); a name typed names it
    AUTOMATION_DRAFT = "automation_draft"
    AUTOMATION_RENAME = "automation_rename"  # automation_id: its new name
    # keywords, template_id, cooldown_hours: a new keyword reply's answers so far
    # (/automations, bot/handlers/automations_keyword.py)
    KEYWORD_NEW = "keyword_new"
    # columns, attribute, when, days, at, yearly: a new date message's answers so far (the
    # typed answer: its time of day; /automations, bot/handlers/automations_dates.py)
    DATE_NEW = "date_new"


ADMIN_KINDS = frozenset({PromptKind.REJECT_REASON, PromptKind.TRANSFER_REJECT,
                         PromptKind.PACKAGE_NEW, PromptKind.PACKAGE_EDIT})


@dataclass(frozen=True, slots=True)
class Prompt:
    """An open question: its kind and what it is about."""

    kind: PromptKind
    payload: dict[str, Any] = field(default_factory=dict)

    def id(self, key: str) -> int:
        """An id the question is about (``list_id``, ``sender_id``, ...)."""
        return int(self.payload[key])


def _prompt(row: tuple[str, dict] | None) -> Prompt | None:
    if row is None:
        return None
    try:
        return Prompt(PromptKind(row[0]), row[1])
    except ValueError:  # a kind this version no longer asks: as if none were open
        return None


class PromptsService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    # --- owners -------------------------------------------------------------------------

    async def ask(self, owner_id: int, kind: PromptKind, /, **payload: Any) -> Prompt:
        """The owner's next typed message answers `kind` (replacing any open question)."""
        if kind in ADMIN_KINDS:
            raise ValueError(f"{kind} is asked of admins")
        async with self._db.transaction() as tx:
            await prompts_repo.set(tx, owner_id, kind.value, payload, self._clock())
        return Prompt(kind, payload)

    async def pending(self, owner_id: int) -> Prompt | None:
        """The question the owner's next typed message answers, if one is open."""
        return _prompt(await prompts_repo.get(self._db.reader, owner_id))

    async def drop(self, owner_id: int, kind: PromptKind | None = None) -> None:
        """Close the open question without an answer (only if it is `kind`, when given)."""
        async with self._db.transaction() as tx:
            await close(tx, owner_id, kind)

    # --- admins ---------------------------------------------------------------------------

    async def ask_admin(self, admin_id: int, kind: PromptKind, /, **payload: Any) -> Prompt:
        if kind not in ADMIN_KINDS:
            raise ValueError(f"{kind} is asked of owners")
        async with self._db.transaction() as tx:
            await prompts_repo.set_admin(tx, admin_id, kind.value, payload, self._clock())
        return Prompt(kind, payload)

    async def pending_admin(self, admin_id: int) -> Prompt | None:
        return _prompt(await prompts_repo.get_admin(self._db.reader, admin_id))

    async def drop_admin(self, admin_id: int) -> None:
        async with self._db.transaction() as tx:
            await prompts_repo.clear_admin(tx, admin_id)


async def close(tx: Connection, owner_id: int, kind: PromptKind | None = None) -> None:
    """Inside the caller's transaction: the owner's question (of `kind`, when given) is
    answered. Services call it in the transaction that saves the answer."""
    await prompts_repo.clear(tx, owner_id, None if kind is None else kind.value)


async def ask_admin_in(tx: Connection, admin_id: int, kind: PromptKind,
                       payload: dict[str, Any], now: datetime) -> Prompt:
    """Inside the caller's transaction: the admin's next typed message answers `kind`
    (replacing any open question), e.g. the next question of a form saved with it."""
    if kind not in ADMIN_KINDS:
        raise ValueError(f"{kind} is asked of owners")
    await prompts_repo.set_admin(tx, admin_id, kind.value, payload, now)
    return Prompt(kind, payload)


async def close_admin(tx: Connection, admin_id: int) -> None:
    """Inside the caller's transaction: the admin's open question is answered."""
    await prompts_repo.clear_admin(tx, admin_id)


async def close_admins_asked(tx: Connection, kind: PromptKind, key: str, value: int) -> None:
    """Inside the caller's transaction: every admin's question of ``kind`` whose payload
    says ``key`` = ``value`` is moot (what it was about has been decided)."""
    await prompts_repo.clear_admins_asked(tx, kind.value, key, value)


async def close_admins_about(tx: Connection, owner_id: int) -> None:
    """Inside the caller's transaction: every admin's question about this owner is moot
    (the owner has been decided)."""
    await prompts_repo.clear_admins_about(tx, owner_id)
