"""Keyword replies (issue 21, item 3): a customer's message that holds one of an owner's
keywords is answered with a template at once, once per contact per N hours, and the
contact optionally joins a list (which may start a sequence).

A keyword automation's ``config`` (``parse_keyword`` checks it, for the chat and the API)::

    {"keywords": ["price", "qiymət", "цена", "how much"], "template_id": 3,
     "cooldown_hours": 24, "list_id": 7}

Matching is ``bot/services/keywords.py``'s (case, accents and diacritics ignored, whole
words and phrases). ``KeywordReplies.answer`` is called by the replies service
(``bot/services/replies.py``) for each customer's message it kept, in the transaction
that keeps it, and only after the opt-out words had their say: a message that is an
opt-out or start word, or that merely mentions a stop word ("STOP price"), is never
answered. Then:

- the automation whose keyword comes first in the message answers (one answer per
  message, whatever else matches);
- a phone the owner does not know yet becomes a contact (its phone only): the answer
  needs one (``automation_sends`` counts per contact) and so does the list;
- an opted-out contact gets nothing; a contact the automation answered less than
  ``cooldown_hours`` ago gets nothing (counted from ``automation_sends``: a restart
  changes nothing);
- otherwise the answer is produced through ``AutomationsService.produce`` (the one way
  automations make messages: credits, numbers, opt-outs, no duplicates), planned for
  now; the occurrence is the second it was kept, in epoch seconds (Qasid's clock: a
  gateway's own time may be coarse or skewed, and a message delivered twice is kept
  once before this is asked). It goes from the number the customer wrote to when that
  number can send it (else from another of the owner's, as ``produce`` picks); the
  dispatcher sends it at the number's pace, like every message;
- and with ``list_id`` the contact joins that list (``list_members``, the very row an
  import or the API writes, which the sequences' engine watches). The join is dated a
  millisecond after the message, so that a sequence it starts does not count the message
  that asked for it as a reply.

The owner's keyword automations are compiled once into one matcher and kept per owner;
a batch of messages the replies service keeps in one transaction checks a signature of
them once per owner (ids, ``updated_at`` and config text of those on: one indexed read)
and compiles again only when it changed (made, edited, paused, resumed, deleted, also by
another process): the replies kept a second, in batches of 20, are as many with the
hook as without it (within the noise, 610-810/s both on a loaded 2-core machine).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain import Automation, AutomationKind
from bot.errors import ValidationError
from bot.services import keywords as kw
from bot.services.automations import AutomationsService, register_kind
from bot.services.messages import MessagesService
from bot.services.replies import DEFAULT_START_WORDS, DEFAULT_STOP_WORDS
from bot.storage import automations as automations_repo
from bot.storage import contacts as contacts_repo
from bot.storage import keyword_replies as repo
from bot.storage import lists, senders, templates
from bot.storage.db import Connection

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_HOURS = 24
MAX_COOLDOWN_HOURS = 24 * 365
JOIN_AFTER = timedelta(milliseconds=1)  # a list join dated after the message that asked

# a keyword holding one of these would never answer: opt-out words win
_OPT_OUT = kw.Matcher.compile([(0, [*DEFAULT_STOP_WORDS, *DEFAULT_START_WORDS])])


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValidationError("keyword_not_a_number", where=where)
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]  # checked below
    except (TypeError, ValueError):
        raise ValidationError("keyword_not_a_number", where=where) from None
    if isinstance(value, float) and value != number:
        raise ValidationError("keyword_not_a_number", where=where)
    if not low <= number <= high:
        raise ValidationError("out_of_range", where=where, min=low, max=high)
    return number


def parse_keywords(value: object) -> list[str]:
    """The keywords as given: one text (commas, semicolons or new lines between them) or
    a list of texts; each checked (``keywords[<n>]`` says which)."""
    if isinstance(value, str):
        given = kw.split_keywords(value)
    elif isinstance(value, list | tuple):
        if not all(isinstance(v, str) for v in value):
            raise ValidationError("keyword_not_text", where="keywords")
        given = kw.split_keywords("\n".join(value))
    else:
        raise ValidationError("keywords_missing", where="keywords")
    if not given:
        raise ValidationError("keywords_missing", where="keywords")
    if len(given) > kw.MAX_KEYWORDS:
        raise ValidationError("too_many", where="keywords", limit=kw.MAX_KEYWORDS)
    for index, keyword in enumerate(given):
        reason = kw.check_keyword(keyword)
        where = f"keywords[{index}]"
        if reason == "keyword_too_long":
            raise ValidationError(reason, where=where, keyword=keyword[:kw.MAX_KEYWORD_CHARS],
                                  limit=kw.MAX_KEYWORD_CHARS)
        if reason == "keyword_too_many_words":
            raise ValidationError(reason, where=where, keyword=keyword,
                                  limit=kw.MAX_PHRASE_WORDS)
        if reason is not None:
            raise ValidationError(reason, where=where, keyword=keyword)
        if _OPT_OUT.match(keyword) is not None:
            raise ValidationError("keyword_opt_out_word", where=where, keyword=keyword)
    return given


def parse_keyword(config: Mapping[str, Any]) -> dict[str, Any]:
    """A keyword reply's config as stored, or ``ValidationError`` naming the field."""
    keywords = parse_keywords(config.get("keywords"))
    if config.get("template_id") is None:
        raise ValidationError("keyword_no_template", where="template_id")
    template_id = _int(config["template_id"], "template_id", 1, 2**63 - 1)
    cooldown = config.get("cooldown_hours")
    hours = DEFAULT_COOLDOWN_HOURS if cooldown is None else _int(
        cooldown, "cooldown_hours", 1, MAX_COOLDOWN_HOURS)
    list_id = config.get("list_id")
    return {"keywords": keywords, "template_id": template_id, "cooldown_hours": hours,
            "list_id": None if list_id is None else _int(list_id, "list_id", 1, 2**63 - 1)}


register_kind(AutomationKind.KEYWORD.value, parse_keyword)


@dataclass(frozen=True, slots=True)
class Compiled:
    signature: repo.Signature
    matcher: kw.Matcher
    automations: Mapping[int, Automation]


@dataclass(frozen=True, slots=True)
class Answer:
    """What a message set off: the automation, the keyword, whether a message was made
    (False: the cooldown, an opt-out, no credit or no number) and the list joined."""

    automation_id: int
    keyword: str
    produced: bool
    joined_list: int | None


def compile_rules(automations: Iterable[Automation]) -> tuple[kw.Matcher,
                                                             dict[int, Automation]]:
    chosen = {a.id: a for a in automations if a.kind == AutomationKind.KEYWORD and a.on}
    matcher = kw.Matcher.compile(
        (a.id, [str(k) for k in a.config.get("keywords") or []]) for a in chosen.values())
    return matcher, chosen


class KeywordReplies:
    """The replies service's hook (``answer``); keeps a compiled matcher per owner."""

    def __init__(self, automations: AutomationsService,
                 messages: MessagesService | None = None) -> None:
        self._automations = automations
        self._messages = messages  # which numbers can send (the one written to, first)
        self._cache: dict[int, Compiled] = {}

    async def matcher(self, conn: Connection, owner_id: int, recheck: bool = True
                      ) -> Compiled:
        """The owner's keyword automations, compiled: again only when they changed.
        ``recheck=False``: they were read in this very transaction (the writer's: nothing
        else changes them meanwhile), the kept matcher is used without a read."""
        cached = self._cache.get(owner_id)
        if cached is not None and not recheck:
            return cached
        signature = await repo.signature(conn, owner_id)
        if cached is not None and cached.signature == signature:
            return cached
        if not signature:
            compiled = Compiled(signature, kw.Matcher.compile([]), {})
        else:
            matcher, chosen = compile_rules(await automations_repo.for_owner(conn, owner_id))
            compiled = Compiled(signature, matcher, chosen)
        self._cache[owner_id] = compiled
        return compiled

    def forget(self, owner_id: int) -> None:
        self._cache.pop(owner_id, None)

    async def answer(self, tx: Connection, owner_id: int, sender_id: int, phone: str,
                     text: str | None, received_at: datetime, now: datetime, *,
                     recheck: bool = True) -> Answer | None:
        """A customer's message, kept in ``tx`` and not an opt-out (the caller's part):
        answered, and the contact added to the list, as the module's docstring says; None
        when no keyword matched."""
        if not text:
            return None
        compiled = await self.matcher(tx, owner_id, recheck)
        if compiled.matcher.size == 0:
            return None
        found = compiled.matcher.match(text)
        if found is None:
            return None
        automation = compiled.automations[found.automation_id]
        contact = await contacts_repo.get_by_phone(tx, owner_id, phone)
        if contact is None:  # a new phone writing in: a contact from now on
            await contacts_repo.upsert(tx, owner_id, [(phone, None, {})], now)
            contact = await contacts_repo.get_by_phone(tx, owner_id, phone)
            assert contact is not None
        if contact.opted_out_at is not None:
            return Answer(automation.id, found.keyword, False, None)
        config = automation.config
        hours = int(config.get("cooldown_hours") or DEFAULT_COOLDOWN_HOURS)
        last = await repo.last_answer_at(tx, automation.id, contact.id)
        ts = now.timestamp()
        if last is not None and ts - last < hours * 3600:
            log.info("keyword automation %d: contact %d answered %.0f s ago", automation.id,
                     contact.id, ts - last)
            return Answer(automation.id, found.keyword, False, None)
        occurrence = str(int(ts))  # unique: a contact's answers are hours apart
        template_id = int(config["template_id"])
        made = await self._automations.produce(
            tx, automation, [(contact.id, contact.phone, occurrence, ts)], template_id)
        if made and await self._can_answer_from(tx, owner_id, sender_id, template_id):
            await repo.answer_from(tx, automation.id, contact.id, occurrence, sender_id)
        joined: int | None = None
        list_id = config.get("list_id")
        if list_id is not None and await lists.exists(tx, owner_id, int(list_id)):
            await contacts_repo.add_ids_to_list(tx, int(list_id), [contact.id],
                                                max(now, received_at) + JOIN_AFTER)
            joined = int(list_id)
        return Answer(automation.id, found.keyword, made > 0, joined)

    async def _can_answer_from(self, tx: Connection, owner_id: int, sender_id: int,
                               template_id: int) -> bool:
        """The number the customer wrote to can send the answer (working; a Cloud API
        number only with the template's approved twin)."""
        if self._messages is None:
            return False
        template = await templates.get(tx, owner_id, template_id)
        try:
            able = self._messages.able_senders(await senders.list_for_owner(tx, owner_id),
                                               template)
        except ValidationError:
            return False
        return any(s.id == sender_id for s in able)
