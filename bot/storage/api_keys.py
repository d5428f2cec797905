"""API keys and the key being made in the chat (its draft). The rules are
``bot/services/api_keys.py``'s: the secret is never stored, only its SHA-256."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.domain import ApiKeyDraft, ApiKeyInfo, OwnerStatus, Scope
from bot.storage import dialect
from bot.storage.db import at_ts, from_ts, to_ts

_COLUMNS = "k.id, k.owner_id, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at," \
    " k.revoked_at"


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What authenticating a request needs of a key, read in one query."""

    key: ApiKeyInfo
    key_hash: str
    owner_status: OwnerStatus


def _key(row: aiosqlite.Row) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=Scope.parse(row["scopes"]),
        created_at=at_ts(row["created_at"]),
        last_used_at=from_ts(row["last_used_at"]),
        revoked_at=from_ts(row["revoked_at"]),
    )


async def add(conn: aiosqlite.Connection, owner_id: int, name: str, prefix: str,
              key_hash: str, scopes: frozenset[Scope], now: datetime) -> ApiKeyInfo:
    key_id = await dialect.of(conn).insert_id(
        conn,
        "INSERT INTO api_keys (owner_id, name, prefix, key_hash, scopes, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (owner_id, name, prefix, key_hash, Scope.dump(scopes), to_ts(now)),
    )
    return ApiKeyInfo(id=key_id, owner_id=owner_id, name=name, prefix=prefix,
                      scopes=scopes, created_at=now)


async def prefix_taken(conn: aiosqlite.Connection, prefix: str) -> bool:
    async with conn.execute("SELECT 1 FROM api_keys WHERE prefix = ?", (prefix,)) as cur:
        return await cur.fetchone() is not None


async def of_owner(conn: aiosqlite.Connection, owner_id: int) -> list[ApiKeyInfo]:
    """The owner's keys, revoked ones too, newest first."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys k WHERE k.owner_id = ? ORDER BY k.id DESC",
        (owner_id,),
    ) as cur:
        return [_key(row) for row in await cur.fetchall()]


async def count_active(conn: aiosqlite.Connection, owner_id: int) -> int:
    async with conn.execute(
        "SELECT COUNT(*) FROM api_keys WHERE owner_id = ? AND revoked_at IS NULL", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def get(conn: aiosqlite.Connection, owner_id: int, key_id: int) -> ApiKeyInfo | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys k WHERE k.owner_id = ? AND k.id = ?",
        (owner_id, key_id),
    ) as cur:
        row = await cur.fetchone()
    return _key(row) if row else None


async def by_prefix(conn: aiosqlite.Connection, prefix: str) -> KeyCheck | None:
    """The key with this prefix, its hash and its owner's status (one indexed lookup)."""
    # one trip to the database's thread (execute + fetch + close would be three): it runs
    # for every API request
    rows = list(await conn.execute_fetchall(_BY_PREFIX, (prefix,)))
    if not rows:
        return None
    row = rows[0]
    return KeyCheck(_key(row), row["key_hash"], OwnerStatus(row["owner_status"]))


_BY_PREFIX = (f"SELECT {_COLUMNS}, k.key_hash, o.status AS owner_status"
              " FROM api_keys k JOIN owners o ON o.id = k.owner_id WHERE k.prefix = ?")


async def revoke(conn: aiosqlite.Connection, owner_id: int, key_id: int,
                 now: datetime) -> bool:
    """True when the owner's key was active and is revoked now."""
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE owner_id = ? AND id = ? AND revoked_at IS NULL",
        (to_ts(now), owner_id, key_id),
    )
    return cur.rowcount == 1


async def touch(conn: aiosqlite.Connection, key_id: int, now: datetime) -> None:
    """The key was used now."""
    await conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                       (to_ts(now), key_id))


# --- the key being made in the chat --------------------------------------------------------

async def set_draft(conn: aiosqlite.Connection, owner_id: int, name: str,
                    scopes: frozenset[Scope], now: datetime) -> None:
    await conn.execute(
        "INSERT INTO api_key_drafts (owner_id, name, scopes, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (owner_id) DO UPDATE SET name = excluded.name,"
        " scopes = excluded.scopes, created_at = excluded.created_at",
        (owner_id, name, Scope.dump(scopes), to_ts(now)),
    )


async def set_draft_scopes(conn: aiosqlite.Connection, owner_id: int,
                           scopes: frozenset[Scope]) -> bool:
    """False when the owner has no draft."""
    cur = await conn.execute("UPDATE api_key_drafts SET scopes = ? WHERE owner_id = ?",
                             (Scope.dump(scopes), owner_id))
    return cur.rowcount == 1


async def get_draft(conn: aiosqlite.Connection, owner_id: int) -> ApiKeyDraft | None:
    async with conn.execute(
        "SELECT name, scopes FROM api_key_drafts WHERE owner_id = ?", (owner_id,)
    ) as cur:
        row = await cur.fetchone()
    return ApiKeyDraft(owner_id, row["name"], Scope.parse(row["scopes"])) if row else None


async def drop_draft(conn: aiosqlite.Connection, owner_id: int) -> None:
    await conn.execute("DELETE FROM api_key_drafts WHERE owner_id = ?", (owner_id,))
