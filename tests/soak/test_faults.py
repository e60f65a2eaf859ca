"""Replies under provider faults: a Twilio that fails 30 % of sends, and a worker killed mid-run.

Every reply must end sent exactly once, or failed with a reason an agent can act on; none may be
left "sending" once the server is back, and none may reach the customer twice.
"""

import random
from collections import Counter

import httpx
from sqlalchemy import select

from inbox.agents.service import issue_token
from inbox.db import transaction
from inbox.messages.models import Message
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running
from tests.soak.figures import record
from tests.soak.server import ServerProcess, environment
from tests.ui.steps import customer_writes
from tests.waiting import until

REPLIES = 200
CUSTOMERS = 20
# 70 % taken at once; then 5xx, 429 with Retry-After, no answer at all, and a connection broken
# after Twilio took the message.
ANSWERS = {"created": 70, "server_error": 10, "rate_limited": 8, "hang": 6, "drop": 6}


async def test_every_reply_is_sent_once_or_failed_with_its_reason_and_none_is_left_sending(
        db_url, sessions, ingest_config, tmp_path) -> None:
    rng = random.Random(20261202)
    async with running(TwilioFake()) as twilio:
        twilio.enqueue(*rng.choices(list(ANSWERS), weights=list(ANSWERS.values()), k=3 * REPLIES))
        customers = [await customer_writes(sessions, ingest_config, f"SM-fault-{n}", f"+90533100{n:04d}",
                                           f"Müşteri {n}", "merhaba") for n in range(CUSTOMERS)]
        async with transaction(sessions) as session:
            token = await issue_token(session, name="faults")
        server = ServerProcess(environment(
            DATABASE_URL=db_url, DATA_DIR=str(tmp_path / "data"), PUBLIC_BASE_URL="https://inbox.example.com",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_FROM="whatsapp:+14155550100",
            TWILIO_API_BASE_URL=twilio.base_url, TWILIO_TIMEOUT_SECONDS="1", DELIVERY_LEASE_SECONDS="4",
            DELIVERY_BACKOFF_SECONDS="0.2", DELIVERY_MAX_ATTEMPTS="4", SMTP_LISTEN_PORT="0"), tmp_path, "--no-mail")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                         timeout=30) as api:
                for number in range(REPLIES):
                    queued = await api.post(f"/api/v1/customers/{customers[number % CUSTOMERS]}/messages",
                                            json={"channel": "whatsapp", "text": f"reply {number}"})
                    assert queued.status_code == 201, queued.text
            await twilio.wait_for_requests(REPLIES // 3, within=60)
            await server.kill()  # mid-run: some sends are in flight, some claimed, most still queued
            await server.start()

            async def settled() -> bool:
                return not any(status in ("queued", "sending") for status, _, _ in await _replies(sessions))

            await until(settled, within=180)
        finally:
            await server.stop()

    replies = await _replies(sessions)
    taken = Counter(twilio.created_bodies)
    statuses = Counter(status for status, _, _ in replies)
    sent_once = sum(1 for status, text, _ in replies if status == "sent" and taken[text] == 1)
    failed = [(text, error) for status, text, error in replies if status == "failed"]
    record("replies under faults", f"replies {len(replies)}, sent once {sent_once}, failed with a reason "
           f"{sum(1 for _, error in failed if error)}, stuck {statuses['queued'] + statuses['sending']}, "
           f"reached the customer twice {sum(1 for n in taken.values() if n > 1)}, "
           f"sends tried {len(twilio.requests)}, kills {server.kills}")
    assert len(replies) == REPLIES
    assert set(statuses) <= {"sent", "failed"}
    assert all(n == 1 for n in taken.values()), "a reply reached the customer twice"
    assert sent_once == statuses["sent"], "a reply marked sent that Twilio never took"
    assert failed and all(error for _, error in failed), "every failure says why"
    assert statuses["sent"] >= REPLIES // 2


async def _replies(sessions) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        rows = await session.execute(select(Message.delivery_status, Message.text, Message.error)
                                     .where(Message.direction == "outbound").order_by(Message.id))
        return [(str(status), text, error) for status, text, error in rows]
