"""The accounts service with a real database and a recording notifier."""

from __future__ import annotations

import pytest

from bot.domain import Language, OwnerStatus, RegistrationStep
from bot.errors import InvalidTransition, NotAllowed, NotFound, ValidationError
from bot.services.accounts import AccountsConfig, AccountsService, normalise_phone
from bot.services.notify import OwnerStatusChanged, RegistrationRequested
from bot.services.prompts import PromptKind, PromptsService
from tests.fakes import RecordingNotifier

ADMIN = 900


def make_service(db, clock, *, approval: bool = True) -> tuple[AccountsService, RecordingNotifier]:
    notifier = RecordingNotifier()
    config = AccountsConfig(admin_ids=frozenset({ADMIN}), needs_approval=approval,
                            default_region="AZ", default_timezone="Asia/Baku")
    return AccountsService(db, config, notifier, clock), notifier


async def register(service: AccountsService, tid: int = 1):
    await service.start(tid, tid, "ru")
    await service.answer(tid, "  Leyla   Həsənova ")
    await service.answer(tid, "Gül Evi")
    await service.share_phone(tid, "994501234567", tid)
    return await service.accept_terms(tid)


async def test_registration_walks_the_steps_and_keeps_each_answer(db, clock) -> None:
    service, _ = make_service(db, clock)
    owner = await service.start(1, 1, "ru-RU")
    assert owner.language is Language.RU
    assert owner.registration_step is RegistrationStep.NAME
    owner = await service.answer(1, "  Leyla   Həsənova ")
    assert owner.name == "Leyla Həsənova"
    assert owner.registration_step is RegistrationStep.COMPANY
    owner = await service.answer(1, "Gül Evi")
    assert owner.registration_step is RegistrationStep.PHONE
    owner = await service.share_phone(1, "994501234567", 1)
    assert owner.phone == "+994501234567"
    assert owner.region == "AZ"
    assert (await service.find(1)).registration_step is RegistrationStep.TERMS


async def test_start_twice_returns_the_same_owner(db, clock) -> None:
    service, _ = make_service(db, clock)
    first = await service.start(1, 1, "en")
    second = await service.start(1, 1, "az")
    assert first.id == second.id
    assert second.language is Language.EN  # the first contact decided it


async def test_someone_elses_contact_is_refused(db, clock) -> None:
    service, _ = make_service(db, clock)
    await service.start(1, 1, "en")
    await service.answer(1, "Tural")
    await service.answer(1, "Tural MMC")
    with pytest.raises(ValidationError) as exc:
        await service.share_phone(1, "+994501234567", 2)
    assert exc.value.reason == "not_own_contact"
    assert (await service.find(1)).phone is None


@pytest.mark.parametrize("text,reason", [("A", "too_short"), ("x" * 101, "too_long"),
                                         ("/menu", "looks_like_command")])
async def test_bad_names_are_refused_with_a_reason(db, clock, text, reason) -> None:
    service, _ = make_service(db, clock)
    await service.start(1, 1, "en")
    with pytest.raises(ValidationError) as exc:
        await service.answer(1, text)
    assert exc.value.reason == reason
    assert (await service.find(1)).name is None


async def test_approval_mode_waits_for_an_admin_and_tells_them(db, clock) -> None:
    service, notifier = make_service(db, clock, approval=True)
    owner = await register(service)
    assert owner.status is OwnerStatus.PENDING
    assert owner.timezone == "Asia/Baku"
    assert notifier.notices == [RegistrationRequested(owner, frozenset({ADMIN}))]
    with pytest.raises(NotAllowed):
        await service.require_active(1)
    approved = await service.approve(ADMIN, owner.id)
    assert approved.status is OwnerStatus.ACTIVE
    assert approved.approved_at == clock()
    assert isinstance(notifier.notices[-1], OwnerStatusChanged)
    assert (await service.require_active(1)).id == owner.id


async def test_open_mode_activates_at_once(db, clock) -> None:
    service, notifier = make_service(db, clock, approval=False)
    owner = await register(service)
    assert owner.status is OwnerStatus.ACTIVE
    assert notifier.notices == []


async def test_only_admins_decide(db, clock) -> None:
    service, _ = make_service(db, clock)
    owner = await register(service)
    with pytest.raises(NotAllowed) as exc:
        await service.approve(1, owner.id)
    assert exc.value.reason == "not_admin"
    with pytest.raises(NotAllowed):
        await service.suspend(owner.telegram_id, owner.id)
    assert (await service.get(owner.id)).status is OwnerStatus.PENDING


async def test_reject_suspend_unsuspend(db, clock) -> None:
    service, notifier = make_service(db, clock)
    owner = await register(service)
    rejected = await service.reject(ADMIN, owner.id, "  not a business ")
    assert (rejected.status, rejected.status_reason) == (OwnerStatus.REJECTED, "not a business")
    await service.approve(ADMIN, owner.id)  # an admin may change their mind
    suspended = await service.suspend(ADMIN, owner.id, "spam complaints")
    assert suspended.status is OwnerStatus.SUSPENDED
    with pytest.raises(NotAllowed) as exc:
        await service.require_active(owner.telegram_id)
    assert exc.value.reason == "status_suspended"
    restored = await service.unsuspend(ADMIN, owner.id)
    assert restored.status is OwnerStatus.ACTIVE and restored.status_reason is None
    assert [n.owner.status for n in notifier.notices[1:]] == [
        OwnerStatus.REJECTED, OwnerStatus.ACTIVE, OwnerStatus.SUSPENDED, OwnerStatus.ACTIVE]


async def test_only_an_admin_may_decline_and_only_a_waiting_owner(db, clock) -> None:
    notifier = RecordingNotifier()
    config = AccountsConfig(admin_ids=frozenset({ADMIN, ADMIN + 1}), needs_approval=True,
                            default_region="AZ", default_timezone="Asia/Baku")
    service = AccountsService(db, config, notifier, clock)
    owner = await register(service)
    assert (await service.rejectable(ADMIN, owner.id)).id == owner.id
    with pytest.raises(NotAllowed):
        await service.rejectable(owner.telegram_id, owner.id)
    await service.approve(ADMIN + 1, owner.id)
    with pytest.raises(InvalidTransition):
        await service.rejectable(ADMIN, owner.id)  # decided already
    with pytest.raises(NotFound):
        await service.rejectable(ADMIN, owner.id + 100)


async def test_a_wrong_profile_value_changes_nothing_and_a_good_one_is_kept(db, clock) -> None:
    service, _ = make_service(db, clock, approval=False)
    prompts = PromptsService(db, clock)
    owner = await register(service)
    await prompts.ask(owner.id, PromptKind.PROFILE, field="timezone")
    with pytest.raises(ValidationError) as exc:
        await service.update_profile(owner.id, "timezone", "Atlantis")
    assert exc.value.reason == "unknown_timezone"
    assert (await service.get(owner.id)).timezone == "Asia/Baku"
    assert (await prompts.pending(owner.id)).payload == {"field": "timezone"}  # still asked
    changed = await service.update_profile(owner.id, "timezone", "Москва")
    assert changed.timezone == "Europe/Moscow" and (await service.get(owner.id)).timezone == (
        "Europe/Moscow")
    assert await prompts.pending(owner.id) is None
    with pytest.raises(ValidationError):
        await service.update_profile(owner.id, "phone", "+994501234567")  # not on My account


async def test_transitions_that_make_no_sense_are_refused(db, clock) -> None:
    service, _ = make_service(db, clock)
    owner = await register(service)
    with pytest.raises(InvalidTransition):
        await service.unsuspend(ADMIN, owner.id)
    with pytest.raises(NotFound):
        await service.approve(ADMIN, 12345)
    await service.start(2, 2, "en")
    half = await service.find(2)
    with pytest.raises(InvalidTransition):  # terms before the questions
        await service.accept_terms(2)
    assert (await service.find(2)).status is OwnerStatus.REGISTERING
    with pytest.raises(InvalidTransition):
        await service.approve(ADMIN, half.id)


async def test_language_change_is_saved(db, clock) -> None:
    service, _ = make_service(db, clock)
    await service.start(1, 1, "en")
    await service.set_language(1, Language.AZ)
    assert (await service.find(1)).language is Language.AZ
    assert await service.set_language(99, Language.AZ) is None


@pytest.mark.parametrize("raw,expected", [
    ("994501234567", "+994501234567"),
    ("+994 50 123 45 67", "+994501234567"),
    ("050 123 45 67", "+994501234567"),
    ("79123456789", "+79123456789"),
])
def test_phone_normalisation(raw: str, expected: str) -> None:
    assert normalise_phone(raw, "AZ") == expected


def test_junk_is_not_a_phone() -> None:
    with pytest.raises(ValidationError):
        normalise_phone("12345", "AZ")
