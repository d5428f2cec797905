"""Serve a `FakeBotApi` over HTTP, for a bot running in another process.

    async with serving(api) as url:  # uvicorn in this event loop, on a free port
        ...  # run `python -m bot` with base_url=f"{url}/bot", base_file_url=f"{url}/file/bot"

The bot needs both URLs (`Bot(..., base_url=..., base_file_url=...)` or the builder's
`.base_url()` / `.base_file_url()`). A long-polling getUpdates ends when its client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.botapi import FakeBotApi


def botapi_app(api: FakeBotApi) -> Starlette:
    async def call_method(request: Request) -> Response:
        body = await request.body()
        call = asyncio.create_task(
            api.call_http(
                request.path_params["token"],
                request.path_params["method"],
                request.headers.get("content-type", ""),
                body,
                request.url.query,
            )
        )
        gone = asyncio.create_task(_disconnected(request))
        await asyncio.wait({call, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (call, gone):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if call.cancelled():
            return Response(status_code=499)  # nobody is listening any more
        status, content = call.result()
        return Response(content, status_code=status, media_type="application/json")

    async def download(request: Request) -> Response:
        status, content = api.download(request.path_params["token"], request.path_params["path"])
        media_type = "application/octet-stream" if status == 200 else "application/json"
        return Response(content, status_code=status, media_type=media_type)

    return Starlette(
        routes=[
            Route("/bot{token}/{method}", call_method, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
        ]
    )


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


@contextlib.asynccontextmanager
async def serving(api: FakeBotApi, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `api` with uvicorn in the running event loop; yields the base URL."""
    sock = socket.socket()
    sock.bind((host, port))
    sock.listen()  # clients may connect at once; uvicorn accepts when it is up
    config = uvicorn.Config(botapi_app(api), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
