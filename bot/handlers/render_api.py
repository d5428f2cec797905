"""Rendering for /api: the owner's API keys, making one, revoking one. Pure.

Buttons (``api:``): ``api:all`` the keys; ``api:new`` asks the new key's name;
``api:sc:<scope>`` toggles a scope of the key being made; ``api:mk`` makes it;
``api:cancel`` drops it; ``api:rv:<id>`` asks to revoke a key, ``api:rvok:<id>`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import ApiKeyDraft, ApiKeyInfo, Scope
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.api_keys import CreatedKey

# More buttons under /api's list of keys, one row each: (catalog key, callback data).
# The hook for what else an integration sets up in the chat (outgoing webhooks: E).
MORE_BUTTONS: tuple[tuple[str, str], ...] = (("webhooks.button", "wh:all"),)

AREAS = ("contacts", "messages", "campaigns", "stats", "webhooks")
_AREA_LABELS = {"contacts": "api.area_contacts", "messages": "api.area_messages",
                "campaigns": "api.area_campaigns", "stats": "api.area_stats",
                "webhooks": "api.area_webhooks"}


def _area(tr: Translator, area: str) -> str:
    return tr(_AREA_LABELS[area])


def scopes_text(tr: Translator, scopes: frozenset[Scope]) -> str:
    """``Contacts: read and write · Stats: read`` (``—`` for none)."""
    parts = []
    for area in AREAS:
        granted = {s for s in scopes if s.area == area}
        if any(s.writes for s in granted):
            parts.append(f"{_area(tr, area)}: {tr('api.access_write')}")
        elif granted:
            parts.append(f"{_area(tr, area)}: {tr('api.access_read')}")
    return " · ".join(parts) or "—"


def keys_screen(tr: Translator, keys: Sequence[ApiKeyInfo], zone: str,
                note: str | None = None) -> Screen:
    """The owner's active keys (revoked ones are not shown), each with *Revoke*;
    ``zone``: the owner's, for the dates."""
    active = [key for key in keys if key.active]
    lines = [note, ""] if note else []
    lines.append(tr("api.title"))
    if not active:
        lines.append(tr("api.none"))
    for key in active:
        used = tr.datetime(key.last_used_at, zone) if key.last_used_at else tr("api.never")
        lines.append(tr("api.key_line", name=key.name, prefix=key.prefix,
                        scopes=scopes_text(tr, key.scopes),
                        created=tr.date(key.created_at, zone), used=used))
    lines.append(tr("api.hint"))
    rows = [[(tr("api.new"), "api:new")]]
    rows += [[(tr("api.revoke", name=key.name), f"api:rv:{key.id}")] for key in active]
    rows += [[(tr(label), data)] for label, data in MORE_BUTTONS]
    rows.append([(tr("menu.back"), "menu:home")])
    return Screen("\n\n".join(lines), keyboard(*rows))


def name_question(tr: Translator) -> Screen:
    return Screen(tr("api.ask_name"), keyboard([(tr("common.cancel"), "api:cancel")]))


def scopes_question(tr: Translator, draft: ApiKeyDraft) -> Screen:
    """The scopes of the key being made, each a toggle: read and write of each area
    (stats: read only)."""
    rows = []
    for area in AREAS:
        row = []
        for scope in (s for s in Scope if s.area == area):
            mark = "✅" if scope in draft.scopes else "⬜"
            access = tr("api.write") if scope.writes else tr("api.read")
            row.append((f"{mark} {_area(tr, area)}: {access}", f"api:sc:{scope.value}"))
        rows.append(row)
    rows.append([(tr("api.create"), "api:mk"), (tr("common.cancel"), "api:cancel")])
    return Screen(tr("api.ask_scopes", name=draft.name,
                     scopes=scopes_text(tr, draft.scopes)), keyboard(*rows))


def created(tr: Translator, made: CreatedKey) -> Screen:
    """The new key, this once."""
    return Screen(tr("api.created", name=made.key.name, secret=made.secret,
                     scopes=scopes_text(tr, made.key.scopes)),
                  keyboard([(tr("api.all"), "api:all")]))


def revoke_question(tr: Translator, key: ApiKeyInfo) -> Screen:
    return Screen(tr("api.revoke_confirm", name=key.name, prefix=key.prefix),
                  keyboard([(tr("api.revoke_yes"), f"api:rvok:{key.id}")],
                           [(tr("common.cancel"), "api:all")]))
