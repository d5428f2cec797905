"""Tenant isolation: owner B replays every button owner A was ever shown, and types every
command with A's ids; A's data does not change by a byte, and B never reads A's names,
texts or phones.

Owner A builds a real account through the chat: lists (imported from files, one import
left waiting for its list), an opt-out, a template, credits, campaigns (scheduled, paused,
a third left in the wizard), a second number. Then A walks its own
screens (pressing every button it sees, breadth first, except the few that would undo
what it built), so that every ``callback_data`` A's messages carried is collected from
the fake Bot API's calls: sent and edited messages alike, and the admin's buttons about A.

Owner B then presses each of them from B's own chat, in four states of B's (idle; the
campaign wizard waiting for a list; waiting for a template; the template composer
waiting for a text), plus every action of a button family crossed with every id A's
buttons carried (``lst:delok:<A's list>`` though A never pressed it), and types the
commands with A's ids (admin commands too, B not being an admin). Before and after, A's
rows in every table are compared; every text B was sent or shown (messages, edits,
alerts, captions, files) is searched for A's names and phones; A's chat gets nothing.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from bot.console.botapi import FakeBotApi, SentMessage
from bot.console.driver import ChatDriver
from bot.gateways.base import IncomingMessage
from bot.services.api_keys import KEY_SHAPE
from bot.storage import orders, packages
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.e2e.test_campaigns import compose, credit

A_ID, B_ID = 831, 832
A_PHONES = [f"+99470100{n:04d}" for n in range(6)]
A_SECRETS = ["Aynur", "Alpha Shop", "+994501110001", "alpha vip", "alpha second",
             "Alpha promo", "Alpha secret offer", "Alpha Customer", "Alpha waiting",
             "alpha_waiting.csv", "Alpha integration", "Alpha reply text", *A_PHONES,
             *(p.removeprefix("+") for p in A_PHONES)]
# A's own actions that would undo what A built (B replays them all the same)
A_SKIPS = (":delok:", ":delyes:", ":cancelyes:", "num:rmp:", "num:rmm:", "snd:", "rep:",
           ":countsent:", ":resend:", "lang:", "menu:language", "wiz:cancel", "imp:",
           "prof:", "reg:", "adm:", "wiz:ok", "wiz:big", "tpl:edit:", "cmp:cancel:",
           "num:rm:", "api:rvok:", "trf:cancel:", "ibx:o:", "ctc:out:")
A_PRESSES = 160  # A's walk through its own screens, at most


def csv_file(title: str, rows: list[tuple[str, str]]) -> bytes:
    return ("Name,Phone,City\n" + "".join(f"{name},{phone},{title}\n" for name, phone in rows)
            ).encode()


def buttons_of(markup: Any) -> list[str]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


def datas_shown(harness: Harness, chat_ids: set[int], since: int = 0) -> dict[str, int]:
    """Every callback_data the bot sent or edited into those chats: data -> message id."""
    found: dict[str, int] = {}
    for call in harness.api.calls[since:]:
        if call.error or call.params.get("chat_id") not in chat_ids:
            continue
        result = call.result if isinstance(call.result, dict) else {}
        message_id = result.get("message_id") or call.params.get("message_id")
        for data in buttons_of(call.params.get("reply_markup")):
            found.setdefault(data, message_id)
    return found


def texts_to(harness: Harness, chat_id: int, since: int) -> list[str]:
    """What the chat was sent, shown or answered since call ``since`` (files included)."""
    out = []
    for call in harness.api.calls[since:]:
        params = call.params
        if call.method == "answerCallbackQuery":
            out.append(str(params.get("text", "")))
            continue
        if params.get("chat_id") != chat_id:
            continue
        out.extend(str(params.get(key, "")) for key in ("text", "caption", "reply_markup"))
        for file in call.files.values():
            out.append(file.content.decode("utf-8", errors="replace"))
    return out


async def snapshot(harness: Harness, owner_id: int) -> dict[str, list[tuple]]:
    """Every row of the owner's, table by table."""
    db = harness.qasid.db
    tables = {}
    postgres = db.engine == "postgres"
    async with db.reader.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " AND table_type = 'BASE TABLE'" if postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        names = [row[0] for row in await cur.fetchall()]
    for name in names:
        async with db.reader.execute(
            "SELECT ordinal_position, column_name FROM information_schema.columns"
            f" WHERE table_schema = 'public' AND table_name = '{name}'" if postgres
            else f"PRAGMA table_info({name})") as cur:
            columns = [row[1] for row in await cur.fetchall()]
        if name == "owners":
            where = "id = ?"
        elif "owner_id" in columns:
            where = "owner_id = ?"
        elif name == "list_members":
            where = "list_id IN (SELECT id FROM contact_lists WHERE owner_id = ?)"
        elif name == "campaign_senders":
            where = "campaign_id IN (SELECT id FROM campaigns WHERE owner_id = ?)"
        else:
            continue
        async with db.reader.execute(f"SELECT * FROM {name} WHERE {where} ORDER BY 1, 2",
                                     (owner_id,)) as cur:
            tables[name] = [tuple(row) for row in await cur.fetchall()]
    return tables


async def orders_of(harness: Harness, owner_id: int) -> list:
    async with harness.qasid.db.reader.execute(
            "SELECT reference FROM orders WHERE owner_id = ?", (owner_id,)) as cur:
        references = [row[0] for row in await cur.fetchall()]
    return [await orders.by_reference(harness.qasid.db.reader, r) for r in references]


async def press(harness: Harness, chat: ChatDriver, data: str, message_id: int | None) -> None:
    message = (harness.api.message(chat.chat_id, message_id) if message_id else None) \
        or harness.api.last_message(chat.chat_id) or SentMessage(chat.chat_id, 1, text="-")
    await chat.step(harness.api.callback_update(chat.user, message, data))


async def build_owner_a(harness: Harness) -> ChatDriver:
    a = await harness.active_owner(A_ID, name="Aynur", company="Alpha Shop",
                                   phone="+994501110001")
    people = [(f"Alpha Customer {n}", phone) for n, phone in enumerate(A_PHONES[:4])]
    await a.upload(csv_file("Bakı", people), "alpha_vip.csv", "text/csv")
    await a.press("➕ New list “alpha_vip”")
    await a.upload(csv_file("Gəncə", [("Alpha Customer 9", p) for p in A_PHONES[4:]]),
                   "alpha_second.csv", "text/csv")
    await a.press("➕ New list “alpha_second”")
    await a.send(f"/optout {A_PHONES[1]} asked by phone")
    await compose(a, "Alpha promo", "Alpha secret offer {{name|friend}}")
    await credit(harness, A_ID, 100)
    await a.send("/api")  # an API key
    await a.press("➕ New key")
    await a.send("Alpha integration")
    await a.press("⬜ Contacts: write")
    await a.press("✅ Create key")
    await a.send("/numbers")
    await a.press("➕ Add a sandbox number")
    for when in ("📅 At a date and time", "📅 At a date and time"):
        await a.send("/newcampaign")
        await a.press("📋 alpha vip")
        await a.press("📝 Alpha promo")
        await a.press("Next ➡️")
        await a.press(when)
        await a.send("tomorrow 10:00")
        await a.press("🐢 Safe")
        await a.press("✅ Confirm")
    await went_out(harness, A_ID)
    await a.send("/stats")  # its report (the walk skips "rep:" buttons: replies' decisions)
    await a.press("📈 #1 Alpha promo · alpha vip")
    await a.press("📄 Report (CSV)")
    await a.send("/campaigns")
    await a.press("#2 Alpha promo · alpha vip")
    await a.press("⏸ Pause")
    await a.send("/newcampaign")  # a third, left in the wizard
    await a.press("📋 alpha second")
    await a.upload(csv_file("Şəki", [("Alpha waiting", "+994701009999")]),
                   "alpha_waiting.csv", "text/csv")  # left waiting for its list
    # paying by transfer: one order with its receipt, waiting for the admin (whose card
    # has Confirm payment / Reject), and a second order waiting for its payment
    async with harness.qasid.db.transaction() as tx:
        package = await packages.add(tx, name="Transfer pack", credits=500, validity_days=0,
                                     price_minor=1500, currency="AZN", price_stars=0,
                                     now=harness.qasid.services.accounts.now())
    for receipt in (b"\xff\xd8 alpha receipt", None):
        for data in ("buy:list", f"buy:pkg:{package.id}", f"buy:transfer:{package.id}"):
            await press(harness, a, data, None)
        if receipt is not None:
            photo = harness.api.add_file(receipt, "alpha_receipt.jpg", "image/jpeg")
            await a.step(harness.api.photo_update(a.user, photo))
    return a


async def went_out(harness: Harness, telegram_id: int) -> None:
    """Campaign 1's messages went out: read (and answered), delivered, failed for a reason
    that may pass; so its stats offer the report, every follow-up and *Retry failed*."""
    owner = await harness.qasid.services.accounts.find(telegram_id)
    db = harness.qasid.db
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET sent_at = planned_at,"
            " status = CASE phone WHEN ? THEN 'read' WHEN ? THEN 'delivered' ELSE 'failed' END,"
            " error_category = CASE WHEN phone IN (?, ?) THEN NULL ELSE 'rate_limited' END"
            " WHERE owner_id = ? AND campaign_id = (SELECT MIN(id) FROM campaigns"
            "                                      WHERE owner_id = ?)",
            (A_PHONES[0], A_PHONES[2], A_PHONES[0], A_PHONES[2], owner.id, owner.id))
    async with db.reader.execute("SELECT sender_id FROM messages WHERE owner_id = ?"
                                 " AND phone = ? AND sent_at IS NOT NULL",
                                 (owner.id, A_PHONES[0])) as cur:
        (sender_id,) = await cur.fetchone()
    await harness.qasid.services.dispatcher.events.on_event(IncomingMessage(
        sender_id, A_PHONES[0], "Alpha reply text", harness.qasid.services.accounts.now()))
    await harness.qasid.services.inbox.drain()  # in A's chat, with Reply / Opt out / Mute


async def walk(harness: Harness, a: ChatDriver) -> int:
    """A presses the buttons it is shown, breadth first; how many presses."""
    seen: set[str] = set()
    queue: deque[tuple[str, int]] = deque()
    start = 0
    presses = 0
    for command in ("/start", "/lists", "/templates", "/campaigns", "/numbers", "/stats",
                    "/balance", "/settings", "/api", "/help", "/inbox",
                    f"/contact {A_PHONES[0]}"):
        await a.send(command)
    while presses < A_PRESSES:
        for data, message_id in datas_shown(harness, {A_ID}, start).items():
            if data not in seen:
                seen.add(data)
                queue.append((data, message_id))
        start = len(harness.api.calls)
        if not queue:
            break
        data, message_id = queue.popleft()
        if any(skip in data for skip in A_SKIPS):
            continue
        await press(harness, a, data, message_id)
        presses += 1
    await a.send("/cancel")
    return presses


def crossed(datas: set[str]) -> set[str]:
    """Each button family's actions crossed with every id that family's buttons carried."""
    actions: dict[str, set[str]] = {}
    tails: dict[str, set[str]] = {}
    for data in datas:
        parts = data.split(":")
        if len(parts) >= 3 and any(p.isdigit() for p in parts[2:]):
            actions.setdefault(parts[0], set()).add(parts[1])
            tails.setdefault(parts[0], set()).add(":".join(parts[2:]))
    return {f"{family}:{action}:{tail}" for family in actions
            for action in actions[family] for tail in tails[family]}


async def test_owner_b_replaying_everything_of_owner_a_changes_and_learns_nothing(
    make_settings, caplog,
) -> None:
    harness = Harness(FakeBotApi(), make_settings(  # nothing moves alone
        dispatch_interval=0, payment_iban="AZ21NABZ00000000137010001944"))
    await harness.start()
    try:
        a = await build_owner_a(harness)
        a_presses = await walk(harness, a)
        a_owner = await harness.qasid.services.accounts.find(A_ID)
        datas = set(datas_shown(harness, {A_ID}))
        a_orders = {str(o.id) for o in await orders_of(harness, a_owner.id)}
        admin_datas = {d for d in datas_shown(harness, {ADMIN_ID})
                       if d.endswith(f":{a_owner.id}")
                       or (d.startswith("adm:pay") and d.split(":")[-1] in a_orders)}
        replays = sorted(datas | admin_datas | crossed(datas | admin_datas))

        b = await harness.active_owner(B_ID, name="Bəhram", company="Beta LLC",
                                       phone="+994552220002")
        await b.upload(csv_file("Sumqayıt", [("Beta Customer", "+994552220003")]),
                       "beta.csv", "text/csv")
        await b.press("➕ New list “beta”")
        await compose(b, "Beta promo", "Beta text")

        a_ids = {str(a_owner.id)} | {tail for d in datas for tail in d.split(":")[2:]
                                      if tail.isdigit()}
        commands = [f"/optout {p} mine now" for p in A_PHONES] + \
            [f"/optin {p}" for p in A_PHONES] + \
            [f"/contact {p}" for p in A_PHONES] + ["/contact Alpha", "/contact a"] + \
            [f"/{name} {i}" for name in ("campaigns", "lists", "templates", "numbers",
                                         "stats", "balance", "settings", "api", "start")
             for i in sorted(a_ids)] + \
            [f"/{name} {a_owner.id}" for name in ("pending", "reject", "suspend",
                                                   "unsuspend")] + \
            [f"/credit {a_owner.id} 1000 gift", f"/credit {a_owner.id} -100 oops",
             f"/reject {a_owner.id} spam", f"/suspend {a_owner.id} spam"]

        caplog.clear()
        before = await snapshot(harness, a_owner.id)
        a_calls_before = len([c for c in harness.api.calls if c.params.get("chat_id") == A_ID])
        since = len(harness.api.calls)
        tried = 0
        states = {
            "idle": ["/cancel"],
            "wizard, list step": ["/cancel", "/newcampaign"],
            "wizard, template step": ["/cancel", "/newcampaign", "📋 beta"],
            "composer, text step": ["/cancel", "/newtemplate", "Beta two"],
        }
        for steps in states.values():
            for data in replays:
                for step in steps:  # B back in that state before each press
                    if step.startswith("/") or step == "Beta two":
                        await b.send(step)
                    else:
                        await b.press(step)
                await press(harness, b, data, None)
                tried += 1
        shown_to_b = texts_to(harness, B_ID, since)
        for command in commands:
            # what B typed comes back to B (``/optout +994...``: B's own contact now)
            typed = {word for word in command.split() if word.startswith("+")}
            start = len(harness.api.calls)
            await b.send(command)
            for text in texts_to(harness, B_ID, start):
                for phone in typed:
                    text = text.replace(phone, "[typed]").replace(phone[1:], "[typed]")
                shown_to_b.append(text)
            tried += 1
        after = await snapshot(harness, a_owner.id)
        a_references = [o.reference for o in await orders_of(harness, a_owner.id)]
        shown_to_a = " ".join(texts_to(harness, A_ID, 0)).lower()
        a_keys = {m.group(0) for m in KEY_SHAPE.finditer(" ".join(texts_to(harness, A_ID, 0)))}
        a_calls_after = len([c for c in harness.api.calls if c.params.get("chat_id") == A_ID])
    finally:
        await harness.stop()

    apologies = sorted({r.getMessage().split("(", 1)[-1] for r in caplog.records
                        if r.name == "bot.handlers.errors" and r.levelname == "ERROR"})
    print(f"\nowner A: {len(datas)} buttons seen in {a_presses} presses; owner B: {tried}"
          f" replays ({len(replays)} button datas x {len(states)} states, {len(commands)}"
          f" commands); A's rows: {sum(len(rows) for rows in before.values())}; answered with"
          f" the generic apology (an error, no leak): {apologies}")
    assert len(replays) >= 100 and tried >= 400  # the suite does reach A's things
    assert {"api:new", "api:mk"} <= set(replays) and any(d.startswith("api:rvok:") for d in replays)
    assert {f"adm:{action}:{o}" for action in ("pay", "payno") for o in a_orders} & set(replays)
    assert any(d.startswith("trf:cancel:") for d in replays)
    # A's customer's message (Reply, Opt out, Mute) and its contact card were A's, and B's
    assert {"ibx:r", "ibx:o", "ibx:m", "ctc:show", "ctc:name", "ctc:delok"} <= {
        ":".join(d.split(":")[:2]) for d in replays}
    # a campaign's report, follow-ups, retry and run again were A's to press, and B's
    assert {f"st:rep:{f}:1" for f in ("csv", "xlsx")} | {"st:fu:1", "st:retry:1",
                                                         "wiz:again:1"} <= set(replays)
    assert {f"wiz:fu:1:{who}" for who in ("unread", "failed", "replied", "silent")} \
        <= set(replays)
    assert len(a_orders) == 2 and not [t for t in shown_to_b for r in a_references if r in t]
    # the search can find what it looks for: A was shown its secrets, B its own things
    assert [s for s in A_SECRETS if s.lower() not in shown_to_a] == ["Alpha waiting"]
    assert any("Beta promo" in text for text in shown_to_b)
    assert before == after, {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    leaks = {secret: [t for t in shown_to_b if secret.lower() in t.lower()][:2]
             for secret in A_SECRETS}
    assert not {s: t for s, t in leaks.items() if t}, leaks
    [a_key] = a_keys  # A's API key, shown to A once: B never sees it, nor its prefix
    assert not [t for t in shown_to_b if a_key in t or a_key[:12] in t]
    assert a_calls_after == a_calls_before  # nothing reached A's chat
    # and every refusal is in words ("out of date", "not found", "only administrators"),
    # never the generic apology of an error: a forged button neither leaks nor breaks
    assert apologies == []
