"""Nothing secret or personal reaches the log, even at DEBUG: a whole campaign, a Cloud API
token typed by an owner, customers' replies and opt-outs, and signed and forged webhooks,
then every secret, phone and body used is looked for in what was logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

import httpx

from bot.console.botapi import FakeBotApi
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, seed_list
from tests.e2e.test_cloud_numbers import NUMBER_ID, TOKEN
from tests.e2e.test_sending import ClockedHarness, confirm_fast_campaign
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import serve_fake_cloud
from tests.web.test_cloud_webhook import sign, text

OWNER_PHONE = "+994507778899"
WAHA_KEY = "waha-hmac-key-5f1e"
APP_SECRET = "app-secret"  # the Cloud webhook tests' signing secret
VERIFY = "verify-token-77aa"
BODY = "ZEBRA-42"  # in every message text
REASON = "PRIVATE-REASON"  # in a customer's reply


async def test_a_debug_log_of_a_whole_round_holds_no_secret_phone_or_body(
        make_settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_fake_cloud() as cloud:
        cloud.add_number(NUMBER_ID, TOKEN, display="+994 50 555 12 34")
        settings = make_settings(cloud_graph_url=cloud.url, cloud_app_secret=APP_SECRET,
                                 cloud_verify_token=VERIFY, waha_webhook_key=WAHA_KEY,
                                 dispatch_interval=0, sandbox_invalid_share=0)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        try:
            chat = await h.active_owner(905, phone=OWNER_PHONE)
            await seed_list(h, 905, "Müştərilər", CUSTOMERS)
            await compose(chat, "Promo", "{Salam|Hello} {{name|dostum}} " + BODY)
            await credit(h, 905, 100)
            await confirm_fast_campaign(h, chat)
            await h.run(120)

            owner = await h.qasid.services.accounts.find(905)
            [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
            sandbox = h.qasid.gateway.get("sandbox")
            await sandbox.simulate_incoming(number.id, CUSTOMERS[0][0], "STOP")
            await sandbox.simulate_incoming(number.id, CUSTOMERS[1][0],
                                            f"please stop, {REASON}")
            await h.run(2)
            await chat.press("🚫 Opt out")

            await chat.send("/numbers")
            await chat.press("➕ Add a Cloud API number")
            await chat.send(f"{NUMBER_ID} {TOKEN}")

            web = httpx.AsyncClient(transport=httpx.ASGITransport(app=h.qasid.web),
                                    base_url="http://q")
            async with web:
                waha = json.dumps({"event": "message", "session": "nobody", "payload": {
                    "from": CUSTOMERS[2][0][1:] + "@c.us", "body": BODY}}).encode()
                signature = hmac.new(WAHA_KEY.encode(), waha, hashlib.sha512).hexdigest()
                assert (await web.post("/webhooks/waha", content=waha, headers={
                    "X-Webhook-Hmac": signature})).status_code == 200
                assert (await web.post("/webhooks/waha", content=waha, headers={
                    "X-Webhook-Hmac": "0" * 128})).status_code == 401
                reply = json.dumps(text(f"{BODY} {REASON}", phone=CUSTOMERS[2][0],
                                        number_id=NUMBER_ID)).encode()
                assert (await web.post("/webhooks/cloud", content=reply,
                                       headers=sign(reply, APP_SECRET))).status_code == 200
                assert (await web.post("/webhooks/cloud", content=reply, headers={
                    "X-Hub-Signature-256": "sha256=" + "0" * 64})).status_code == 401
                assert (await web.get("/webhooks/cloud", params={
                    "hub.mode": "subscribe", "hub.verify_token": VERIFY,
                    "hub.challenge": "42"})).status_code == 200
            try:  # a failure whose message carries a secret: its traceback is redacted
                raise RuntimeError(f"https://api.telegram.org/bot{h.api.token}/getMe failed")
            except RuntimeError:
                logging.getLogger("httpx").exception("request failed")
        finally:
            await h.stop()

    log = caplog.text
    assert len(caplog.records) > 200  # DEBUG was on: there is a lot to look through
    assert "[not logged]" in log and "[secret]" in log
    secrets = [h.api.token, WAHA_KEY, APP_SECRET, VERIFY, TOKEN]
    phones = [OWNER_PHONE, *(c[0] for c in CUSTOMERS)]
    for leaked in [*secrets, *phones, *(p[1:] for p in phones), BODY, REASON]:
        assert leaked not in log, leaked
