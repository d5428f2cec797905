"""API keys: an owner's shop, CRM or booking system calls ``/api/v1`` with one.

A key is ``qsd_`` + 8 hex digits (its *prefix*, shown to the owner to tell keys apart) +
``_`` + 43 url-safe random characters, e.g. ``qsd_1a2b3c4d_Xk...``. It is shown once, when
made; what is stored is its prefix and the SHA-256 of the whole key (keys are random
enough that a plain hash is the right tool: no salt, no slow hash), compared in constant
time (``hmac.compare_digest``). Logs name a key by its prefix only, and the log redactor
(``bot/logs.py``) turns anything shaped like a key into ``[secret]``.

The rules, in one place:
- a key has scopes (``Scope``): read or write of contacts, messages, campaigns,
  webhooks; read of stats. A write scope implies the read of its area;
- ``authenticate`` answers None for an unknown or revoked key, and for a key whose owner
  is not active (suspended, ...): the owner's status is read with the key on every call,
  so a suspension or a revocation stops the key at once;
- a key's last use is written at most once a minute (``TOUCH_EVERY``), not once a request;
- every call that names a key takes the owner's id: another owner's key is not found.

In the chat a key is made in steps (name typed, scopes toggled, *Create*): the steps
live in a draft (one per owner, in the database), and ``create_from_draft`` makes the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, utcnow
from bot.domain import ApiKeyDraft, ApiKeyInfo, ApiPrincipal, OwnerStatus, Scope
from bot.errors import NotFound, StorageUnavailable, ValidationError
from bot.services import prompts
from bot.storage import api_keys as keys_repo
from bot.storage.db import Connection, Database

__all__ = ["KEY_SHAPE", "MAX_ACTIVE_KEYS", "NAME_MAX", "TOUCH_EVERY", "ApiKeyDraft",
           "ApiKeyInfo", "ApiKeysService", "ApiPrincipal", "CreatedKey", "Scope",
           "hash_key", "make_key"]

log = logging.getLogger(__name__)

PREFIX_HEAD = "qsd_"
PREFIX_LENGTH = len(PREFIX_HEAD) + 8  # qsd_1a2b3c4d
SECRET_BYTES = 32  # token_urlsafe(32): 43 characters
# the shape of a key; bot/logs.py's redactor has the same (tests/unit/test_api_keys.py)
KEY_SHAPE = re.compile(r"qsd_[0-9a-f]{8}_[A-Za-z0-9_-]{32,}")
NAME_MIN, NAME_MAX = 2, 64
MAX_ACTIVE_KEYS = 20
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key: what is stored of it, and the secret, which is shown this once."""

    key: ApiKeyInfo
    secret: str


def make_key() -> tuple[str, str]:
    """A new key: (its prefix, the whole key)."""
    prefix = PREFIX_HEAD + secrets.token_hex(4)
    return prefix, f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_name(raw: str) -> str:
    """A key's name as typed, spaces folded; ValidationError when too short or too long."""
    name = " ".join(raw.split())
    if len(name) < NAME_MIN:
        raise ValidationError("too_short", where="name")
    if len(name) > NAME_MAX:
        raise ValidationError("too_long", where="name", limit=NAME_MAX)
    return name


class ApiKeysService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock
        self._touched: dict[int, datetime] = {}  # key id -> when its last use was written

    # --- keys --------------------------------------------------------------------------

    async def create(self, owner_id: int, name: str, scopes: Iterable[Scope]) -> CreatedKey:
        """A new key of the owner's; its secret is in the answer and nowhere else."""
        name, chosen = key_name(name), Scope.with_implied(scopes)
        if not chosen:
            raise ValidationError("api_no_scopes", where="scopes")
        async with self._db.transaction() as tx:
            created = await self._add(tx, owner_id, name, chosen)
        log.info("owner %s made API key %s", owner_id, created.key.prefix)
        return created

    async def _add(self, tx: Connection, owner_id: int, name: str,
                   scopes: frozenset[Scope]) -> CreatedKey:
        if await keys_repo.count_active(tx, owner_id) >= MAX_ACTIVE_KEYS:
            raise ValidationError("api_too_many_keys", where="keys", limit=MAX_ACTIVE_KEYS)
        prefix, secret = make_key()
        while await keys_repo.prefix_taken(tx, prefix):  # one in 4 billion: draw again
            prefix, secret = make_key()
        key = await keys_repo.add(tx, owner_id, name, prefix, hash_key(secret), scopes,
                                  self._clock())
        return CreatedKey(key, secret)

    async def check_room(self, owner_id: int) -> None:
        """ValidationError when the owner has as many active keys as allowed."""
        if await keys_repo.count_active(self._db.reader, owner_id) >= MAX_ACTIVE_KEYS:
            raise ValidationError("api_too_many_keys", where="keys", limit=MAX_ACTIVE_KEYS)

    async def list(self, owner_id: int) -> list[ApiKeyInfo]:
        """The owner's keys, newest first; revoked ones too (``revoked_at`` set)."""
        return await keys_repo.of_owner(self._db.reader, owner_id)

    async def get(self, owner_id: int, key_id: int) -> ApiKeyInfo:
        found = await keys_repo.get(self._db.reader, owner_id, key_id)
        if found is None:
            raise NotFound("api_key", key_id=key_id)
        return found

    async def revoke(self, owner_id: int, key_id: int) -> bool:
        """True when the owner's active key is revoked now (False: not theirs, or revoked
        already). It stops working at once."""
        async with self._db.transaction() as tx:
            done = await keys_repo.revoke(tx, owner_id, key_id, self._clock())
        if done:
            log.info("owner %s revoked API key %s", owner_id, key_id)
        return done

    async def authenticate(self, secret: str) -> ApiPrincipal | None:
        """Who the key is: None when it is unknown, revoked, or its owner is not active."""
        digest = hash_key(secret)  # hashed whatever the key is: the work does not tell
        if not KEY_SHAPE.fullmatch(secret):
            return None
        found = await keys_repo.by_prefix(self._db.reader, secret[:PREFIX_LENGTH])
        if found is None or not hmac.compare_digest(digest, found.key_hash):
            return None
        key = found.key
        if key.revoked_at is not None or found.owner_status is not OwnerStatus.ACTIVE:
            return None
        await self._touch(key)
        return ApiPrincipal(owner_id=key.owner_id, key_id=key.id, prefix=key.prefix,
                            scopes=Scope.with_implied(key.scopes))

    async def _touch(self, key: ApiKeyInfo) -> None:
        """Note the key's use, at most once every ``TOUCH_EVERY``."""
        now = self._clock()
        last = self._touched.get(key.id) or key.last_used_at
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._touched[key.id] = now  # before the write: requests meanwhile do not write
        try:
            async with self._db.transaction() as tx:
                await keys_repo.touch(tx, key.id, now)
        except StorageUnavailable as exc:  # the request is served; the next minute tries
            self._touched.pop(key.id, None)
            log.warning("could not note the use of API key %s: %s", key.prefix, exc.reason)

    # --- a key made in the chat, step by step -----------------------------------------

    async def start_draft(self, owner_id: int, name: str) -> ApiKeyDraft:
        """The name typed after *New key*: a draft with no scopes yet (it replaces any
        other draft); the question of the name is answered in the same transaction."""
        name = key_name(name)
        async with self._db.transaction() as tx:
            if await keys_repo.count_active(tx, owner_id) >= MAX_ACTIVE_KEYS:
                raise ValidationError("api_too_many_keys", where="keys",
                                      limit=MAX_ACTIVE_KEYS)
            await keys_repo.set_draft(tx, owner_id, name, frozenset(), self._clock())
            await prompts.close(tx, owner_id, prompts.PromptKind.API_KEY_NAME)
        return ApiKeyDraft(owner_id, name)

    async def draft(self, owner_id: int) -> ApiKeyDraft:
        found = await keys_repo.get_draft(self._db.reader, owner_id)
        if found is None:
            raise NotFound("api_key_draft")
        return found

    async def toggle_scope(self, owner_id: int, scope: Scope) -> ApiKeyDraft:
        """Choose or drop one scope of the draft: choosing a write chooses its read,
        dropping a read drops its write."""
        async with self._db.transaction() as tx:
            draft = await keys_repo.get_draft(tx, owner_id)
            if draft is None:
                raise NotFound("api_key_draft")
            chosen = set(draft.scopes)
            if scope in chosen:
                chosen.discard(scope)
                if not scope.writes:  # no write without its read
                    chosen -= {s for s in Scope if s.writes and s.reading is scope}
            else:
                chosen |= {scope, scope.reading}
            scopes = frozenset(chosen)
            await keys_repo.set_draft_scopes(tx, owner_id, scopes)
        return ApiKeyDraft(owner_id, draft.name, scopes)

    async def create_from_draft(self, owner_id: int) -> CreatedKey:
        """*Create*: the draft becomes a key (once: the draft goes in the same
        transaction, so a second tap finds none)."""
        async with self._db.transaction() as tx:
            draft = await keys_repo.get_draft(tx, owner_id)
            if draft is None:
                raise NotFound("api_key_draft")
            if not draft.scopes:
                raise ValidationError("api_no_scopes", where="scopes")
            created = await self._add(tx, owner_id, draft.name,
                                      Scope.with_implied(draft.scopes))
            await keys_repo.drop_draft(tx, owner_id)
        log.info("owner %s made API key %s", owner_id, created.key.prefix)
        return created

    async def drop_draft(self, owner_id: int) -> None:
        """*Cancel*: no draft, and no question of its name open."""
        async with self._db.transaction() as tx:
            await keys_repo.drop_draft(tx, owner_id)
            await prompts.close(tx, owner_id, prompts.PromptKind.API_KEY_NAME)
