"""The API's server: ``/api/v1`` (and ``/api/docs``) straight on ASGI.

A request to a route goes, in order (each step answered with a problem, ``problems.py``):

=====================================================================  =================
the path and method match a declared route                             404 / 405
``Authorization: Bearer <key>`` names a key that lets someone in       401
the key's request bucket has a token (``limits.py``)                   429 Retry-After
the key has the route's scope                                          403
the body is at most ``max_body`` bytes (``Content-Length`` first,      413
then counted as it arrives: never read whole when too large)
the body is JSON (``Content-Type`` JSON or none)                       415 / 400
the body matches the route's JSON Schema; parameters theirs            422 / 400
a POST's ``Idempotency-Key`` answered before: that answer; used for    replayed / 409
another request: refused; at work now: waits for it
the handler; a domain error becomes its problem, anything else 500     handler's status
(logged with the route and the key's prefix, no detail in the answer)
=====================================================================  =================

Served without Starlette's routing and middleware, as the webhooks are (``bot/web/app.py``
``WebhookPosts``): at a thousand requests a second they were a third of the server's time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from bot.domain import ApiPrincipal
from bot.services.idempotency import Answer, IdempotencyService, fingerprint, valid_key
from bot.web.api import auth, docs, openapi
from bot.web.api.limits import Monotonic, RateLimiter
from bot.web.api.problems import CONTENT_TYPE, ApiProblem, internal, problem_of
from bot.web.api.routing import ApiCall, ApiResponse, ApiRoute, ApiRouter, Param
from bot.web.api.services import ApiServices

log = logging.getLogger(__name__)

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

PREFIX = "/api/v1"
DOCS_PATH = "/api/docs"
DOCUMENT_PATH = PREFIX + "/openapi.json"
JSON_TYPE = b"application/json"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    rate: float = 50.0  # requests a second per key (API_RATE_PER_SECOND)
    burst: int = 100  # API_BURST
    max_body: int = 8 * 1024 * 1024  # bytes (API_MAX_BODY_MB)
    monotonic: Monotonic | None = None  # the rate limiter's clock (tests: FakeClock's)


def encode(body: Any) -> bytes:
    """A JSON body as sent: UTF-8, compact; datetimes ISO 8601 in UTC (``...Z``)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                      default=_default).encode()


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(slots=True)
class IdempotentCall:
    """A POST with an ``Idempotency-Key``: where its answer is stored."""

    service: IdempotencyService
    owner_id: int
    key: str
    request: bytes  # its fingerprint
    stored: Answer | None = None  # stored inside the work's transaction

    def in_transaction(self, status: int, render: Callable[[T], Any]) -> Callable[
            [Any, T], Awaitable[None]]:
        async def store(tx: Any, result: T) -> None:
            answer = Answer(status, encode(render(result)))
            await self.service.store_in(tx, self.owner_id, self.key, self.request, answer)
            self.stored = answer

        return store


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes | None
    content_type: bytes = JSON_TYPE
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class ApiApp:
    """The ASGI app of everything under ``/api/`` (``create_web_app`` hands it those)."""

    def __init__(self, services: ApiServices, routers: Iterable[ApiRouter],
                 config: ApiConfig | None = None) -> None:
        self.services = services
        self.config = config or ApiConfig()
        self.routers = list(routers)
        self.routes = [route for router in self.routers for route in router.routes]
        self._static: dict[tuple[str, str], ApiRoute] = {}
        self._dynamic: list[ApiRoute] = []
        for route in self.routes:
            if route.pattern is None:
                if (route.method, route.path) in self._static:
                    raise ValueError(f"{route.method} {route.path} is declared twice")
                self._static[route.method, route.path] = route
            else:
                self._dynamic.append(route)
        self._static_paths = {path for _, path in self._static}
        self.limiter = (RateLimiter(self.config.rate, self.config.burst, self.config.monotonic)
                        if self.config.monotonic else
                        RateLimiter(self.config.rate, self.config.burst))
        self.document = openapi.document(self.routers)
        self._document = encode(self.document)
        self._docs = docs.render(self.document).encode()

    # --- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path in (DOCS_PATH, DOCS_PATH + "/") and method == "GET":
            await _send(send, _Answer(200, self._docs, b"text/html; charset=utf-8"))
            return
        if path == DOCUMENT_PATH and method == "GET":
            await _send(send, _Answer(200, self._document))
            return
        principal: ApiPrincipal | None = None
        route: ApiRoute | None = None
        try:
            route, path_values = self._match(method, path)
            headers = {key.decode("latin-1"): value.decode("latin-1")
                       for key, value in scope["headers"]}
            principal = await auth.authenticate(self.services.keys,
                                                headers.get("authorization"))
            self.limiter.take(principal.key_id)
            auth.require(principal, route.scopes)
            answer = await self._serve(route, principal, scope, receive, headers, path_values)
        except ApiProblem as problem:
            answer = _problem(problem)
        except Exception as exc:
            found = problem_of(exc)
            if found is None:
                log.exception("API %s %s failed (key %s)", method,
                              route.path if route else path,
                              principal.prefix if principal else "none")
                found = internal()
            elif found.status >= 500:
                log.warning("API %s %s answered %d (key %s): %s", method,
                            route.path if route else path, found.status,
                            principal.prefix if principal else "none", exc)
            answer = _problem(found)
        await _send(send, answer)

    def _match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]]:
        if not path.startswith(PREFIX + "/"):
            raise ApiProblem(404, "not-found", f"There is nothing at {path}.")
        sub = path[len(PREFIX):]
        route = self._static.get((method, sub))
        if route is not None:
            return route, {}
        allowed = sub in self._static_paths
        for candidate in self._dynamic:
            assert candidate.pattern is not None
            found = candidate.pattern.match(sub)
            if found is not None:
                if candidate.method == method:
                    return candidate, found.groupdict()
                allowed = True
        if allowed:
            raise ApiProblem(405, "method-not-allowed",
                             f"{method} is not a method of {sub}.")
        raise ApiProblem(404, "not-found", f"There is nothing at {path}.")

    async def _serve(self, route: ApiRoute, principal: ApiPrincipal, scope: Scope,
                     receive: Receive, headers: Mapping[str, str],
                     path_values: dict[str, str]) -> _Answer:
        path_params = _params(route.params, "path", path_values, route)
        query = _params(route.params, "query",
                        dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                       keep_blank_values=True)), route)
        raw = b""
        body: Any = None
        if route.body is not None or route.method in ("POST", "PUT", "PATCH"):
            raw = await self._read(receive, headers.get("content-length"))
        if route.body is not None:
            body = _json_body(raw, headers.get("content-type"))
            _validate(route, body)
        call = ApiCall(principal=principal, services=self.services, body=body,
                       path_params=path_params, query=query, headers=headers, route=route)
        key = headers.get("idempotency-key")
        if route.method != "POST" or key is None:
            return _answer(await route.handler(call))
        if not valid_key(key):
            raise ApiProblem(400, "invalid-header",
                             "An Idempotency-Key is 1 to 255 printable ASCII characters.",
                             field="Idempotency-Key")
        service = self.services.idempotency
        request = fingerprint(route.method, scope["path"] + "?" + (
            scope.get("query_string", b"").decode("latin-1")), raw)
        async with service.claim(principal.owner_id, key):
            stored = await service.stored(principal.owner_id, key, request)
            if stored is not None:
                return _Answer(stored.status, stored.body,
                               headers=[(b"idempotent-replayed", b"true")])
            call.idempotency = pending = IdempotentCall(service, principal.owner_id, key,
                                                        request)
            response = await route.handler(call)
            if pending.stored is not None:  # committed with the work: answer exactly that
                answer = _answer(response)
                answer.status, answer.body = pending.stored.status, pending.stored.body
                return answer
            answer = _answer(response)
            if 200 <= answer.status < 300 and answer.body is not None:
                await service.store(principal.owner_id, key, request,
                                    Answer(answer.status, answer.body))
            return answer

    async def _read(self, receive: Receive, declared: str | None) -> bytes:
        """The body, refused (413) as soon as it says or turns out to be over the limit."""
        limit = self.config.max_body
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiProblem(400, "invalid-json", "The client went away.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, "payload-too-large",
                      f"A body may hold at most {limit // (1024 * 1024)} MB.",
                      headers={"Connection": "close"})


def _json_body(raw: bytes, content_type: str | None) -> Any:
    if content_type is not None and "json" not in content_type.lower():
        raise ApiProblem(415, "unsupported-media-type",
                         "Send the body as JSON (Content-Type: application/json).",
                         field="Content-Type")
    if not raw.strip():
        raise ApiProblem(400, "invalid-json", "This route needs a JSON body.", field="")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise ApiProblem(400, "invalid-json", "The body is not valid JSON.",
                         field="") from None


def pointer(parts: Iterable[object]) -> str:
    """A JSON pointer (RFC 6901): ``/recipients/3/phone``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _validate(route: ApiRoute, body: Any) -> None:
    assert route.validator is not None
    errors = route.validator.iter_errors(body)
    first = next(errors, None)
    if first is None:
        return
    error = best_match([first, *errors])
    assert error is not None
    where = list(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            where.append(missing[0])
            message = f"'{missing[0]}' is required"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties", {})) if isinstance(
            error.schema, dict) else set()
        extra = [name for name in error.instance if name not in known]
        if extra:
            where.append(extra[0])
            message = f"'{extra[0]}' is not a field of this body"
    raise ApiProblem(422, "invalid-body", _short(message), field=pointer(where))


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit - 1] + "…"


def _params(declared: tuple[Param, ...], where: str, given: Mapping[str, str],
            route: ApiRoute) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in declared:
        if param.where != where:
            continue
        text = given.get(param.name)
        if text is None:
            if param.required:
                raise ApiProblem(400, "invalid-parameter", f"'{param.name}' is required.",
                                 field=param.name)
            continue
        value = _convert(param, text)
        validator = route.param_validators[param.name]
        error: SchemaError | None = best_match(validator.iter_errors(value))
        if error is not None:
            raise ApiProblem(400, "invalid-parameter", f"{param.name}: {_short(error.message)}",
                             field=param.name)
        values[param.name] = value
    return values


def _convert(param: Param, text: str) -> Any:
    kind = param.schema.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        word = "a whole number" if kind == "integer" else "a number"
        raise ApiProblem(400, "invalid-parameter", f"{param.name}: {text!r} is not {word}.",
                         field=param.name) from None
    if kind == "boolean":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ApiProblem(400, "invalid-parameter", f"{param.name}: true or false.",
                         field=param.name)
    return text


def _answer(response: ApiResponse) -> _Answer:
    answer = _Answer(response.status, None if response.body is None else encode(response.body))
    answer.headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                      for k, v in response.headers.items()]
    return answer


def _problem(problem: ApiProblem) -> _Answer:
    return _Answer(problem.status, problem.render(), CONTENT_TYPE.encode(),
                   [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in problem.headers.items()])


async def _send(send: Send, answer: _Answer) -> None:
    headers = list(answer.headers)
    if answer.body is not None:
        headers.append((b"content-type", answer.content_type))
    headers.append((b"content-length", str(len(answer.body or b"")).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body or b""})
