"""Who calls the API: ``Authorization: Bearer <key>``, checked by the API keys service.

A missing, malformed, unknown or revoked key, or one whose owner is not active, is
``401 unauthorized`` with ``WWW-Authenticate: Bearer``; a valid key without the route's
scope is ``403 forbidden-scope``. A key is never logged: the prefix is (``qsd_1a2b3c4d``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.domain import ApiPrincipal, Scope
from bot.web.api.problems import ApiProblem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="qasid"'}


class Authenticator(Protocol):
    """``bot.services.api_keys.ApiKeysService``: the principal of a key, None when it
    does not let anyone in."""

    async def authenticate(self, secret: str) -> ApiPrincipal | None: ...


def bearer(authorization: str | None) -> str:
    """The key of an ``Authorization`` header; 401 when there is none."""
    if authorization is None:
        raise ApiProblem(401, "unauthorized",
                         "Send the API key as 'Authorization: Bearer <key>'.",
                         field="Authorization", headers=CHALLENGE)
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(401, "unauthorized",
                         "Send the API key as 'Authorization: Bearer <key>'.",
                         field="Authorization", headers=CHALLENGE)
    return secret.strip()


async def authenticate(keys: Authenticator, authorization: str | None) -> ApiPrincipal:
    principal = await keys.authenticate(bearer(authorization))
    if principal is None:
        raise ApiProblem(401, "unauthorized",
                         "The API key is unknown or revoked, or its account is not active.",
                         field="Authorization", headers=CHALLENGE)
    return principal


def require(principal: ApiPrincipal, scopes: Iterable[Scope]) -> None:
    """403 when the key has none of ``scopes`` (a write scope includes its read)."""
    wanted = tuple(scopes)
    if not wanted or any(scope in principal.scopes for scope in wanted):
        return
    names = " or ".join(f"'{scope.value}'" for scope in wanted)
    raise ApiProblem(403, "forbidden-scope", f"This key lacks the scope {names}.")
