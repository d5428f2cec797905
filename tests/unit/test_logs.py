"""The log redactor: secrets, phones and third-party bodies."""

from __future__ import annotations

import logging

from bot.logs import NOT_LOGGED, SECRET, Redactor, SecretTokens, _redact, mask_phone


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)


def test_phones_keep_only_their_last_four_digits() -> None:
    assert mask_phone("+994501234567") == "+••••••••4567"
    redact = Redactor()
    assert redact("to 994501234567@c.us and +7 but +4915112345678") == \
        "to ••••••••4567@c.us and +7 but +•••••••••5678"
    assert redact("owner 6999999999 number 106853218861309 at 1796306411") == \
        "owner 6999999999 number 106853218861309 at 1796306411"  # ids and times: no phones


def test_known_secrets_and_token_shapes_are_removed() -> None:
    redact = Redactor()
    redact.add("waha-key-123", None, "")
    assert redact("key waha-key-123 in a URL") == f"key {SECRET} in a URL"
    assert SECRET in redact("bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw7 said")
    assert SECRET in redact("token EAAGm0PX4ZCpsBAKzZBZCj1ZCtesttokenvalue123")
    assert redact("Authorization: Bearer abcdefghijklmnop1234") == f"Authorization: {SECRET}"


def test_tokens_stored_for_senders_are_kept_out_of_logs() -> None:
    redact = Redactor()
    tokens = SecretTokens(redact)
    tokens[1] = "first-token-value"
    tokens.update({2: "second-token-value"})
    assert tokens == {1: "first-token-value", 2: "second-token-value"}
    assert redact("a first-token-value and a second-token-value") == \
        f"a {SECRET} and a {SECRET}"


def test_third_party_bodies_are_not_logged_but_our_own_lines_are_kept() -> None:
    redact = Redactor()
    call = record("telegram.Bot", "Calling Bot API endpoint `%s` with parameters `%s`",
                  "sendMessage", {"text": "Salam"})
    _redact(call, redact)
    assert call.getMessage() == f"Calling Bot API endpoint `sendMessage` with parameters " \
        f"`{NOT_LOGGED}`"
    update = record("telegram.ext.Application", "Processing update %s", {"text": "hi"})
    _redact(update, redact)
    assert update.getMessage() == f"Processing update {NOT_LOGGED}"
    sql = record("aiosqlite", "executing %s", "functools.partial(..., '+994501234567')")
    _redact(sql, redact)
    assert sql.getMessage() == f"executing {NOT_LOGGED}"
    ours = record("bot.services.contacts", "owner %s imported %s rows", 3, 10)
    _redact(ours, redact)
    assert ours.getMessage() == "owner 3 imported 10 rows"


def test_a_broken_format_never_raises_from_logging() -> None:
    broken = record("somewhere", "%d items", "many")
    _redact(broken, Redactor())
    assert broken.getMessage() == "%d items"


def test_the_postgresql_password_of_database_url_is_kept_out_of_logs(tmp_path) -> None:
    from bot import logs
    from bot.app import Qasid
    from bot.config import Settings

    settings = Settings(_env_file=None, database_path=tmp_path / "q.sqlite3",
                        database_url="postgresql://qasid:s3cr%40t-pass@db.internal:5432/qasid")
    Qasid(settings)  # wires objects only: nothing connects
    line = logs.REDACTOR('connection to "postgresql://qasid:s3cr@t-pass@db.internal" failed')
    assert "s3cr@t-pass" not in line and "db.internal" in line
