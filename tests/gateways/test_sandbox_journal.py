"""The sandbox's journal: what the gateway accepted, on disk before the send returns."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from bot.gateways.base import ErrorCategory, GatewayError, Media, SenderRef
from bot.gateways.sandbox import SandboxConfig, SandboxGateway

SENDER = SenderRef(sender_id=1, phone="+994501234567")
OTHER_SENDER = SenderRef(sender_id=2, phone="+994507654321")
QUIET = SandboxConfig(delivery_delay=3600, read_delay=3600, invalid_share=0.0)


def raw(path: Path) -> str:
    return path.read_text("utf-8") if path.exists() else ""


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in raw(path).splitlines()]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


async def test_every_accepted_message_is_one_line_without_its_text(journal: Path) -> None:
    gateway = SandboxGateway(replace(QUIET, journal=str(journal)))
    try:
        first = await gateway.send_text(SENDER, "+994551112233", "Salam, Aysel!")
        second = await gateway.send_text(OTHER_SENDER, "+994551112244", "Salam, Nigar!")
    finally:
        await gateway.close()

    written = lines(journal)
    times = [line.pop("at") for line in written]  # when each was accepted (wall clock)
    assert written == [
        {"id": first.message_id, "sender": 1, "to": "+994551112233",
         "sha256": sha("Salam, Aysel!")},
        {"id": second.message_id, "sender": 2, "to": "+994551112244",
         "sha256": sha("Salam, Nigar!")},
    ]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)
    assert "Salam" not in raw(journal)


async def test_the_line_is_on_disk_and_fsynced_when_the_send_returns(
    journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(len(lines(journal)))  # what the file holds when it is synced
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    gateway = SandboxGateway(replace(QUIET, journal=str(journal)))
    try:
        result = await gateway.send_text(SENDER, "+994551112233", "Hello")
        # read by another handle before anything else runs: no buffered line left behind
        assert [line["id"] for line in lines(journal)] == [result.message_id]
        assert synced == [1]
        await gateway.send_text(SENDER, "+994551112244", "Hello")
        assert synced == [1, 2]
    finally:
        await gateway.close()


async def test_a_refused_send_writes_nothing(journal: Path) -> None:
    gateway = SandboxGateway(replace(QUIET, invalid_share=0.5, ban_after=1,
                                     journal=str(journal)))
    invalid = next(p for p in (f"+99450{n:07d}" for n in range(100))
                   if not gateway.on_whatsapp(p))
    valid = next(p for p in (f"+99450{n:07d}" for n in range(100)) if gateway.on_whatsapp(p))
    try:
        for to, text in ((invalid, "Hi"), ("0501234567", "Hi"), (valid, "   ")):
            with pytest.raises(GatewayError):
                await gateway.send_text(SENDER, to, text)
        assert lines(journal) == []
        accepted = await gateway.send_text(SENDER, valid, "Hi")
        with pytest.raises(GatewayError) as banned:  # ban_after=1: the second is refused
            await gateway.send_text(SENDER, valid, "Hi again")
        assert banned.value.category is ErrorCategory.SENDER_BANNED
    finally:
        await gateway.close()
    with pytest.raises(GatewayError):  # closed: refused too
        await gateway.send_text(OTHER_SENDER, valid, "Hi")

    assert [line["id"] for line in lines(journal)] == [accepted.message_id]


async def test_a_media_message_is_journaled_with_its_caption(journal: Path) -> None:
    gateway = SandboxGateway(replace(QUIET, journal=str(journal)))
    photo = Media(kind="image", data=b"\x89PNG", filename="menu.png", mimetype="image/png")
    try:
        with_caption = await gateway.send_media(SENDER, "+994551112233", photo, caption="Menu")
        bare = await gateway.send_media(SENDER, "+994551112244", photo)
    finally:
        await gateway.close()

    assert [(line["id"], line["sha256"]) for line in lines(journal)] == [
        (with_caption.message_id, sha("Menu")), (bare.message_id, sha("")),
    ]


async def test_a_restarted_gateway_appends_to_the_same_journal(journal: Path) -> None:
    ids = []
    for run_id in ("a", "b"):  # the process restarts: a new gateway, the same file
        gateway = SandboxGateway(replace(QUIET, run_id=run_id, journal=str(journal)))
        try:
            ids.append((await gateway.send_text(SENDER, "+994551112233", "Hi")).message_id)
        finally:
            await gateway.close()

    assert ids == ["sbx-a-1-1", "sbx-b-1-1"]
    assert [line["id"] for line in lines(journal)] == ids


async def test_an_unwritable_journal_fails_the_send_and_accepts_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "not yet" / "journal.jsonl"
    gateway = SandboxGateway(replace(QUIET, journal=str(journal)))
    try:
        with pytest.raises(OSError):
            await gateway.send_text(SENDER, "+994551112233", "Hi")
        assert gateway.pending_receipts == 0  # no receipt for what was not accepted
        journal.parent.mkdir()
        accepted = await gateway.send_text(SENDER, "+994551112233", "Hi")
    finally:
        await gateway.close()

    assert accepted.message_id == "sbx-1-1"  # the failed send took no number
    assert [line["id"] for line in lines(journal)] == ["sbx-1-1"]


async def test_without_a_journal_no_file_is_written(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    gateway = SandboxGateway(QUIET)
    try:
        await gateway.send_text(SENDER, "+994551112233", "Hi")
    finally:
        await gateway.close()
    assert os.listdir(tmp_path) == []
