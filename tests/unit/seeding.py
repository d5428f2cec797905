"""Owners seeded for the statistics tests: a list, a template, and messages written
straight to the outbox (the ``alice`` and ``bob`` fixtures in ``conftest.py``)."""

from __future__ import annotations

from bot.domain import Language
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts, lists, owners, templates
from bot.storage.db import Database, to_ts


class Seeded:
    """An owner with a list, a template and campaigns; messages written straight to the
    outbox with exactly the statuses and reasons a test wants."""

    def __init__(self, db: Database, clock, owner_id: int, list_id: int,
                 template_id: int) -> None:
        self.db, self.clock = db, clock
        self.owner_id, self.list_id, self.template_id = owner_id, list_id, template_id
        self._phones = 0

    async def campaign(self, name: str = "Promo", *, draft: bool = False) -> int:
        async with self.db.transaction() as tx:
            campaign = await campaigns_repo.create_draft(tx, self.owner_id, name,
                                                         self.clock())
            campaign.list_id, campaign.template_id = self.list_id, self.template_id
            if not draft:
                campaign.schedule(self.clock())
                campaign.start(self.clock())
            await campaigns_repo.save(tx, campaign, self.clock())
        return campaign.id

    async def messages(self, campaign_id: int | None, status: str, n: int = 1, *,
                       category: str | None = None, detail: str | None = None) -> None:
        now = to_ts(self.clock())
        rows = []
        for _ in range(n):
            self._phones += 1
            rows.append((campaign_id, self.owner_id, f"+99450{self.owner_id:02d}{self._phones:05d}",
                         now, status, category, detail, now))
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO messages (campaign_id, owner_id, phone, planned_at, status,"
                " error_category, error_detail, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


async def seed_owner(db: Database, clock, telegram_id: int) -> Seeded:
    rows = [(f"+9945510{telegram_id:03d}{n:02d}", f"Person {n}", "{}") for n in range(3)]
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        target = await lists.create(tx, owner.id, "Customers", clock())
        await contacts.upsert(tx, owner.id, rows, clock())
        await contacts.add_to_list(tx, owner.id, target.id, [r[0] for r in rows], clock())
        template = await templates.add(tx, owner.id, "Promo", ["Hi {{name|friend}}"], None,
                                       None, clock())
    return Seeded(db, clock, owner.id, target.id, template.id)
