"""The contact card (/contact): what it shows and its buttons. Pure: data in, text and
keyboards out; every piece of the contact's data escaped by the translator."""

from __future__ import annotations

from bot.domain import Contact
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.contact_card import CardLine, ContactCard

LINE_TEXT_MAX = 120  # characters of a message shown on the card


def _cut(text: str, limit: int = LINE_TEXT_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def found(tr: Translator, query: str, contacts: list[Contact]) -> Screen:
    """The contacts whose names hold the words (a card for each button)."""
    if not contacts:
        return Screen(tr("card.none_found", query=query))
    rows = [[(f"👤 {c.name or c.phone} · {c.phone}", f"ctc:show:{c.id}")] for c in contacts]
    return Screen(tr("card.found", query=query), keyboard(*rows))


def _line(tr: Translator, line: CardLine, zone: str) -> str:
    at = tr.datetime(line.at, zone)
    if line.incoming:
        said = _cut(line.text) if line.text else tr(f"card.kind.{line.kind}")
        return tr("card.line_in", at=at, text=said)
    if line.kind == "campaign":
        return tr("card.line_campaign", at=at, campaign=line.campaign or "—",
                  status=tr(f"card.status.{line.status}"))
    said = _cut(line.text) if line.text else tr("card.kind.template")
    return tr("card.line_out", at=at, text=said, status=tr(f"card.status.{line.status}"))


def card(tr: Translator, shown: ContactCard, zone: str) -> Screen:
    contact = shown.contact
    parts = [tr("card.title", name=contact.name or tr("inbox.no_name"), phone=contact.phone)]
    parts.append(tr("card.lists", lists=", ".join(lst.name for lst in shown.lists))
                 if shown.lists else tr("card.no_lists"))
    if contact.attributes:
        parts.append(tr("card.attributes", attributes=" · ".join(
            f"{key}: {_cut(value, 60)}" for key, value in sorted(contact.attributes.items()))))
    if contact.opted_out_at is not None:
        parts.append(tr("card.opted_out", at=tr.datetime(contact.opted_out_at, zone),
                        reason=contact.opt_out_reason or "—"))
    else:
        parts.append(tr("card.opted_in"))
    if shown.conversation is not None and shown.conversation.muted_at is not None:
        parts.append(tr("card.muted"))
    if shown.lines:
        parts.append("\n" + tr("card.messages"))
        parts += [_line(tr, line, zone) for line in shown.lines]
    else:
        parts.append("\n" + tr("card.no_messages"))
    cid = contact.id
    rows: list[list[tuple[str, str]]] = [
        [(tr("card.rename"), f"ctc:name:{cid}"), (tr("card.attribute"), f"ctc:attr:{cid}")],
    ]
    conversation = shown.conversation
    if conversation is not None:
        mute = ((tr("inbox.unmute"), f"ibx:u:{conversation.id}")
                if conversation.muted_at is not None
                else (tr("inbox.mute"), f"ibx:m:{conversation.id}"))
        rows.append([(tr("inbox.reply"), f"ibx:r:{conversation.id}"), mute])
    rows.append([(tr("card.opt_in"), f"ctc:in:{cid}") if contact.opted_out_at is not None
                 else (tr("card.opt_out"), f"ctc:out:{cid}"),
                 (tr("card.delete"), f"ctc:del:{cid}")])
    return Screen("\n".join(parts), keyboard(*rows))


def delete_confirm(tr: Translator, contact: Contact) -> Screen:
    return Screen(tr("card.delete_confirm", name=contact.name or contact.phone,
                     phone=contact.phone), keyboard(
        [(tr("card.delete_yes"), f"ctc:delok:{contact.id}"),
         (tr("card.delete_no"), f"ctc:show:{contact.id}")]))


def deleted(tr: Translator, contact: Contact) -> Screen:
    key = "card.deleted_kept_opt_out" if contact.opted_out_at is not None else "card.deleted"
    return Screen(tr(key, phone=contact.phone))


def edit_prompt(tr: Translator, contact: Contact, field: str) -> Screen:
    if field == "name":
        return Screen(tr("card.ask_name", name=contact.name or contact.phone))
    return Screen(tr("card.ask_attribute", name=contact.name or contact.phone))
