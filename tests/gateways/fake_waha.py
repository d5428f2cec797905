"""A fake WAHA on 127.0.0.1: real HTTP, WAHA's wire format, misbehaviour on cue.

``FakeWaha`` is a plain ASGI app served by uvicorn (h11) in a background thread with its
own event loop, so a test's client and the server never share a loop and the server
outlives one test (a module-scoped ``FakeWahaServer`` plus ``FakeWaha.reset()`` per test
keeps a suite fast). ``serve_fake_waha()`` is the one-off form:

    async with serve_fake_waha(api_key="k") as waha:
        waha.add_session("shop")
        ...                      # point a WahaGateway at waha.url
        waha.requests            # every request: method, path, query, headers, JSON body

What it answers, like WAHA:

* ``POST /api/sendText|sendImage|sendFile``: 201 with the message; the id in the shape of
  ``id_style`` (``"gows"``: ``{"id": "true_...@c.us_..."}``, ``"webjs"``:
  ``{"id": {"_serialized": ...}}``, ``"noweb"``: ``{"key": {...}}``, ``"empty"``: a 201
  without a body, ``"garbage"``: a 201 that is not JSON). A send through a session that is
  not ``WORKING`` is 422 with its status, an unknown session 404, and a session that is
  ``CAPPED`` or under a timelock 500 ``server returned error 463``. Like WAHA, a send to a
  number that is not on WhatsApp is still 201 (only ``check-exists`` says so).
* ``GET /api/contacts/check-exists``: ``numberExists`` false for ``not_on_whatsapp``.
* ``GET /api/sessions/{s}``, ``/capping`` (404 ``Cannot GET`` when the session's
  ``capping_supported`` is false, as on an older WAHA), ``/timelock``.
* ``GET /api/files/...``: a customer's attachment added with ``add_file`` (its bytes and
  type; 404 for any other). WAHA serves these outside its OpenAPI document, so they are
  not in ``ALL_REQUESTS``. ``add_file`` answers the ``media.url`` WAHA would put in the
  message: on ``http://localhost:3000``, WAHA's own idea of its address.
* With ``api_key`` set, a request without the right ``X-Api-Key`` is 401.

Linking a number, like WAHA:

* ``POST /api/sessions {name, start, config}``: 201 ``SessionDTO``; the session goes
  ``STARTING`` -> ``SCAN_QR_CODE`` (``STOPPED`` with ``start: false``) and keeps its
  ``config.webhooks``. A name that exists: 422 ``Session 'x' already exists`` (WAHA Plus
  answers 422 for a second create of a name, devlikeapro/waha#315; the exact words vary
  by version, "already started" in older ones).
* ``POST /api/sessions/{s}/start`` (a ``STOPPED`` session starts: ``WORKING`` again if
  it is linked, else ``SCAN_QR_CODE``; a started one: 422 ``Session 'x' is already
  started.``), ``/stop`` (``STOPPED``), ``/logout`` (forgets the number; a running
  session shows a new QR); 404 for an unknown session. ``DELETE /api/sessions/{s}``:
  200, also for an unknown session (the spec calls it idempotent).
* ``GET /api/{s}/auth/qr?format=image``: a real tiny PNG whose bytes differ for each QR
  *generation* (``refresh_qr``); JSON ``Base64File {mimetype, data}`` when ``Accept``
  asks for ``application/json`` and not ``image/png``; ``format=raw``: ``{value}``. A
  session not in ``SCAN_QR_CODE``: 422 with its status.
* ``POST /api/{s}/auth/request-code {phoneNumber}``: 201 ``{"code": "ABCD-1234"}``
  (``pairing_code``); 422 when not in ``SCAN_QR_CODE``, 400 for a phone not in digits.
* Test hooks: ``scan(session, phone)`` (the phone linked it: ``WORKING``, ``me`` set),
  ``refresh_qr(session)``, ``set_status(session, status)``. Setting
  ``session.status`` directly still works but sends no webhook.

Webhooks, like WAHA: a session created with ``config.webhooks`` gets, at each webhook's
``url`` and for the ``events`` it lists (``"*"``: all), WAHA's envelope ``{id,
timestamp(ms), session, engine, event, payload, me, environment}`` (``me`` only once a
number is linked), signed (``X-Webhook-Hmac``: lower-case hex HMAC-SHA512 of the raw
body, ``X-Webhook-Hmac-Algorithm: sha512``) when the webhook has ``hmac.key``:

* ``session.status`` at every status change through the fake (create, start, stop,
  logout, ``scan``, ``set_status``): ``{name, status, statuses: [history], data}``;
* with ``auto_ack = True`` (default False), after each accepted send: ``message.ack``
  1 SERVER, 2 DEVICE, 3 READ for the id the send answered (``{fromMe}_{chatId}_{id}``).

They are delivered in order (one queue per fake) by a task on the fake's own event loop
with an ``httpx.AsyncClient``, never holding up the answer that caused them.
``webhooks_sent`` keeps each attempt, ``webhook_failures`` each one that failed
(no answer or not 2xx: recorded, never raised, not retried). ``flush_webhooks(timeout)``
(sync) or ``await wait_webhooks_idle()`` returns once everything queued was
delivered or failed.

Misbehaviour, each for the next ``times`` requests (to ``path``, or any path):
``fail_next(status, body, headers=...)``, ``delay_next(seconds)`` (then answers normally:
a client with a shorter timeout sees a read timeout, and the request *did* arrive),
``drop_next()`` (closes the connection without a byte of answer).

``record=False`` is the fast mode for benchmarks: only ``counts`` per path are kept.
Every recorded request is also appended to ``ALL_REQUESTS`` so the contract tests can
check everything the adapter sent in this test run against WAHA's published spec.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from starlette.responses import Response

from tests.gateways.http_fake import Fault, Misbehaviour, ThreadedServer
from tests.gateways.http_fake import json_or_none as _json_or_none
from tests.gateways.http_fake import json_response as _json

ALL_REQUESTS: list[RecordedRequest] = []

SEND_PATHS = frozenset({"/api/sendText", "/api/sendImage", "/api/sendFile"})
ERROR_463 = "server returned error 463"
PAIRING_CODE = "ABCD-1234"
STATUSES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "PASSKEY_REQUIRED",
            "PASSKEY_CONFIRMATION_REQUIRED", "WORKING", "FAILED")
ACK_NAMES = {1: "SERVER", 2: "DEVICE", 3: "READ"}
ENGINES = {"gows": "GOWS", "webjs": "WEBJS", "noweb": "NOWEB"}


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON body, or None
    raw_body: bytes = b""
    key_required: bool = False  # the fake demanded X-Api-Key (WAHA run with a key)
    status: int | None = None  # what the fake answered (None: no answer, or not yet)
    response: Any = None  # the JSON it answered
    scripted: bool = False  # the answer came from ``fail_next``, not from the fake's WAHA


@dataclass(slots=True)
class FakeSession:
    name: str
    status: str = "WORKING"
    me: str = "994500000001"  # the linked number, digits
    capping_status: str = "NONE"  # NONE | FIRST_WARNING | SECOND_WARNING | CAPPED
    used_quota: int = 12
    total_quota: int = 1000
    cycle_start: int | None = 1_764_000_000
    cycle_end: int | None = 1_766_592_000
    timelock_active: bool = False
    timelock_ends: int | None = None
    capping_supported: bool = True
    push_name: str = "Qasid test"
    linked: bool = True  # a phone is linked (``me`` is known); False for a new session
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # from the create config
    statuses: list[dict[str, Any]] = field(default_factory=list)  # {status, timestamp(ms)}
    qr_generation: int = 1  # bumped by ``refresh_qr`` and every new QR
    pairing_phone: str | None = None  # the last ``request-code`` phoneNumber

    @property
    def restricted(self) -> bool:
        return self.capping_status == "CAPPED" or self.timelock_active


@dataclass(slots=True)
class Webhook:
    """One webhook the fake sent (or tried to)."""

    url: str
    event: str
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    status: int | None = None  # the receiver's answer; None: no answer
    error: str = ""  # why it failed, when it did


class FakeWaha(Misbehaviour):
    """The ASGI app and its knobs (see the module docstring)."""

    def __init__(self, *, api_key: str | None = None, record: bool = True,
                 auto_ack: bool = False, webhook_timeout: float = 5.0) -> None:
        self.url = ""  # set when served
        self.api_key = api_key
        self.record = record
        self.auto_ack = auto_ack
        self.webhook_timeout = webhook_timeout
        self._loop: asyncio.AbstractEventLoop | None = None  # the server's, once known
        self._idle = threading.Condition()
        self._outbox: deque[Webhook] = deque()
        self._pending = 0  # queued or in flight
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._events = 0
        self.reset()

    def reset(self) -> None:
        """Forget sessions, requests and cues (a fresh WAHA, same address)."""
        self.requests: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()
        self.sessions: dict[str, FakeSession] = {}
        self.not_on_whatsapp: set[str] = set()  # digits, like check-exists' ``phone``
        self.id_style = "gows"
        self._faults: list[Fault] = []
        self._sent = 0
        self.files: dict[str, tuple[bytes, str]] = {}  # path -> (bytes, mimetype)
        with self._idle:
            self.webhooks_sent: list[Webhook] = []
            self.webhook_failures: list[Webhook] = []

    # -- knobs ------------------------------------------------------------------------

    def add_session(self, name: str = "default", **fields: Any) -> FakeSession:
        session = self.sessions[name] = FakeSession(name, **fields)
        return session

    def add_file(self, name: str, content: bytes, mimetype: str) -> str:
        """A customer's attachment WAHA downloaded; answers its ``media.url``."""
        path = f"/api/files/{name}"
        self.files[path] = (content, mimetype)
        return f"http://localhost:3000{path}"

    def scan(self, name: str, phone: str) -> FakeSession:
        """The phone ``phone`` scanned the QR (or typed the code): ``WORKING``."""
        session = self.sessions[name]
        session.me = phone.strip().removeprefix("+")
        session.linked = True
        self._set_status(session, "WORKING")
        return session

    def refresh_qr(self, name: str) -> None:
        """WAHA renewed the QR (it does every ~20 s): the next image differs."""
        self.sessions[name].qr_generation += 1

    def set_status(self, name: str, status: str) -> None:
        """Move the session to ``status`` the way WAHA would: history and webhook."""
        assert status in STATUSES, status
        self._set_status(self.sessions[name], status)

    def flush_webhooks(self, timeout: float = 5.0) -> None:
        """Wait until every queued webhook was delivered or failed (any thread but the
        fake's own)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"{self._pending} webhooks still queued after {timeout}s")

    async def wait_webhooks_idle(self) -> None:
        """``flush_webhooks`` (5 s at most) for a test's event loop."""
        await asyncio.to_thread(self.flush_webhooks)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop serving this fake: webhooks are delivered from it."""
        self._loop = loop

    def sent(self) -> list[RecordedRequest]:
        """The send requests that arrived (answered or not)."""
        return [r for r in self.requests if r.method == "POST" and r.path in SEND_PATHS]

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self._loop = asyncio.get_running_loop()
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.counts[path] += 1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(scope["method"], path, query, headers, body, raw,
                                 key_required=self.api_key is not None)
        if self.record:
            self.requests.append(record)
            if not path.startswith("/api/files/"):  # not in WAHA's OpenAPI document
                ALL_REQUESTS.append(record)

        dropped, scripted = await self.misbehave(path, send)
        if dropped:
            return
        if scripted is not None:
            response = scripted
            record.scripted = True
        else:
            response = self._answer(scope["method"], path, query, headers, raw, body)
        record.status = response.status_code
        record.response = _json_or_none(response.body)
        await response(scope, receive, send)

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
        raw: bytes, body: Any,
    ) -> Response:
        if self.api_key is not None and headers.get("x-api-key") != self.api_key:
            return _json(401, {"message": "Unauthorized", "statusCode": 401})
        if method == "POST" and path in SEND_PATHS:
            return self._send(path, body)
        if method == "GET" and path.startswith("/api/files/"):
            found = self.files.get(path)
            if found is None:
                return _json(404, {"statusCode": 404, "message": "Not Found"})
            return Response(found[0], status_code=200, media_type=found[1])
        if method == "GET" and path == "/api/contacts/check-exists":
            return self._check_exists(query)
        if method == "POST" and path == "/api/sessions":
            return self._create(body)
        parts = [unquote(part) for part in path.split("/")]
        if len(parts) in (4, 5) and parts[:3] == ["", "api", "sessions"]:
            part = parts[4] if len(parts) == 5 else None
            if method == "GET":
                return self._session_info(parts[3], part, path)
            if method == "POST" and part in ("start", "stop", "logout"):
                return self._lifecycle(parts[3], part)
            if method == "DELETE" and part is None:
                self.sessions.pop(parts[3], None)
                return Response(status_code=200)
        if len(parts) == 5 and parts[:2] == ["", "api"] and parts[3] == "auth":
            if method == "GET" and parts[4] == "qr":
                return self._qr(parts[2], query, headers)
            if method == "POST" and parts[4] == "request-code":
                return self._request_code(parts[2], body)
        return _cannot(method, path)

    def _session(self, name: str, expected: str = "WORKING") -> FakeSession | Response:
        session = self.sessions.get(name)
        if session is None:
            return _json(404, {
                "statusCode": 404, "error": "Not Found",
                "message": f"We didn't find a session with name '{name}'.\n"
                           f"Please start it first by using POST /api/sessions/{name}/start "
                           "request",
            })
        if session.status != expected:
            return _json(422, {
                "error": "Session status is not as expected. Try again later or restart "
                         "the session",
                "session": name, "status": session.status, "expected": [expected],
            })
        return session

    def _send(self, path: str, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("chatId"), str):
            return _json(400, {"statusCode": 400, "error": "Bad Request",
                               "message": ["chatId must be a string"]})
        session = self._session(str(body.get("session", "default")))
        if isinstance(session, Response):
            return session
        chat = body["chatId"]
        if not chat.endswith("@c.us") or not chat.removesuffix("@c.us").isdigit():
            return _json(400, {"statusCode": 400, "error": "Bad Request",
                               "message": f"Invalid chatId '{chat}'"})
        if session.restricted:
            return _json(500, {
                "statusCode": 500, "timestamp": "2026-11-25T09:00:00.000Z",
                "exception": {"message": f"2 UNKNOWN: {ERROR_463}", "code": 2,
                              "details": ERROR_463},
            })
        self._sent += 1
        raw_id = f"3EB0{self._sent:018X}"
        serialized = f"true_{chat}_{raw_id}"
        if self.auto_ack:
            for ack, name in ACK_NAMES.items():
                self._emit(session, "message.ack", {
                    "id": serialized, "from": f"{session.me}@c.us", "to": chat,
                    "participant": None, "fromMe": True, "ack": ack, "ackName": name,
                })
        if self.id_style == "empty":
            return Response(status_code=201)
        if self.id_style == "garbage":
            return Response("<html>ok</html>", status_code=201, media_type="text/html")
        if self.id_style == "noweb":
            jid = chat.replace("@c.us", "@s.whatsapp.net")
            return _json(201, {"key": {"remoteJid": jid, "fromMe": True, "id": raw_id},
                               "messageTimestamp": "1764061200", "status": "PENDING"})
        if self.id_style == "webjs":
            message_id: Any = {"fromMe": True, "remote": chat, "id": raw_id,
                               "_serialized": serialized}
        else:
            message_id = serialized
        return _json(201, {
            "id": message_id, "timestamp": 1_764_061_200, "from": f"{session.me}@c.us",
            "fromMe": True, "source": "api", "to": chat, "body": body.get("text", ""),
            "hasMedia": path != "/api/sendText", "ack": 1, "ackName": "SERVER",
        })

    def _check_exists(self, query: dict[str, str]) -> Response:
        session = self._session(query.get("session", "default"))
        if isinstance(session, Response):
            return session
        phone = query.get("phone", "")
        if phone in self.not_on_whatsapp:
            return _json(200, {"numberExists": False})
        return _json(200, {"numberExists": True, "chatId": f"{phone}@c.us",
                           "pn": f"{phone}@c.us"})

    def _session_info(self, name: str, part: str | None, path: str) -> Response:
        session = self.sessions.get(name)
        if session is None:
            found = self._session(name)
            assert isinstance(found, Response)
            return found
        capping = {
            "cappingStatus": session.capping_status, "totalQuota": session.total_quota,
            "usedQuota": session.used_quota, "cycleStart": session.cycle_start,
            "cycleEnd": session.cycle_end, "mvStatus": "NOT_ELIGIBLE", "oteStatus": None,
        }
        timelock = {"enforcementType": "DEFAULT", "isActive": session.timelock_active,
                    "timeEnforcementEnds": session.timelock_ends}
        if part == "capping":
            return (_json(200, capping) if session.capping_supported
                    else _cannot("GET", path))
        if part == "timelock":
            return (_json(200, timelock) if session.capping_supported
                    else _cannot("GET", path))
        if part is not None:
            return _cannot("GET", path)
        info: dict[str, Any] = {
            "name": name, "status": session.status, "presence": {},
            "timestamps": {"activity": 1_764_061_200_000}, "config": _config(session),
        }
        if session.status == "WORKING":
            info["me"] = {"id": f"{session.me}@c.us", "pushName": "Qasid test",
                          "messageCapping": capping, "reachoutTimelock": timelock}
        return _json(200, info)


    # -- linking ----------------------------------------------------------------------

    def _create(self, body: Any) -> Response:
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return _json(400, {"statusCode": 400, "error": "Bad Request",
                               "message": ["name must be a string"]})
        if name in self.sessions:
            return _json(422, {"statusCode": 422, "error": "Unprocessable Entity",
                               "message": f"Session '{name}' already exists"})
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        webhooks = [hook for hook in config.get("webhooks") or []
                    if isinstance(hook, dict) and isinstance(hook.get("url"), str)]
        session = self.sessions[name] = FakeSession(
            name, status="STOPPED", me="", linked=False, webhooks=webhooks,
            statuses=[_point("STOPPED")],
        )
        if body.get("start", True) is not False:
            self._start(session)
        return _json(201, _dto(session))

    def _lifecycle(self, name: str, action: str) -> Response:
        session = self.sessions.get(name)
        if session is None:
            found = self._session(name)
            assert isinstance(found, Response)
            return found
        if action == "start":
            if session.status != "STOPPED":
                return _json(422, {"statusCode": 422, "error": "Unprocessable Entity",
                                   "message": f"Session '{name}' is already started."})
            self._start(session)
        elif action == "stop":
            if session.status != "STOPPED":
                self._set_status(session, "STOPPED")
        else:  # logout
            session.linked, session.me = False, ""
            if session.status != "STOPPED":
                session.qr_generation += 1
                self._set_status(session, "SCAN_QR_CODE")
        return _json(201, _dto(session))

    def _start(self, session: FakeSession) -> None:
        self._set_status(session, "STARTING")
        if session.linked:
            self._set_status(session, "WORKING")
        else:
            session.qr_generation += 1
            self._set_status(session, "SCAN_QR_CODE")

    def _qr(self, name: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        session = self._session(name, expected="SCAN_QR_CODE")
        if isinstance(session, Response):
            return session
        if query.get("format", "image") == "raw":
            return _json(200, {"value": f"2@fake-qr-{name}-{session.qr_generation}"})
        png = qr_png(session.qr_generation)
        accept = headers.get("accept", "")
        if "application/json" in accept and "image/png" not in accept:
            return _json(200, {"mimetype": "image/png",
                               "data": base64.b64encode(png).decode("ascii")})
        return Response(png, status_code=200, media_type="image/png")

    def _request_code(self, name: str, body: Any) -> Response:
        session = self._session(name, expected="SCAN_QR_CODE")
        if isinstance(session, Response):
            return session
        phone = body.get("phoneNumber") if isinstance(body, dict) else None
        if not isinstance(phone, str) or not phone.isdigit():
            return _json(400, {"statusCode": 400, "error": "Bad Request",
                               "message": ["phoneNumber must be a phone number in digits"]})
        session.pairing_phone = phone
        return _json(201, {"code": PAIRING_CODE})

    # -- webhooks ---------------------------------------------------------------------

    def _set_status(self, session: FakeSession, status: str) -> None:
        session.status = status
        session.statuses.append(_point(status))
        self._emit(session, "session.status", {
            "name": session.name, "status": status,
            "statuses": [dict(point) for point in session.statuses], "data": None,
        })

    def _emit(self, session: FakeSession, event: str, payload: dict[str, Any]) -> None:
        """Queue ``event`` for each of the session's webhooks that wants it."""
        queued = []
        for hook in session.webhooks:
            events = hook.get("events") or []
            if event not in events and "*" not in events:
                continue
            self._events += 1
            body: dict[str, Any] = {
                "id": f"evt_{self._events:026x}", "timestamp": int(time.time() * 1000),
                "session": session.name, "engine": ENGINES.get(self.id_style, "WEBJS"),
                "event": event, "payload": payload,
            }
            if session.linked and session.me:
                body["me"] = {"id": f"{session.me}@c.us", "pushName": session.push_name}
            body["environment"] = {
                "version": "2026.9.2", "engine": body["engine"], "tier": "CORE",
                "browser": None, "platform": "linux/x64", "worker": {"id": None},
            }
            raw = json.dumps(body).encode()
            headers = {"content-type": "application/json"}
            key = (hook.get("hmac") or {}).get("key")
            if isinstance(key, str) and key:
                headers["x-webhook-hmac"] = hmac.new(key.encode(), raw,
                                                     hashlib.sha512).hexdigest()
                headers["x-webhook-hmac-algorithm"] = "sha512"
            queued.append(Webhook(hook["url"], event, body, raw, headers))
        if not queued:
            return
        with self._idle:
            self._outbox.extend(queued)
            self._pending += len(queued)
            start, self._draining = not self._draining, True
        if start:
            self._start_draining()

    def _start_draining(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            with self._idle:
                while self._outbox:
                    hook = self._outbox.popleft()
                    hook.error = "the fake is not being served"
                    self.webhook_failures.append(hook)
                self._pending, self._draining = 0, False
                self._idle.notify_all()
            return

        def create() -> None:
            self._drain_task = loop.create_task(self._drain())

        loop.call_soon_threadsafe(create)

    async def _drain(self) -> None:
        """Deliver the queue in order, then stop (a new event starts a new drain)."""
        async with httpx.AsyncClient(timeout=self.webhook_timeout) as client:
            while True:
                with self._idle:
                    if not self._outbox:
                        self._draining = False
                        return
                    hook = self._outbox.popleft()
                try:
                    answer = await client.post(hook.url, content=hook.raw, headers=hook.headers)
                    hook.status = answer.status_code
                    if not answer.is_success:
                        hook.error = f"HTTP {answer.status_code}"
                except Exception as exc:  # recorded, never raised: WAHA only logs it
                    hook.error = f"{type(exc).__name__}: {exc}"
                with self._idle:
                    self.webhooks_sent.append(hook)
                    if hook.error:
                        self.webhook_failures.append(hook)
                    self._pending -= 1
                    self._idle.notify_all()


def _point(status: str) -> dict[str, Any]:
    return {"status": status, "timestamp": int(time.time() * 1000)}


def _config(session: FakeSession) -> dict[str, Any]:
    config: dict[str, Any] = {"metadata": {}}
    if session.webhooks:
        config["webhooks"] = session.webhooks
    return config


def _dto(session: FakeSession) -> dict[str, Any]:
    return {"name": session.name, "status": session.status, "config": _config(session)}


def qr_png(generation: int) -> bytes:
    """A valid 21x21 grey-scale PNG (a QR's size) whose pixels depend on ``generation``."""
    size = 21
    bits = int.from_bytes(hashlib.shake_256(f"qr {generation}".encode()).digest(56))
    rows = b"".join(
        b"\x00" + bytes(255 * (bits >> (y * size + x) & 1) for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _cannot(method: str, path: str) -> Response:
    return _json(404, {"message": f"Cannot {method} {path}", "error": "Not Found",
                       "statusCode": 404})


class FakeWahaServer(ThreadedServer[FakeWaha]):
    name = "fake WAHA"

    def __init__(self, fake: FakeWaha | None = None, *, fast: bool = False) -> None:
        super().__init__(fake or FakeWaha(), fast=fast)

    def start(self) -> FakeWaha:
        fake = super().start()
        servers = getattr(self._server, "servers", None) or []  # uvicorn's asyncio servers
        if servers:
            fake.bind_loop(servers[0].get_loop())  # webhooks before the first request
        return fake

    def stop(self) -> None:
        with suppress(TimeoutError):
            self.fake.flush_webhooks(timeout=2.0)
        super().stop()


@asynccontextmanager
async def serve_fake_waha(
    *, api_key: str | None = None, record: bool = True, auto_ack: bool = False
) -> AsyncIterator[FakeWaha]:
    """A fresh fake WAHA for the duration of the block; yields it (``.url``, knobs)."""
    server = FakeWahaServer(FakeWaha(api_key=api_key, record=record, auto_ack=auto_ack))
    fake = await asyncio.to_thread(server.start)
    try:
        yield fake
    finally:
        await asyncio.to_thread(server.stop)


def main() -> None:
    """``python -m tests.gateways.fake_waha SESSIONS [--h11]``: serve a fake WAHA in this
    process (fast mode, sessions ``s0``..``sN-1`` working), print its URL, stop when stdin
    closes. For benchmarks that want the gateway in another process, as a real one is: it
    serves with httptools on uvloop, as a production server would (``--h11``: as the
    tests' in-thread servers do)."""
    import sys

    args = [a for a in sys.argv[1:] if a != "--h11"]
    sessions = int(args[0]) if args else 10
    fake = FakeWaha(record=False)
    for n in range(sessions):
        fake.add_session(f"s{n}", me=f"9945000000{n:02d}")
    server = FakeWahaServer(fake, fast="--h11" not in sys.argv[1:])
    server.start()
    print(fake.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
