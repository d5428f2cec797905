"""``python -m bot``: start Qasid (``python -m bot --help`` describes each command).

    python -m bot [run]      the bot (long polling), the scheduler and the HTTP server
    python -m bot web        Telegram, the HTTP server and the control jobs, no sending
    python -m bot worker     sending (one of N workers sharing the numbers), no Telegram
    python -m bot console    a terminal chat with the same bot, no Telegram needed
    python -m bot migrate    apply database migrations and exit
    python -m bot backup     copy the SQLite database while the bot runs (PostgreSQL: advice)
    python -m bot restore    put a backup in place of the database (the bot stopped)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot import logs
from bot.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.app import Role

log = logging.getLogger("bot")

T = TypeVar("T")

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. To get one, open @BotFather in Telegram, send /newbot, "
    "and put the token in .env (see .env.example). To try Qasid without a token, run "
    "`python -m bot console`: the same bot in your terminal."
)
NO_TOKEN_CONSOLE = (
    "No TELEGRAM_BOT_TOKEN: starting the console, the same bot in your terminal (for "
    "Telegram, get a token from @BotFather with /newbot and put it in .env)."
)


def setup_logging(level: str) -> None:
    logs.install()  # before the first record: secrets, phones and bodies are redacted
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request URL, and Telegram's URLs contain the bot token.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when it is installed (a dependency everywhere but
    Windows; with httptools, uvicorn's parser, the web app takes nearly twice the webhooks
    per second of h11 on asyncio's loop: bench/webhook_bench.py). Without it, asyncio's
    own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def freeze_startup() -> None:
    """What start-up made (the modules, the application, its caches) lives as long as the
    process: moved out of the garbage collector's sight (``gc.freeze``), so that a full
    collection no longer walks it. It took 75-105 ms here, a stall of every request in
    flight (``bench/api_bench.py messages``: p99 141-177 ms before, 72-96 ms after)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, role: Role = "all") -> int:
    """``run`` (role "all"), ``web`` or ``worker``: a worker neither polls Telegram nor
    serves HTTP (it sends, and tells the owners through the Bot API)."""
    import uvicorn
    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import Qasid
    from bot.web.metrics import metrics_server

    class _Server(uvicorn.Server):
        def capture_signals(self):
            return contextlib.nullcontext()

    qasid = Qasid(settings, role=role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = _Server(
        uvicorn.Config(qasid.web, host=settings.http_host, port=settings.http_port,
                       log_config=None, lifespan="off", access_log=False)
    )
    web_task: asyncio.Task | None = None
    # /metrics on its own listener (METRICS_HOST:METRICS_PORT; METRICS_PORT=0: none)
    metrics = metrics_server(qasid.metrics, settings.metrics_host, settings.metrics_port)
    try:
        try:
            await qasid.start()
        except InvalidToken:
            print("Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather.", file=sys.stderr)
            return 1
        except NetworkError as exc:
            print(f"Cannot reach the Telegram Bot API at {settings.telegram_api_url}: {exc}",
                  file=sys.stderr)
            return 1
        if role == "worker":
            if metrics is not None and not await metrics.start():
                metrics = None  # the port is taken (another worker's): warned in the log
            freeze_startup()
            print(f"ready: worker {qasid.leases.holder if qasid.leases else ''} of "
                  f"@{qasid.application.bot.username} is sending. Ctrl+C stops.", flush=True)
            await stop.wait()
            log.info("stopping")
            return 0
        assert qasid.application.updater is not None
        await qasid.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        web_task = asyncio.create_task(server.serve())
        while not server.started and not web_task.done():  # noqa: ASYNC110 (a flag only)
            await asyncio.sleep(0.01)
        if web_task.done():
            print(f"The HTTP server could not start on {settings.http_host}:{settings.http_port}.",
                  file=sys.stderr)
            return 1
        if metrics is not None and not await metrics.start():
            metrics = None  # the port is taken: warned in the log, the bot goes on
        freeze_startup()
        print(
            f"ready: @{qasid.application.bot.username} is polling Telegram; health on "
            f"http://{settings.http_host}:{settings.http_port}/healthz. Ctrl+C stops.",
            flush=True,
        )
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        server.should_exit = True
        if web_task is not None:
            await web_task
        if metrics is not None:
            await metrics.stop()
        await qasid.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        usage="%(prog)s [-h] [COMMAND] [options]",
        description=(
            "Qasid: a Telegram bot for WhatsApp bulk messaging. Settings are read from the "
            "environment and .env (.env.example lists them all)."
        ),
        epilog=(
            "Without a command, run is meant; with no TELEGRAM_BOT_TOKEN it opens the "
            "console when started on a terminal."
        ),
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="start the bot (long polling), the scheduler and the HTTP server (the default)",
        description=(
            "Start the bot: long polling of Telegram with TELEGRAM_BOT_TOKEN, the scheduler "
            "that sends campaigns, and the HTTP server (webhooks, /api/v1, /healthz) on "
            "HTTP_HOST:HTTP_PORT. Ctrl+C or SIGTERM stops it cleanly."
        ),
    )
    commands.add_parser(
        "web",
        help="Telegram, the HTTP server and the control jobs; the sending left to workers",
        description=(
            "One of several processes on one database (PostgreSQL, or one SQLite file on "
            "one machine): long polling of Telegram, the HTTP server (webhooks, /api/v1, "
            "/healthz) and the scheduled control jobs (automations, transfer orders, "
            "credits' expiry and warnings), each run once whoever is up. It sends nothing: "
            "start `python -m bot worker` beside it, once or several times. Ctrl+C or "
            "SIGTERM stops it cleanly."
        ),
    )
    commands.add_parser(
        "worker",
        help="send campaigns and messages: run it N times beside `web`",
        description=(
            "A sending worker: the dispatcher, the number checks and the health poll, for "
            "the numbers it holds. Workers share the numbers by leases (LEASE_SECONDS): "
            "one worker sends from a number at a time, so its pace and daily cap hold; a "
            "worker that dies loses its numbers to the others after LEASE_SECONDS. It does "
            "not poll Telegram and serves no HTTP, but tells the owners through the Bot "
            "API (TELEGRAM_BOT_TOKEN). Campaign starts and completions run in one worker. "
            "Never beside `run`, which sends alone. Ctrl+C or SIGTERM stops it cleanly, "
            "giving its numbers back."
        ),
    )
    console = commands.add_parser(
        "console",
        help="chat with the same bot in this terminal, no Telegram needed",
        description=(
            "A chat with the real bot in your terminal: the same handlers, services and "
            "database, only Telegram is replaced by an in-process fake. Type /start; type a "
            "button's label to press it; :help lists the console's own commands. Ctrl+C, "
            "Ctrl+D or :quit leaves."
        ),
    )
    console.add_argument(
        "--files", type=Path, metavar="DIR",
        help="folder where files the bot sends (charts, rejected rows, exports, QR codes) "
        "are saved (default: ./console-files)",
    )
    console.add_argument(
        "--language", choices=["en", "az", "ru"],
        help="the language your Telegram app would report (default: from $LANG)",
    )
    commands.add_parser(
        "migrate",
        help="apply database migrations to DATABASE_PATH and exit",
        description="Apply the database migrations to DATABASE_PATH and exit "
        "(start-up does it too).",
    )
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to a checked file while the bot runs (PostgreSQL: "
        "prints the pg_dump command)",
        description=(
            "Copy the SQLite database (DATABASE_PATH) with SQLite's online backup, from one "
            "snapshot, while the bot goes on writing; the copy's integrity is checked before "
            "it gets its name, then its path and size are printed. It refuses to overwrite "
            "a file. With DATABASE_URL set to PostgreSQL it prints the pg_dump and "
            "pg_restore commands to use (the password left out) and does nothing else."
        ),
    )
    backup.add_argument(
        "--to", type=Path, metavar="PATH",
        help="the backup file, or a folder for it (default: "
        "backups/qasid-YYYYmmdd-HHMMSS.sqlite3 beside the database, UTC)",
    )
    restore = commands.add_parser(
        "restore",
        help="put a backup in place of the SQLite database (stop the bot first)",
        description=(
            "Check that PATH is a whole Qasid database (schema_migrations, integrity), "
            "refuse while any process has DATABASE_PATH open, move the current database "
            "(and its -wal/-shm) aside to <name>.before-restore-YYYYmmdd-HHMMSS and put a "
            "copy of PATH in its place. PostgreSQL: prints the pg_restore command."
        ),
    )
    restore.add_argument("path", type=Path, metavar="PATH", help="the backup file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    no_token = settings.telegram_bot_token is None
    console = command == "console" or (command == "run" and no_token and sys.stdin.isatty())
    if command in ("web", "worker") and no_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    # The console is a chat: only warnings interrupt it.
    setup_logging("WARNING" if console else settings.log_level)

    if command in ("backup", "restore"):
        from bot.backups import run_backup, run_restore

        if command == "backup":
            return run_backup(settings, args.to)
        return run_restore(settings, args.path)
    if command == "migrate":
        from bot.storage.db import Database

        async def _migrate() -> None:
            db = Database(settings.database_url or settings.database_path)
            await db.connect()
            await db.close()

        run_loop(_migrate())
        print("the PostgreSQL database (DATABASE_URL) is up to date" if settings.database_url
              else f"database {settings.database_path} is up to date")
        return 0
    if command == "run" and no_token:
        print(NO_TOKEN_CONSOLE if console else NO_TOKEN, file=sys.stderr)
        if not console:
            return 2
    if console:
        from bot.console.repl import run_console

        options: dict[str, Any] = {"language": getattr(args, "language", None)}
        if (files := getattr(args, "files", None)) is not None:
            options["files_dir"] = files
        try:
            return run_loop(run_console(settings, **options))
        except KeyboardInterrupt:  # Ctrl+C before the console could take it over
            print("\n(console) bye")
            return 0
    roles: dict[str, Role] = {"run": "all", "web": "web", "worker": "worker"}
    return run_loop(serve(settings, roles[command]))


if __name__ == "__main__":
    sys.exit(main())
