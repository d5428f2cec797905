"""A template's attachment, fetched from Telegram when a campaign sends it."""

from __future__ import annotations

import mimetypes

from telegram.ext import Application

from bot.gateways.base import Media
from bot.services.dispatcher import MediaSource


def telegram_media(application: Application) -> MediaSource:
    async def fetch(kind: str, file_id: str) -> Media:
        file = await application.bot.get_file(file_id)
        data = bytes(await file.download_as_bytearray())
        name = (file.file_path or file_id).rsplit("/", 1)[-1]
        mimetype = mimetypes.guess_type(name)[0] or (
            "image/jpeg" if kind == "image" else "application/octet-stream")
        return Media(kind=kind, data=data, mimetype=mimetype, filename=name)

    return fetch
