"""Two `onethread serve` processes on one PostgreSQL and one Redis, as behind a load balancer."""

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.agents.service import issue_token
from inbox.db import transaction
from inbox.messages.models import Message
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, running
from tests.ui.steps import customer_writes
from tests.web.test_cli import ONETHREAD, _free_port
from tests.web.test_webhooks import FIXTURES, FORM, INBOUND_TEXT_SIGNATURE, TWILIO_ENV
from tests.web.users import browser_for, make_user
from web.ui.security import SESSION_COOKIE

pytestmark = pytest.mark.skipif(not (TEST_DATABASE_URL and TEST_REDIS_URL),
                                reason="needs TEST_DATABASE_URL and TEST_REDIS_URL: processes share nothing else")

REPLIES = 1_000
# Replies to one customer go out one after another, in order; spread over many, they go out side by side.
CUSTOMERS = 50


@asynccontextmanager
async def _serving(env: dict[str, str], cwd: Path, *options: str) -> AsyncIterator[str]:
    """One `onethread serve` process on a free port; yields its base URL."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(*ONETHREAD, "serve", "--port", str(port), *options, env=env, cwd=cwd,
                                                   stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise AssertionError(f"the server exited: {(await process.communicate())[1].decode()}")
                try:
                    if (await client.get("/healthz", timeout=1)).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the server did not answer /healthz within 60 s")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 60)


async def test_a_webhook_to_one_process_reaches_the_other_and_replies_queued_on_both_go_out_once(
        db_url, sessions, ingest_config, tmp_path) -> None:
    async with running() as twilio:
        env = {**{key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "PYTEST"))},
               **TWILIO_ENV, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "TWILIO_API_BASE_URL": twilio.base_url, "DATABASE_URL": db_url, "REDIS_URL": TEST_REDIS_URL,
               "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "scale-out-test-secret",
               # One process takes the shop's mail; the other would find the port taken and stop.
               "SUPPORT_ADDRESSES": "destek@shop.example", "SMTP_LISTEN_PORT": str(_free_port())}
        email = await make_user(sessions, Role.agent)
        async with transaction(sessions) as session:
            token = await issue_token(session, name="scale-out")
        async with _serving(env, tmp_path) as a, _serving(env, tmp_path, "--no-mail") as b:
            agent = await browser_for(b, email)
            cookie = agent.cookies[SESSION_COOKIE]
            async with websockets.connect(b.replace("http", "ws") + "/live", open_timeout=10, additional_headers={
                    "Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": b}) as live:
                assert json.loads(await asyncio.wait_for(live.recv(), 10))["kind"] == "live.ready"
                async with httpx.AsyncClient() as provider:
                    answered = await provider.post(f"{a}/webhooks/twilio/whatsapp",
                                                   content=(FIXTURES / "inbound_text.form").read_bytes(),
                                                   headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
                assert answered.status_code == 200
                # Its "conversation opened" line comes first, then the message itself.
                while True:
                    event = json.loads(await asyncio.wait_for(live.recv(), 10))
                    if event["kind"] == "message.created" and event["data"]["direction"] == "inbound":
                        break
            await agent.aclose()
            customers = [event["customer_id"], *[
                await customer_writes(sessions, ingest_config, f"SM-scale-{n}", f"+9053300{n:05d}", f"Müşteri {n}",
                                      "Merhaba") for n in range(1, CUSTOMERS)]]

            # Replies queued through both processes' APIs, each process's worker draining the one queue.
            limit = asyncio.Semaphore(16)
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
                async def reply(number: int) -> None:
                    async with limit:
                        customer = customers[number % CUSTOMERS]
                        queued = await api.post(f"{(a, b)[number % 2]}/api/v1/customers/{customer}/messages",
                                                json={"channel": "whatsapp", "text": f"reply {number}"})
                        assert queued.status_code == 201, queued.text

                await asyncio.gather(*(reply(number) for number in range(REPLIES)))
            await twilio.wait_for_requests(REPLIES, within=180)
            await asyncio.sleep(1)  # a second send of anything would have arrived by now

    assert len(twilio.requests) == REPLIES
    assert Counter(request.get("Body") for request in twilio.requests) == Counter(
        f"reply {number}" for number in range(REPLIES))
    async with sessions() as session:
        outbound = (await session.execute(select(Message.delivery_status, Message.claimed_by).where(
            Message.direction == "outbound"))).all()
    assert Counter(status for status, _ in outbound) == {"sent": REPLIES}
    # Both processes' workers took part: the queue is shared, not owned by whoever queued.
    assert len({worker for _, worker in outbound}) == 2
