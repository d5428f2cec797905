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
* With ``api_key`` set, a request without the right ``X-Api-Key`` is 401.

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
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response

from tests.gateways.http_fake import ThreadedServer

ALL_REQUESTS: list[RecordedRequest] = []

SEND_PATHS = frozenset({"/api/sendText", "/api/sendImage", "/api/sendFile"})
ERROR_463 = "server returned error 463"


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

    @property
    def restricted(self) -> bool:
        return self.capping_status == "CAPPED" or self.timelock_active


@dataclass(slots=True)
class _Fault:
    path: str | None
    times: int
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


class FakeWaha:
    """The ASGI app and its knobs (see the module docstring)."""

    def __init__(self, *, api_key: str | None = None, record: bool = True) -> None:
        self.url = ""  # set when served
        self.api_key = api_key
        self.record = record
        self.reset()

    def reset(self) -> None:
        """Forget sessions, requests and cues (a fresh WAHA, same address)."""
        self.requests: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()
        self.sessions: dict[str, FakeSession] = {}
        self.not_on_whatsapp: set[str] = set()  # digits, like check-exists' ``phone``
        self.id_style = "gows"
        self._faults: list[_Fault] = []
        self._sent = 0

    # -- knobs ------------------------------------------------------------------------

    def add_session(self, name: str = "default", **fields: Any) -> FakeSession:
        session = self.sessions[name] = FakeSession(name, **fields)
        return session

    def fail_next(
        self, status: int, body: Any = None, *, path: str | None = None,
        headers: dict[str, str] | None = None, times: int = 1,
    ) -> None:
        self._faults.append(_Fault(path, times, status=status, body=body,
                                   headers=dict(headers or {})))

    def delay_next(self, seconds: float, *, path: str | None = None, times: int = 1) -> None:
        self._faults.append(_Fault(path, times, delay=seconds))

    def drop_next(self, *, path: str | None = None, times: int = 1) -> None:
        self._faults.append(_Fault(path, times, drop=True))

    def sent(self) -> list[RecordedRequest]:
        """The send requests that arrived (answered or not)."""
        return [r for r in self.requests if r.method == "POST" and r.path in SEND_PATHS]

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
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
            ALL_REQUESTS.append(record)

        fault = self._take_fault(path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
            await _hang_up(send)
            return
        if fault is not None and fault.status is not None:
            response = _json(fault.status, fault.body, fault.headers)
            record.scripted = True
        else:
            response = self._answer(scope["method"], path, query, headers, raw, body)
        record.status = response.status_code
        record.response = _json_or_none(response.body)
        await response(scope, receive, send)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path is None or fault.path == path:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
        raw: bytes, body: Any,
    ) -> Response:
        if self.api_key is not None and headers.get("x-api-key") != self.api_key:
            return _json(401, {"message": "Unauthorized", "statusCode": 401})
        if method == "POST" and path in SEND_PATHS:
            return self._send(path, body)
        if method == "GET" and path == "/api/contacts/check-exists":
            return self._check_exists(query)
        parts = path.split("/")
        if method == "GET" and len(parts) in (4, 5) and parts[:3] == ["", "api", "sessions"]:
            return self._session_info(parts[3], parts[4] if len(parts) == 5 else None, path)
        return _cannot(method, path)

    def _session(self, name: str) -> FakeSession | Response:
        session = self.sessions.get(name)
        if session is None:
            return _json(404, {
                "statusCode": 404, "error": "Not Found",
                "message": f"We didn't find a session with name '{name}'.\n"
                           f"Please start it first by using POST /api/sessions/{name}/start "
                           "request",
            })
        if session.status != "WORKING":
            return _json(422, {
                "error": "Session status is not as expected. Try again later or restart "
                         "the session",
                "session": name, "status": session.status, "expected": ["WORKING"],
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
            return _json(200, capping) if session.capping_supported else _cannot("GET", path)
        if part == "timelock":
            return _json(200, timelock) if session.capping_supported else _cannot("GET", path)
        if part is not None:
            return _cannot("GET", path)
        info: dict[str, Any] = {
            "name": name, "status": session.status, "presence": {},
            "timestamps": {"activity": 1_764_061_200_000}, "config": {"metadata": {}},
        }
        if session.status == "WORKING":
            info["me"] = {"id": f"{session.me}@c.us", "pushName": "Qasid test",
                          "messageCapping": capping, "reachoutTimelock": timelock}
        return _json(200, info)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON; ``None``: no body; ``bytes``: sent as they are (not JSON)."""
    if body is None or isinstance(body, bytes):
        return Response(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _cannot(method: str, path: str) -> Response:
    return _json(404, {"message": f"Cannot {method} {path}", "error": "Not Found",
                       "statusCode": 404})


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def _hang_up(send: Any) -> None:
    """Close the TCP connection without answering. ASGI has no word for it, so this
    reaches uvicorn's h11 request cycle, whose bound ``send`` carries the transport."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop_next needs uvicorn's h11 protocol")
    transport.close()
    await asyncio.sleep(0.01)  # let uvicorn see the disconnect before the app returns


class FakeWahaServer(ThreadedServer[FakeWaha]):
    name = "fake WAHA"

    def __init__(self, fake: FakeWaha | None = None) -> None:
        super().__init__(fake or FakeWaha())


@asynccontextmanager
async def serve_fake_waha(
    *, api_key: str | None = None, record: bool = True
) -> AsyncIterator[FakeWaha]:
    """A fresh fake WAHA for the duration of the block; yields it (``.url``, knobs)."""
    server = FakeWahaServer(FakeWaha(api_key=api_key, record=record))
    fake = await asyncio.to_thread(server.start)
    try:
        yield fake
    finally:
        await asyncio.to_thread(server.stop)


def main() -> None:
    """``python -m tests.gateways.fake_waha SESSIONS``: serve a fake WAHA in this process
    (fast mode, sessions ``s0``..``sN-1`` working), print its URL, stop when stdin closes.
    For benchmarks that want the gateway in another process, as a real one is."""
    import sys

    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    fake = FakeWaha(record=False)
    for n in range(sessions):
        fake.add_session(f"s{n}", me=f"9945000000{n:02d}")
    server = FakeWahaServer(fake)
    server.start()
    print(fake.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
