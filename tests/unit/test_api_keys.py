"""API keys: made, hashed, scoped, checked, revoked, and their last use noted sparingly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.domain import Language, OwnerStatus, Scope
from bot.errors import NotFound, ValidationError
from bot.logs import SECRET, Redactor
from bot.services.api_keys import (
    KEY_SHAPE,
    MAX_ACTIVE_KEYS,
    TOUCH_EVERY,
    ApiKeysService,
    hash_key,
    make_key,
)
from bot.services.prompts import PromptKind, PromptsService
from bot.storage import owners
from bot.storage.db import Database
from tests.fakes import FakeClock


async def owner(db: Database, clock: FakeClock, telegram_id: int,
                status: OwnerStatus = OwnerStatus.ACTIVE) -> int:
    async with db.transaction() as tx:
        made = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                language=Language.EN, now=clock())
        made.status = status
        await owners.save(tx, made, clock())
    return made.id


async def set_status(db: Database, clock: FakeClock, owner_id: int,
                     status: OwnerStatus) -> None:
    async with db.transaction() as tx:
        found = await owners.get(tx, owner_id)
        assert found is not None
        found.status = status
        await owners.save(tx, found, clock())


@pytest.fixture
def keys(db: Database, clock: FakeClock) -> ApiKeysService:
    return ApiKeysService(db, clock)


def test_a_key_has_the_published_shape_and_its_prefix() -> None:
    prefix, secret = make_key()
    assert KEY_SHAPE.fullmatch(secret)
    assert len(prefix) == 12 and prefix.startswith("qsd_") and secret.startswith(prefix + "_")
    assert len(secret) >= 12 + 1 + 32
    assert len({make_key()[1] for _ in range(200)}) == 200  # random, not counted


async def test_only_the_hash_and_the_prefix_are_stored(
        db: Database, clock: FakeClock, keys: ApiKeysService, db_path: Path) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "Shop", [Scope.CONTACTS_WRITE])
    async with db.reader.execute("SELECT prefix, key_hash FROM api_keys") as cur:
        [(prefix, stored)] = [tuple(row) for row in await cur.fetchall()]
    assert prefix == created.key.prefix == created.secret[:12]
    assert stored == hashlib.sha256(created.secret.encode()).hexdigest() == \
        hash_key(created.secret)
    await db.close()  # everything written to the file (and its WAL) is in it now
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert not any(created.secret.encode() in p.read_bytes() for p in files)
    await db.connect()


async def test_a_write_scope_implies_the_read_of_its_area_only(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "CRM", [Scope.CONTACTS_WRITE, Scope.STATS_READ])
    assert created.key.scopes == {Scope.CONTACTS_WRITE, Scope.CONTACTS_READ, Scope.STATS_READ}
    principal = await keys.authenticate(created.secret)
    assert principal is not None
    assert principal.owner_id == alice and principal.key_id == created.key.id
    assert principal.prefix == created.key.prefix
    assert principal.allows(Scope.CONTACTS_READ) and principal.allows(Scope.CONTACTS_WRITE)
    assert not principal.allows(Scope.MESSAGES_READ)
    assert not principal.allows(Scope.MESSAGES_WRITE)
    assert Scope.with_implied([Scope.WEBHOOKS_WRITE, Scope.CAMPAIGNS_READ]) == {
        Scope.WEBHOOKS_WRITE, Scope.WEBHOOKS_READ, Scope.CAMPAIGNS_READ}


async def test_a_key_needs_a_name_and_a_scope(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    with pytest.raises(ValidationError) as empty:
        await keys.create(alice, "Shop", [])
    assert empty.value.reason == "api_no_scopes"
    with pytest.raises(ValidationError) as short:
        await keys.create(alice, "  ", [Scope.STATS_READ])
    assert short.value.reason == "too_short"
    with pytest.raises(ValidationError) as long:
        await keys.create(alice, "x" * 65, [Scope.STATS_READ])
    assert long.value.reason == "too_long"
    assert await keys.list(alice) == []


async def test_unknown_malformed_and_wrong_keys_are_nobody(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "Shop", [Scope.MESSAGES_WRITE])
    forged = created.secret[:-4] + ("aaaa" if not created.secret.endswith("aaaa") else "bbbb")
    for secret in (make_key()[1], forged, created.key.prefix, "", "Bearer x",
                   created.secret + "x", created.secret.upper()):
        assert await keys.authenticate(secret) is None, secret
    assert await keys.authenticate(created.secret) is not None


async def test_a_revoked_key_stops_at_once_and_only_its_owner_can_revoke_it(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice, bob = await owner(db, clock, 1), await owner(db, clock, 2)
    created = await keys.create(alice, "Shop", [Scope.MESSAGES_WRITE])
    assert await keys.authenticate(created.secret) is not None
    assert await keys.revoke(bob, created.key.id) is False  # not Bob's
    assert await keys.authenticate(created.secret) is not None
    assert await keys.list(bob) == []
    with pytest.raises(NotFound):
        await keys.get(bob, created.key.id)
    clock.advance(minutes=5)
    assert await keys.revoke(alice, created.key.id) is True
    assert await keys.authenticate(created.secret) is None
    assert await keys.revoke(alice, created.key.id) is False  # revoked already
    [listed] = await keys.list(alice)
    assert listed.revoked_at == clock() and not listed.active


async def test_a_suspended_owners_keys_stop_at_once_and_come_back_with_them(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "Shop", [Scope.CAMPAIGNS_WRITE])
    assert await keys.authenticate(created.secret) is not None
    await set_status(db, clock, alice, OwnerStatus.SUSPENDED)
    assert await keys.authenticate(created.secret) is None
    await set_status(db, clock, alice, OwnerStatus.ACTIVE)
    assert await keys.authenticate(created.secret) is not None
    pending = await owner(db, clock, 2, OwnerStatus.PENDING)
    theirs = await keys.create(pending, "Early", [Scope.STATS_READ])
    assert await keys.authenticate(theirs.secret) is None


async def last_used(keys: ApiKeysService, owner_id: int):
    [key] = await keys.list(owner_id)
    return key.last_used_at


async def test_the_last_use_is_written_at_most_once_a_minute(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "Shop", [Scope.MESSAGES_WRITE])
    assert await last_used(keys, alice) is None
    first = clock()
    assert await keys.authenticate(created.secret) is not None
    assert await last_used(keys, alice) == first
    commits = db.commits
    for _ in range(50):  # many requests within the minute: no write
        clock.advance(seconds=1)
        assert await keys.authenticate(created.secret) is not None
    assert db.commits == commits
    assert await last_used(keys, alice) == first
    clock.advance(seconds=10)  # 60 s after the first use
    assert await keys.authenticate(created.secret) is not None
    assert await last_used(keys, alice) == first + TOUCH_EVERY
    assert db.commits == commits + 1


async def test_the_throttle_survives_a_restart_of_the_service(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    created = await keys.create(alice, "Shop", [Scope.MESSAGES_WRITE])
    await keys.authenticate(created.secret)
    first, commits = clock(), db.commits
    clock.advance(seconds=30)
    again = ApiKeysService(db, clock)  # a new process: the stored last use still counts
    assert await again.authenticate(created.secret) is not None
    assert db.commits == commits and await last_used(keys, alice) == first


async def test_an_owner_has_a_limited_number_of_active_keys(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    made = [await keys.create(alice, f"Key {n}", [Scope.STATS_READ])
            for n in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(ValidationError) as full:
        await keys.create(alice, "One more", [Scope.STATS_READ])
    assert full.value.reason == "api_too_many_keys"
    with pytest.raises(ValidationError):
        await keys.check_room(alice)
    await keys.revoke(alice, made[0].key.id)
    await keys.check_room(alice)
    assert (await keys.create(alice, "One more", [Scope.STATS_READ])).key.name == "One more"


async def test_a_key_made_in_steps_is_made_once(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice, bob = await owner(db, clock, 1), await owner(db, clock, 2)
    prompts = PromptsService(db, clock)
    await prompts.ask(alice, PromptKind.API_KEY_NAME)
    draft = await keys.start_draft(alice, "  Booking   system ")
    assert draft.name == "Booking system" and draft.scopes == frozenset()
    assert await prompts.pending(alice) is None  # the name answered the question
    assert (await keys.toggle_scope(alice, Scope.MESSAGES_WRITE)).scopes == {
        Scope.MESSAGES_WRITE, Scope.MESSAGES_READ}
    # dropping the read drops the write it would lack
    assert (await keys.toggle_scope(alice, Scope.MESSAGES_READ)).scopes == frozenset()
    await keys.toggle_scope(alice, Scope.CONTACTS_WRITE)
    assert (await keys.toggle_scope(alice, Scope.CONTACTS_WRITE)).scopes == {
        Scope.CONTACTS_READ}
    with pytest.raises(NotFound):  # Bob has no draft, and cannot touch Alice's
        await keys.toggle_scope(bob, Scope.STATS_READ)
    with pytest.raises(NotFound):
        await keys.create_from_draft(bob)
    created = await keys.create_from_draft(alice)
    assert created.key.name == "Booking system" and created.key.scopes == {Scope.CONTACTS_READ}
    with pytest.raises(NotFound):  # a second tap on Create
        await keys.create_from_draft(alice)
    assert [k.id for k in await keys.list(alice)] == [created.key.id]
    assert await keys.list(bob) == []


async def test_a_draft_without_scopes_makes_no_key(
        db: Database, clock: FakeClock, keys: ApiKeysService) -> None:
    alice = await owner(db, clock, 1)
    await keys.start_draft(alice, "Shop")
    with pytest.raises(ValidationError) as empty:
        await keys.create_from_draft(alice)
    assert empty.value.reason == "api_no_scopes"
    await keys.drop_draft(alice)
    with pytest.raises(NotFound):
        await keys.draft(alice)
    assert await keys.list(alice) == []


def test_a_key_in_a_log_line_becomes_secret() -> None:
    _, secret = make_key()
    redact = Redactor()  # a fresh one: the key's shape, not a registered secret
    line = redact(f"calling with key={secret}&x=1 and X-Api-Key: {secret}")
    assert secret not in line and secret[12:] not in line
    assert line == f"calling with key={SECRET}&x=1 and X-Api-Key: {SECRET}"
    assert redact(f"Authorization: Bearer {secret}") == f"Authorization: {SECRET}"
    assert redact("key qsd_1a2b3c4d shown") == "key qsd_1a2b3c4d shown"  # a prefix stays
