"""Who may do what, said once: an admin is one of ``ADMIN_IDS``; an owner acts only while
active. Services call these before they change anything."""

from __future__ import annotations

from collections.abc import Collection

from bot.domain import Owner, OwnerStatus
from bot.errors import NotAllowed, NotFound
from bot.storage import owners
from bot.storage.db import Connection


def require_admin(admin_ids: Collection[int], telegram_id: int) -> None:
    """``NotAllowed("not_admin")`` unless ``telegram_id`` is one of the admins."""
    if telegram_id not in admin_ids:
        raise NotAllowed("not_admin")


async def active_owner(conn: Connection, owner_id: int) -> Owner:
    """The owner, read on ``conn``; ``NotFound`` when there is none, ``NotAllowed``
    (``status_<status>``) unless they are active."""
    owner = await owners.get(conn, owner_id)
    if owner is None:
        raise NotFound("owner", owner_id=owner_id)
    if owner.status is not OwnerStatus.ACTIVE:
        raise NotAllowed(f"status_{owner.status.value}")
    return owner
