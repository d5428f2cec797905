"""Prompts: the question the next typed message answers (bot/services/prompts.py)."""

from __future__ import annotations

import pytest

from bot.errors import ValidationError
from bot.services.accounts import AccountsConfig, AccountsService
from bot.services.contacts import ContactsConfig, ContactsService
from bot.services.prompts import Prompt, PromptKind, PromptsService
from bot.services.templates import TemplatesService
from bot.storage import prompts as prompts_repo
from tests.fakes import RecordingNotifier

ADMIN = 900


async def test_a_question_survives_a_restart_and_the_newer_one_replaces_it(db, clock, alice,
                                                                            bob) -> None:
    await PromptsService(db, clock).ask(alice.owner_id, PromptKind.PAIR_PHONE, sender_id=7)
    restarted = PromptsService(db, clock)
    asked = await restarted.pending(alice.owner_id)
    assert asked == Prompt(PromptKind.PAIR_PHONE, {"sender_id": 7}) and asked.id("sender_id") == 7
    assert await restarted.pending(bob.owner_id) is None  # one owner's question only
    await restarted.ask(alice.owner_id, PromptKind.CLOUD_NUMBER)
    assert (await restarted.pending(alice.owner_id)).kind is PromptKind.CLOUD_NUMBER
    await restarted.drop(alice.owner_id)
    assert await restarted.pending(alice.owner_id) is None


async def test_dropping_one_kind_leaves_another_question_open(db, clock, alice) -> None:
    prompts = PromptsService(db, clock)
    await prompts.ask(alice.owner_id, PromptKind.CLOUD_TEMPLATE, template_id=alice.template_id)
    await prompts.drop(alice.owner_id, PromptKind.RENAME_LIST)  # e.g. a list card was opened
    assert (await prompts.pending(alice.owner_id)).kind is PromptKind.CLOUD_TEMPLATE
    await prompts.drop(alice.owner_id, PromptKind.CLOUD_TEMPLATE)
    assert await prompts.pending(alice.owner_id) is None


async def test_a_question_this_version_does_not_know_is_none(db, clock, alice) -> None:
    async with db.transaction() as tx:
        await prompts_repo.set(tx, alice.owner_id, "retired_kind", {}, clock())
    assert await PromptsService(db, clock).pending(alice.owner_id) is None


async def test_admins_and_owners_are_asked_their_own_kinds(db, clock, alice) -> None:
    prompts = PromptsService(db, clock)
    with pytest.raises(ValueError):
        await prompts.ask(alice.owner_id, PromptKind.REJECT_REASON, owner_id=1)
    with pytest.raises(ValueError):
        await prompts.ask_admin(ADMIN, PromptKind.RENAME_LIST, list_id=1)
    await prompts.ask_admin(ADMIN, PromptKind.REJECT_REASON, owner_id=alice.owner_id,
                            message_id=5)
    assert await prompts.pending(alice.owner_id) is None  # an admin's, not the owner's
    assert (await prompts.pending_admin(ADMIN)).payload == {"owner_id": alice.owner_id,
                                                            "message_id": 5}
    await prompts.drop_admin(ADMIN)
    assert await prompts.pending_admin(ADMIN) is None


async def test_a_saved_answer_closes_its_question_and_a_wrong_one_keeps_it(db, clock,
                                                                         alice) -> None:
    prompts = PromptsService(db, clock)
    contacts = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
    await prompts.ask(alice.owner_id, PromptKind.RENAME_LIST, list_id=alice.list_id)
    with pytest.raises(ValidationError):  # an empty name: the question stays open
        await contacts.rename_list(alice.owner_id, alice.list_id, "   ")
    assert (await prompts.pending(alice.owner_id)).kind is PromptKind.RENAME_LIST
    await contacts.rename_list(alice.owner_id, alice.list_id, "Regulars")
    assert await prompts.pending(alice.owner_id) is None

    templates = TemplatesService(db, clock)
    await prompts.ask(alice.owner_id, PromptKind.CLOUD_TEMPLATE, template_id=alice.template_id)
    await templates.link_cloud(alice.owner_id, alice.template_id, "spring_sale az name")
    assert await prompts.pending(alice.owner_id) is None


async def _pending_owner(accounts: AccountsService, tid: int) -> int:
    await accounts.start(tid, tid, "en")
    await accounts.answer(tid, "Leyla")
    await accounts.answer(tid, "Gül Evi")
    await accounts.share_phone(tid, f"99450123456{tid}", tid)
    return (await accounts.accept_terms(tid)).id


async def test_deciding_an_owner_closes_every_admins_question_about_them(db, clock) -> None:
    config = AccountsConfig(admin_ids=frozenset({ADMIN, ADMIN + 1}), needs_approval=True,
                            default_region="AZ", default_timezone="Asia/Baku")
    accounts = AccountsService(db, config, RecordingNotifier(), clock)
    prompts = PromptsService(db, clock)
    owner, other = await _pending_owner(accounts, 1), await _pending_owner(accounts, 2)
    await prompts.ask_admin(ADMIN, PromptKind.REJECT_REASON, owner_id=owner, message_id=5)
    await prompts.ask_admin(ADMIN + 1, PromptKind.REJECT_REASON, owner_id=other)
    await accounts.approve(ADMIN + 1, owner)  # decided by another admin
    assert await prompts.pending_admin(ADMIN) is None  # what ADMIN types now is no reason
    assert (await prompts.pending_admin(ADMIN + 1)).payload["owner_id"] == other
