"""The inbox's screens: a customer's message (in the owner's chat, or in its forum topic),
the answer's prompt and outcome, the closed 24-hour window, and /inbox. Pure: data in,
text and keyboards out."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Conversation, InboxSettings, Template
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.inbox import Answered
from bot.services.notify import CustomerWrote

BODY_MAX = 3000  # characters of a customer's text shown in a message
CAPTION_BODY_MAX = 700  # ... and under an attachment (Telegram's caption: 1,024)
_KIND_KEYS = {"image": "inbox.kind.image", "document": "inbox.kind.document",
              "audio": "inbox.kind.audio", "voice": "inbox.kind.voice",
              "video": "inbox.kind.video", "sticker": "inbox.kind.sticker"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def maps_url(geo: tuple[float, float]) -> str:
    return f"https://maps.google.com/?q={geo[0]:.6f},{geo[1]:.6f}"


def _body(tr: Translator, notice: CustomerWrote, limit: int) -> str:
    """What the customer sent, as the owner reads it (their words escaped)."""
    text = _cut(notice.text, limit)
    if notice.kind == "location":
        where = tr("inbox.location", place=text) if text else tr("inbox.location_bare")
        return where + (f"\n{maps_url(notice.geo)}" if notice.geo else "")
    if notice.kind == "contact":
        return tr("inbox.contact_card", cards=text)
    if notice.kind == "other":
        return tr("inbox.kind.other")
    kind_key = _KIND_KEYS.get(notice.kind)
    if kind_key is None:  # text
        return tr("inbox.text", text=text)
    lines = []
    if notice.media_missing:
        lines.append(tr("inbox.media_missing", what=tr(kind_key)))
    elif notice.media is None or notice.kind not in ("image", "voice"):
        lines.append(tr(kind_key))  # a file's kind is said; a photo or a voice note shows
    if text:
        lines.append(tr("inbox.text", text=text))
    return "\n".join(lines)


def customer_message(tr: Translator, notice: CustomerWrote, zone: str, *,
                     in_topic: bool) -> Screen:
    """A customer's message: in the owner's chat with who, to which number and the
    campaign it answered, and *Reply* / *Opt out* / *Mute*; in its topic (which is named
    after the customer) the number and the campaign only."""
    limit = CAPTION_BODY_MAX if notice.media is not None else BODY_MAX
    head = []
    if not in_topic:
        head.append(tr("inbox.from", name=notice.name or tr("inbox.no_name"),
                       phone=notice.phone))
    head.append(tr("inbox.to_number", number=notice.number,
                   at=tr.datetime(notice.at, zone)))
    if notice.campaign:
        head.append(tr("inbox.answers_campaign", campaign=notice.campaign))
    text = "\n".join(head) + "\n\n" + _body(tr, notice, limit)
    if in_topic:
        return Screen(text)
    conversation = notice.conversation_id
    return Screen(text, keyboard(
        [(tr("inbox.reply"), f"ibx:r:{conversation}")],
        [(tr("inbox.opt_out"), f"ibx:o:{conversation}"),
         (tr("inbox.mute"), f"ibx:m:{conversation}")]))


def reply_prompt(tr: Translator, conversation: Conversation, name: str | None,
                 number: str) -> Screen:
    return Screen(tr("inbox.reply_prompt", name=name or tr("inbox.no_name"),
                     phone=conversation.phone, number=number))


def answered(tr: Translator, done: Answered) -> Screen:
    return Screen(tr("inbox.sent", phone=done.phone, number=done.number))


def window_closed(tr: Translator, conversation: Conversation, hours: int,
                  last: datetime, zone: str, twins: list[Template]) -> Screen:
    """Free text is refused this long after the customer's last message: the approved
    twins of the owner's templates may still go."""
    text = tr("inbox.window_closed", hours=hours, at=tr.datetime(last, zone))
    if not twins:
        return Screen(text + "\n" + tr("inbox.window_no_twins"))
    rows = [[(tr("inbox.send_twin", name=t.name), f"ibx:t:{conversation.id}:{t.id}")]
            for t in twins[:8]]
    return Screen(text + "\n" + tr("inbox.window_twins"), keyboard(*rows))


def muted(tr: Translator, conversation: Conversation) -> Screen:
    if conversation.muted_at is not None:
        return Screen(tr("inbox.muted", phone=conversation.phone),
                      keyboard([(tr("inbox.unmute"), f"ibx:u:{conversation.id}")]))
    return Screen(tr("inbox.unmuted", phone=conversation.phone))


def settings_screen(tr: Translator, settings: InboxSettings) -> Screen:
    """/inbox: where customers' messages go, and how to change it."""
    if settings.topics:
        text = tr("inbox.mode_topics", group=settings.group_title or "—")
        rows = [[(tr("inbox.use_chat"), "ibx:chat")], [(tr("inbox.relink"), "ibx:link")],
                [(tr("inbox.unlink"), "ibx:unlink")]]
    elif settings.group_chat_id is not None:
        text = tr("inbox.mode_chat_linked", group=settings.group_title or "—")
        rows = [[(tr("inbox.use_topics"), "ibx:topics")], [(tr("inbox.unlink"), "ibx:unlink")]]
    else:
        text = tr("inbox.mode_chat")
        rows = [[(tr("inbox.link"), "ibx:link")]]
    return Screen(text, keyboard(*rows))


def link_steps(tr: Translator, code: str, until: datetime, zone: str,
               bot_username: str) -> Screen:
    return Screen(tr("inbox.link_steps", code=code, until=tr.datetime(until, zone),
                     bot="@" + bot_username),
                  keyboard([(tr("inbox.new_code"), "ibx:link")]))
