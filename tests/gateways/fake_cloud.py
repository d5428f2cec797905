"""A fake Meta Cloud API on 127.0.0.1: real HTTP, the Graph API's wire format, misbehaviour
on cue.

Served like the fake WAHA (uvicorn, h11, a background thread with its own loop, an
explicit TCP socket): a module-scoped ``FakeCloudServer`` plus ``FakeCloud.reset()`` per
test keeps a suite fast.

    with FakeCloudServer() as cloud:
        cloud.add_number("1065", token="EAAG...")   # a phone-number id and its token
        ...                       # point a CloudGateway at cloud.url
        cloud.requests            # method, path, query, headers, JSON body or form parts

What it answers, like the Cloud API:

* ``POST /{version}/{id}/messages``: 200 ``{messaging_product, contacts: [{input, wa_id}],
  messages: [{id: "wamid..."}]}``; ``id_style`` ``"empty"`` / ``"garbage"`` / ``"no_id"``
  answer 200 without a readable id.
* ``POST /{version}/{id}/media`` (multipart): 200 ``{id}``; the parts are recorded in
  ``form`` (text fields) and ``files`` (name -> (filename, content type, bytes)).
* ``GET /{version}/{id}``: ``{id, display_phone_number, verified_name, quality_rating,
  status}`` from the number's ``quality`` and ``status`` (and ``messaging_limit_tier``
  from its ``tier`` when ``fields`` asks for it; change them mid campaign); for a media
  id added with ``add_media`` (a customer's attachment), Meta's "Retrieve Media URL" answer ``{url,
  mime_type, sha256, file_size, id, messaging_product}`` (400 code 100 when
  ``phone_number_id`` names another number than the media's), with the token of the
  media's number. Its ``url`` is ``<fake>/lookaside/<id>``, which answers the bytes to
  that token only (like Meta's CDN; not a Graph API request, so not in ``ALL_REQUESTS``).
* A wrong or missing ``Authorization: Bearer`` is 401 with code 190 (``OAuthException``);
  an unknown phone-number id is 400 with code 100 (like Graph's "Unsupported post
  request"); an unknown path 404.

Misbehaviour, each for the next ``times`` requests (to ``path``, or any path):
``fail_next(status, body, headers=...)``, ``fail_code(code, status=400, ...)`` (a Graph
error body), ``delay_next(seconds)`` (answers normally afterwards: the request *did*
arrive), ``drop_next()`` (closes the connection without answering).

Every recorded request is also appended to ``ALL_REQUESTS`` for the contract tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response

from tests.gateways.http_fake import Fault, Misbehaviour, ThreadedServer
from tests.gateways.http_fake import json_or_none as _json_or_none
from tests.gateways.http_fake import json_response as _json

ALL_REQUESTS: list[RecordedRequest] = []

ERROR_TYPES = {190: "OAuthException", 100: "GraphMethodException"}


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON body, or None
    raw_body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str | None, str, bytes]] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    scripted: bool = False


@dataclass(slots=True)
class FakeNumber:
    number_id: str
    token: str
    display: str = "+994 50 000 00 01"
    quality: str = "GREEN"
    status: str = "CONNECTED"
    tier: str = "TIER_1K"  # messaging_limit_tier, answered when asked for in ``fields``


def graph_error(code: int, message: str = "", *, subcode: int | None = None,
                is_transient: bool = False, details: str | None = None) -> dict[str, Any]:
    """A Graph API error body."""
    error: dict[str, Any] = {
        "message": message or f"(#{code}) error {code}",
        "type": ERROR_TYPES.get(code, "OAuthException"), "code": code,
        "fbtrace_id": "AbCdEfGh123", "is_transient": is_transient,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


class FakeCloud(Misbehaviour):
    """The ASGI app and its knobs (see the module docstring)."""

    def __init__(self) -> None:
        self.url = ""
        self.reset()

    def reset(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.numbers: dict[str, FakeNumber] = {}
        self.id_style = "wamid"
        self._faults: list[Fault] = []
        self._sent = 0
        self.media: dict[str, tuple[str, bytes, str]] = {}  # id -> (number id, bytes, type)

    # -- knobs ------------------------------------------------------------------------

    def add_number(self, number_id: str, token: str, **fields: Any) -> FakeNumber:
        number = self.numbers[number_id] = FakeNumber(number_id, token, **fields)
        return number

    def add_media(self, media_id: str, content: bytes, mime_type: str, *,
                  number_id: str) -> None:
        """A customer sent ``content`` to ``number_id``: Meta keeps it as ``media_id``."""
        self.media[media_id] = (number_id, content, mime_type)

    def fail_code(self, code: int, status: int = 400, *, path: str | None = None,
                  headers: dict[str, str] | None = None, times: int = 1,
                  **error: Any) -> None:
        self.fail_next(status, graph_error(code, **error), path=path, headers=headers,
                       times=times)

    def sent(self) -> list[RecordedRequest]:
        """The message requests that arrived (answered or not)."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        record = RecordedRequest(scope["method"], path, query, headers, None, raw)
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            record.form, record.files = _multipart(content_type, raw)
        elif raw:
            record.body = _json_or_none(raw)
        self.requests.append(record)
        if not path.startswith("/lookaside/"):  # Meta's CDN is not the Graph API
            ALL_REQUESTS.append(record)

        dropped, scripted = await self.misbehave(path, send)
        if dropped:
            return
        if scripted is not None:
            response = scripted
            record.scripted = True
        else:
            response = self._answer(record)
        record.status = response.status_code
        record.response = _json_or_none(response.body)
        await response(scope, receive, send)

    def _answer(self, record: RecordedRequest) -> Response:
        parts = record.path.split("/")
        if record.method == "GET" and len(parts) == 3 and parts[1] == "lookaside":
            return self._download(record, parts[2])
        if len(parts) not in (3, 4) or not parts[1].startswith("v"):
            return _json(404, None)
        if record.method == "GET" and len(parts) == 3 and parts[2] in self.media:
            return self._media_url(record, parts[2])
        number = self.numbers.get(parts[2])
        if number is None:
            return _json(400, graph_error(
                100, f"Unsupported post request. Object with ID '{parts[2]}' does not exist",
                subcode=33))
        if record.headers.get("authorization") != f"Bearer {number.token}":
            return _json(401, graph_error(190, "Invalid OAuth access token - Cannot parse "
                                          "access token"))
        kind = parts[3] if len(parts) == 4 else None
        if record.method == "POST" and kind == "messages":
            return self._message(record.body)
        if record.method == "POST" and kind == "media":
            if "file" not in record.files or record.form.get("messaging_product") != "whatsapp":
                return _json(400, graph_error(100, "Invalid parameter"))
            self._sent += 1
            return _json(200, {"id": f"{4490709327384000 + self._sent}"})
        if record.method == "GET" and kind is None:
            answer = {
                "id": number.number_id, "display_phone_number": number.display,
                "verified_name": "Qasid Test", "quality_rating": number.quality,
                "status": number.status}
            if "messaging_limit_tier" in str(record.query.get("fields", "")).split(","):
                answer["messaging_limit_tier"] = number.tier  # Graph gives asked fields only
            return _json(200, answer)
        return _json(404, None)

    def _authorised(self, record: RecordedRequest, number_id: str) -> bool:
        number = self.numbers.get(number_id)
        return number is not None and \
            record.headers.get("authorization") == f"Bearer {number.token}"

    def _media_url(self, record: RecordedRequest, media_id: str) -> Response:
        number_id, content, mime_type = self.media[media_id]
        if not self._authorised(record, number_id):
            return _json(401, graph_error(190, "Invalid OAuth access token"))
        asked = record.query.get("phone_number_id")
        if asked is not None and asked != number_id:
            return _json(400, graph_error(100, "Param phone_number_id is not the media's"))
        return _json(200, {"messaging_product": "whatsapp", "url": f"{self.url}/lookaside/"
                           f"{media_id}", "mime_type": mime_type,
                           "sha256": hashlib.sha256(content).hexdigest(),
                           "file_size": str(len(content)), "id": media_id})

    def _download(self, record: RecordedRequest, media_id: str) -> Response:
        found = self.media.get(media_id)
        if found is None:
            return _json(404, None)
        if not self._authorised(record, found[0]):
            return _json(401, graph_error(190, "Invalid OAuth access token"))
        return Response(found[1], status_code=200, media_type=found[2])

    def _message(self, body: Any) -> Response:
        if (not isinstance(body, dict) or body.get("messaging_product") != "whatsapp"
                or not isinstance(body.get("to"), str) or body.get("type") not in body):
            return _json(400, graph_error(100, "Invalid parameter"))
        self._sent += 1
        if self.id_style == "empty":
            return Response(status_code=200)
        if self.id_style == "garbage":
            return Response("<html>ok</html>", status_code=200, media_type="text/html")
        to = body["to"]
        messages = [{}] if self.id_style == "no_id" else [
            {"id": f"wamid.HBgM{to}FQIAERgS{self._sent:012X}"}]
        return _json(200, {"messaging_product": "whatsapp",
                           "contacts": [{"input": to, "wa_id": to}], "messages": messages})


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, str],
                                                        dict[str, tuple[str | None, str, bytes]]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw)
    form: dict[str, str] = {}
    files: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None or part.get("content-type"):
            files[str(name)] = (filename, part.get_content_type(), payload)
        else:
            form[str(name)] = payload.decode()
    return form, files


class FakeCloudServer(ThreadedServer[FakeCloud]):
    name = "fake Cloud API"

    def __init__(self, fake: FakeCloud | None = None) -> None:
        super().__init__(fake or FakeCloud())


@contextmanager
def serve_fake_cloud() -> Iterator[FakeCloud]:
    with FakeCloudServer() as fake:
        yield fake
