"""What benches that confirm a campaign set up first: an owner, a list of contacts, a
template, credits and the campaign wizard's answers (pacing "normal", one sender), up to
the confirmation the bench measures or needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Ready:
    owner_id: int
    list_id: int
    service: Any  # the CampaignsService whose draft waits for ``confirm``


async def campaign_ready_to_confirm(db: Any, *, size: int, now: datetime, telegram_id: int = 1,
                                    first_phone: int = 0,
                                    text: str = "Salam {{name}}") -> Ready:
    from bot.domain import Language, LedgerKind
    from bot.services.campaigns import CampaignsConfig, CampaignsService
    from bot.storage import contacts, ledger, lists, owners, templates

    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=now)
        people = await lists.create(tx, owner.id, "everyone", now)
        rows = [(f"+99450{first_phone + n:07d}", f"Name {n}", json.dumps({"city": "Bakı"}))
                for n in range(size)]
        await contacts.upsert(tx, owner.id, rows, now)
        await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
        template = await templates.add(tx, owner.id, "promo", [text], None, None, now)
        await ledger.add(tx, owner.id, LedgerKind.CREDIT, size, now)
    service = CampaignsService(db, CampaignsConfig(advice_max=size))
    await service.begin(owner.id)
    await service.choose_list(owner.id, people.id)
    await service.choose_template(owner.id, template.id)
    await service.senders_chosen(owner.id)
    await service.start_now(owner.id)
    await service.use_preset(owner.id, "normal")
    return Ready(owner.id, people.id, service)
