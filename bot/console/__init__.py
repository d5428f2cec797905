"""Try the bot without Telegram: a fake Bot API, a chat driver and an HTTP server for it."""

from bot.console.botapi import (
    ApiCall,
    FakeBotApi,
    FakeGroup,
    FakeUser,
    SentMessage,
    UploadedFile,
)
from bot.console.driver import ChatDriver, Checkout, GroupDriver, Reply, application_builder

__all__ = [
    "ApiCall",
    "ChatDriver",
    "Checkout",
    "FakeBotApi",
    "FakeGroup",
    "FakeUser",
    "GroupDriver",
    "Reply",
    "SentMessage",
    "UploadedFile",
    "application_builder",
]
