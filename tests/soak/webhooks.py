"""Signed webhooks across channels, sent the way providers send them: again, and again, until a 2xx.

Twilio, Meta and Telegram all re-deliver a webhook that timed out or was refused. Every message
carries a marker of its own in its text, so the database can be asked, message by message,
whether it was kept once, twice or never.
"""

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bench.loadgen import build_post, read_response
from tests.adapters.whatsapp.test_whatsapp import twilio_signature

PUBLIC_BASE_URL = "https://inbox.soak.example"
TWILIO_SID, TWILIO_TOKEN = "AC" + "5" * 32, "soak-twilio-auth-token-0123456789"
META_SECRET, TELEGRAM_SECRET = "soak-meta-app-secret", "soak-telegram-secret"
PAGE_ID = "104857600123456"
SETTINGS = {
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "META_APP_SECRET": META_SECRET, "META_VERIFY_TOKEN": "soak",
    "META_PAGE_ACCESS_TOKEN": "soak-page-token", "TELEGRAM_BOT_TOKEN": "123456:soak-bot-token",
    "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
}
SENDERS = 200


@dataclass(frozen=True, slots=True)
class Webhook:
    marker: str  # the message's whole text: unique to it
    request: bytes


def whatsapp(marker: str, who: int) -> Webhook:
    path = "/webhooks/twilio/whatsapp"
    params = {"MessageSid": f"SM{hashlib.sha1(marker.encode()).hexdigest()[:32]}", "AccountSid": TWILIO_SID,
              "From": f"whatsapp:+90533{who:07d}", "To": "whatsapp:+14155550100", "ProfileName": f"Müşteri {who}",
              "Body": marker, "NumMedia": "0", "MessageType": "text", "SmsStatus": "received",
              "ApiVersion": "2010-04-01"}
    signature = twilio_signature(PUBLIC_BASE_URL + path, {name: [value] for name, value in params.items()},
                                 token=TWILIO_TOKEN)
    return Webhook(marker, build_post("127.0.0.1", path, urlencode(params).encode(),
                                      "application/x-www-form-urlencoded", {"X-Twilio-Signature": signature}))


def messenger(marker: str, who: int) -> Webhook:
    now = int(time.time() * 1000)
    body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": [{
        "sender": {"id": str(7_100_000_000_000_000 + who)}, "recipient": {"id": PAGE_ID}, "timestamp": now,
        "message": {"mid": f"m_{marker}", "text": marker}}]}]}).encode()
    signature = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Webhook(marker, build_post("127.0.0.1", "/webhooks/messenger", body, "application/json",
                                      {"X-Hub-Signature-256": signature}))


def telegram(marker: str, who: int, update_id: int) -> Webhook:
    person = {"id": 600_000_000 + who, "is_bot": False, "first_name": "Müşteri", "last_name": str(who)}
    body = json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "from": person, "chat": {**person, "type": "private"}, "date": int(time.time()),
        "text": marker}}).encode()
    return Webhook(marker, build_post("127.0.0.1", "/webhooks/telegram", body, "application/json",
                                      {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}))


def mixed(count: int, run: str) -> list[Webhook]:
    """`count` webhooks over WhatsApp, Messenger and Telegram in turn, from SENDERS customers."""
    rng = random.Random(run)
    made: list[Webhook] = []
    for i in range(count):
        marker, who = f"soak {run} {i}", rng.randrange(SENDERS)
        kind = i % 3
        made.append(whatsapp(marker, who) if kind == 0 else messenger(marker, who) if kind == 1
                    else telegram(marker, who, int(run, 16) % 100_000 * 100_000 + i))
    return made


@dataclass
class Delivery:
    acknowledged: int = 0
    attempts: int = 0
    refused: dict[int, int] = field(default_factory=dict)  # non-2xx statuses, which were sent again


async def deliver(port: int, webhooks: list[Webhook], *, connections: int = 16, answer_within: float = 5.0,
                  progress: Callable[[int], None] | None = None) -> Delivery:
    """Send each webhook until the server answers 2xx, whatever happens to the server meanwhile."""
    outcome = Delivery()
    cursor = iter(webhooks)

    async def sender() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for webhook in cursor:
            pause = 0.05
            while True:
                outcome.attempts += 1
                try:
                    if connection is None:
                        connection = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), answer_within)
                    reader, writer = connection
                    writer.write(webhook.request)
                    status, _ = await asyncio.wait_for(read_response(reader), answer_within)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    if connection is not None:
                        connection[1].close()
                    connection = None
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                if 200 <= status < 300:
                    break
                outcome.refused[status] = outcome.refused.get(status, 0) + 1
                await asyncio.sleep(pause)
            outcome.acknowledged += 1
            if progress is not None:
                progress(outcome.acknowledged)
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(sender() for _ in range(connections)))
    return outcome
