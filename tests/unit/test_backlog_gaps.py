"""Messages waiting past their planned times (held at night, deferred, after a restart) go
out at fresh random gaps from the pace's range, not at its floor one after another."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from bot.domain import Language, LedgerKind
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.templates import TemplatesService
from bot.storage import contacts, ledger, lists, owners, templates
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier

PHONES = [f"+99450123{n:04d}" for n in range(20)]  # Baku: daytime at 09:00 UTC


async def test_a_backlog_goes_out_at_random_gaps_of_the_pace(db: Database) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # 13:00 in Baku
    gateway = SandboxGateway(SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0))
    try:
        service = CampaignsService(db, CampaignsConfig(advice_max=100, warmup=()), clock)
        dispatcher = Dispatcher(db, gateway,  # type: ignore[arg-type]  # no Meta templates
                                TemplatesService(db, clock), RecordingNotifier(),
                                DispatcherConfig(progress_every=0, warmup=()), clock,
                                campaigns_service=service)
        gateway.set_event_handler(dispatcher.events.on_event)
        now = clock()
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=now)
            people = await lists.create(tx, owner.id, "people", now)
            await contacts.upsert(tx, owner.id, [(p, f"N{i}", "{}")
                                                 for i, p in enumerate(PHONES)], now)
            await contacts.add_to_list(tx, owner.id, people.id, PHONES, now)
            template = await templates.add(tx, owner.id, "t", ["Hello {{name}}"], None,
                                           None, now)
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, 100, now)
        await service.begin(owner.id)
        await service.choose_list(owner.id, people.id)
        await service.choose_template(owner.id, template.id)
        await service.senders_chosen(owner.id)
        await service.start_now(owner.id)
        await service.use_preset(owner.id, "normal")  # random 30-60 s gaps
        assert (await service.confirm(owner.id, big_ok=True)).campaign is not None
        # all of them overdue by an hour, as after a night's hold or a restart
        async with db.transaction() as tx:
            await tx.execute("UPDATE messages SET planned_at = ?", (now.timestamp() - 3600,))
        for _ in range(20 * 65):
            await dispatcher.tick()
            clock.advance(seconds=1)
        async with db.reader.execute(
                "SELECT sent_at FROM messages WHERE sent_at IS NOT NULL ORDER BY sent_at") as cur:
            sent = [row[0] async for row in cur]
        assert len(sent) == len(PHONES)
        gaps = [b - a for a, b in pairwise(sent)]
        assert min(gaps) >= 30.0
        assert max(gaps) > 40.0  # the floor (30 s) each time before
        assert len({round(g) for g in gaps}) > 5
        # spread over 30-60 s (a mean of about 45 s), not crowding the floor: a gap drawn
        # afresh each tick let the first short draw win (a mean of 33-34 s)
        assert sum(gaps) / len(gaps) >= 39.0
    finally:
        await gateway.close()
