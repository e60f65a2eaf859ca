"""Messenger end to end: webhooks signed the way Meta signs them, into the real app over real HTTP,
with replies going out through the delivery worker to a loopback Graph API."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.messenger.adapter import signature
from inbox.channels import Channel
from inbox.config import CoreSettings
from inbox.customers.models import Customer, Identity
from inbox.db import transaction
from inbox.events import DeliveryStatus
from inbox.messages.models import Attachment, Message
from inbox.replies import queue_reply
from tests.fakes.graph_api import APP_ID, APP_SECRET, PAGE_ID, PAGE_TOKEN, VERIFY_TOKEN, GraphFake, running
from tests.waiting import until
from web.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "messenger" / "fixtures"
PSID = "7123456789012345"
TEXT_MID = "m_Qk9hbmRvbUZha2VNaWQtMDAxLXRleHQtQXlzZVlpbG1hei1vcmRlcjEwMDItcXVlc3Rpb24tMjAyNg"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def graph() -> AsyncIterator[GraphFake]:
    async with running() as fake:
        fake.profiles[PSID] = {"first_name": "Ayşe", "last_name": "Yılmaz"}
        yield fake


@pytest.fixture
def web_app(app_settings: CoreSettings, graph: GraphFake, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # The adapters read the environment when the app is made.
    for name, value in {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN,
                        "META_PAGE_ACCESS_TOKEN": PAGE_TOKEN, "META_GRAPH_BASE_URL": graph.base_url,
                        "PUBLIC_BASE_URL": "https://inbox.example.com"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("META_APP_ID", raising=False)
    return create_app(app_settings)


def _meta(body: dict[str, Any]) -> bytes:
    # Meta's serialisation: ASCII with \\u escapes and escaped slashes.
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()


def _event(**event: Any) -> bytes:
    return _meta({"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000), "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, **event}]}]})


async def _post(server: str, body: bytes, *, secret: str | None = APP_SECRET) -> httpx.Response:
    headers = {**JSON, **({"X-Hub-Signature-256": signature(secret, body)} if secret is not None else {})}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{server}/webhooks/messenger", content=body, headers=headers)


async def _messages(sessions: async_sessionmaker[AsyncSession], *, direction: str | None = None) -> list[Message]:
    async with sessions() as session:
        query = select(Message).where(Message.channel == "messenger").order_by(Message.id)
        if direction:
            query = query.where(Message.direction == direction)
        return list((await session.execute(query)).scalars())


async def _customer_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(Identity.customer_id).where(Identity.address == PSID))).scalar_one())


async def _named(sessions: async_sessionmaker[AsyncSession], customer_id: int, name: str) -> bool:
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
    return customer is not None and customer.name == name


async def _looked_up(graph: GraphFake) -> bool:
    return graph.lookups == [PSID]


def _written_just_now() -> bytes:
    """The recorded text message, sent a moment ago: replies to it are inside Messenger's window."""
    body = json.loads((FIXTURES / "text.json").read_bytes())
    body["entry"][0]["messaging"][0]["timestamp"] = int(time.time() * 1000) - 1000
    return json.dumps(body).encode()


async def _sent_reply(server: str, web_app: FastAPI, sessions: async_sessionmaker[AsyncSession], text: str) -> Message:
    """The customer writes, an agent answers, and the worker sends it to the fake Graph API."""
    assert (await _post(server, _written_just_now())).status_code == 200
    async with transaction(web_app.state.sessions) as session:
        reply = await queue_reply(session, customer_id=await _customer_id(sessions), channel=Channel.messenger,
                                  text=text)
    for _ in range(200):
        async with sessions() as session:
            stored = await session.get(Message, reply.id)
        assert stored is not None
        if stored.delivery_status == DeliveryStatus.sent:
            return stored
        await asyncio.sleep(0.025)
    raise AssertionError(f"the reply was not sent: {stored.delivery_status} {stored.error}")


class TestHandshake:
    async def test_our_verify_token_gets_the_challenge_back(self, server: str) -> None:
        async with httpx.AsyncClient() as client:
            ok = await client.get(f"{server}/webhooks/messenger", params={
                "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
            wrong = await client.get(f"{server}/webhooks/messenger", params={
                "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
        assert (ok.status_code, ok.text) == (200, "1158201444")
        assert wrong.status_code == 403 and "1158201444" not in wrong.text


class TestInbound:
    async def test_text_is_stored_once_and_named_shortly_after_however_often_meta_retries(
            self, server: str, sessions, graph: GraphFake) -> None:
        body = (FIXTURES / "text.json").read_bytes()
        for _ in range(2):
            response = await _post(server, body)
            assert (response.status_code, response.text) == (200, "EVENT_RECEIVED")
        [message] = await _messages(sessions, direction="inbound")
        assert (message.provider_id, message.text) == (TEXT_MID, "Merhaba! 1002 numaralı siparişim nerede? "
                                                                 "Teşekkürler 🙏")
        customer_id = await _customer_id(sessions)
        await until(lambda: _named(sessions, customer_id, "Ayşe Yılmaz"))
        assert graph.lookups == [PSID]  # the retry was a duplicate: nothing more to name

    async def test_a_person_the_profile_lookup_does_not_know_is_stored_unnamed(self, server: str, sessions,
                                                                              graph: GraphFake) -> None:
        graph.profiles.clear()
        assert (await _post(server, (FIXTURES / "text.json").read_bytes())).status_code == 200
        await until(lambda: _looked_up(graph))
        customer_id = await _customer_id(sessions)
        assert await _named(sessions, customer_id, "")

    async def test_a_slow_profile_lookup_does_not_hold_the_webhook(self, server: str, sessions,
                                                                   graph: GraphFake) -> None:
        graph.profile_delay = 30
        started = time.monotonic()
        response = await _post(server, (FIXTURES / "text.json").read_bytes())
        assert response.status_code == 200 and time.monotonic() - started < 5
        assert [m.provider_id for m in await _messages(sessions, direction="inbound")] == [TEXT_MID]
        await until(lambda: _looked_up(graph))
        assert await _named(sessions, await _customer_id(sessions), "")

    async def test_the_name_reaches_the_agents_live_socket(self, server: str, sessions, web_app: FastAPI) -> None:
        subscription = web_app.state.hub.subscribe()
        assert (await _post(server, (FIXTURES / "text.json").read_bytes())).status_code == 200
        async with asyncio.timeout(10):
            while (event := await subscription.get())["kind"] != "customer.named":
                pass
        assert (event["customer_id"], event["data"]) == (await _customer_id(sessions), {"name": "Ayşe Yılmaz"})

    async def test_image_is_kept_as_a_file_still_at_meta(self, server: str, sessions) -> None:
        assert (await _post(server, (FIXTURES / "image.json").read_bytes())).status_code == 200
        [message] = await _messages(sessions, direction="inbound")
        async with sessions() as session:
            [attachment] = (await session.execute(select(Attachment).where(Attachment.message_id == message.id))
                            ).scalars()
        assert attachment.content_type == "image/jpeg" and attachment.sha256 is None
        assert attachment.source_url is not None and attachment.source_url.startswith("https://scontent.xx.fbcdn.net/")

    async def test_wrong_or_missing_signature_is_403_and_leaves_no_trace(self, server: str, sessions) -> None:
        body = (FIXTURES / "text.json").read_bytes()
        forged = await _post(server, body, secret="not-the-app-secret")
        missing = await _post(server, body, secret=None)
        assert (forged.status_code, missing.status_code) == (403, 403)
        assert await _messages(sessions) == []

    async def test_malformed_json_is_400_with_the_reason(self, server: str, sessions) -> None:
        broken = await _post(server, b'{"object":"page","entry":[')
        no_mid = await _post(server, (FIXTURES / "malformed__no_mid.json").read_bytes())
        assert broken.status_code == 400 and "not JSON" in broken.json()["detail"]
        assert no_mid.status_code == 400 and "message.mid" in no_mid.json()["detail"]
        assert await _messages(sessions) == []

    async def test_unknown_event_kind_is_200_and_stores_nothing(self, server: str, sessions) -> None:
        response = await _post(server, (FIXTURES / "unknown_event.json").read_bytes())
        assert response.status_code == 200
        assert await _messages(sessions) == []

    async def test_staff_reply_from_the_page_inbox_shows_as_ours_in_the_customers_thread(
            self, server: str, sessions) -> None:
        assert (await _post(server, (FIXTURES / "text.json").read_bytes())).status_code == 200
        assert (await _post(server, (FIXTURES / "echo__page_inbox.json").read_bytes())).status_code == 200
        inbound, outbound = [m for m in await _messages(sessions) if m.direction != "event"]
        assert (outbound.direction, outbound.text) == ("outbound", "Kargo takip numaranız: 1Z999AA10123456784")
        assert outbound.thread_id == inbound.thread_id


class TestReplies:
    async def test_reply_goes_out_then_delivery_and_read_watermarks_tick_it(
            self, server: str, web_app: FastAPI, sessions, graph: GraphFake) -> None:
        reply = await _sent_reply(server, web_app, sessions, "Kargonuz yolda.")
        [request] = graph.requests
        assert request.body["recipient"] == {"id": PSID} and request.body["messaging_type"] == "RESPONSE"
        assert reply.provider_id == graph.sent[0]
        now = int(time.time() * 1000) + 1000
        assert (await _post(server, _event(delivery={"watermark": now}))).status_code == 200
        assert [m.delivery_status for m in await _messages(sessions, direction="outbound")] == ["delivered"]
        assert (await _post(server, _event(timestamp=now, read={"watermark": now}))).status_code == 200
        assert [m.delivery_status for m in await _messages(sessions, direction="outbound")] == ["read"]

    async def test_echo_of_our_own_reply_is_not_a_second_message(self, server: str, web_app: FastAPI,
                                                                  sessions) -> None:
        reply = await _sent_reply(server, web_app, sessions, "Kargonuz yolda.")
        # Without META_APP_ID and without our metadata: only the stored provider id recognises it.
        echo = _meta({"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [{
            "sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": int(time.time() * 1000),
            "message": {"mid": reply.provider_id, "is_echo": True, "app_id": int(APP_ID), "text": reply.text}}]}]})
        assert (await _post(server, echo)).status_code == 200
        assert [(m.text, m.provider_id) for m in await _messages(sessions, direction="outbound")] == [
            ("Kargonuz yolda.", reply.provider_id)]

    async def test_a_window_meta_says_is_closed_fails_with_metas_reason(self, server: str, web_app: FastAPI,
                                                                        sessions, graph: GraphFake) -> None:
        # Open by our clock, closed by Meta's (say the customer wrote from a device whose time was off).
        graph.default = "outside_window"
        assert (await _post(server, _written_just_now())).status_code == 200
        async with transaction(web_app.state.sessions) as session:
            reply = await queue_reply(session, customer_id=await _customer_id(sessions), channel=Channel.messenger,
                                      text="geç cevap")
        for _ in range(200):
            [stored] = await _messages(sessions, direction="outbound")
            if stored.delivery_status == "failed":
                break
            await asyncio.sleep(0.025)
        assert stored.id == reply.id and stored.delivery_status == "failed"
        assert stored.error is not None and stored.error.startswith("Outside Messenger's 24-hour window")
