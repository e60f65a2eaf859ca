"""The composer over real HTTP: canned responses, @mentions, files, Retry and the messaging window."""

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from sqlmodel import col

from inbox import canned
from inbox.agents.models import Role, User
from inbox.channels import AddressKind, Channel
from inbox.config import CoreSettings
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Attachment, Message
from inbox.threads import service as threads
from tests.conftest import TEST_REDIS_URL
from tests.factories import make_order
from tests.web.test_sign_in import _sign_in
from tests.web.users import make_user

LIMIT = 64 * 1024
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5e1d8b40000000049454e44ae426082")


@pytest.fixture
def app_settings(db_url: str, tmp_path: Path) -> CoreSettings:
    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL,
                        max_attachment_bytes=LIMIT)


async def _customer(web_app, ingest_config, *, channel: Channel = Channel.whatsapp, address: str = "+905321234567",
                    name: str = "Şule Çelik", ago: timedelta = timedelta(minutes=5), provider_id: str = "SM1") -> int:
    """A customer who wrote in `ago`; returns their thread id."""
    sender = Party(f"whatsapp:{address}", AddressKind.phone, True, name) if channel == Channel.whatsapp \
        else Party(address, AddressKind.handle, True, name)
    async with transaction(web_app.state.sessions) as session:
        result = await ingest(session, InboundMessage(channel, provider_id, sender, text="Kargom nerede?",
                                                      provider_at=utcnow() - ago), config=ingest_config)
        return (await threads.for_customer(session, result.customer_id or 0)).id or 0


class Agent:
    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    async def post(self, url: str, **kwargs) -> httpx.Response:
        return await self.client.post(url, headers={"X-CSRF-Token": self.csrf, "HX-Request": "true"}, **kwargs)


@pytest.fixture
async def agent(server, sessions):
    async with httpx.AsyncClient(base_url=server) as client:
        await _sign_in(client, await make_user(sessions, Role.agent, email="ayse@shop.example", name="Ayşe Demir"))
        page = await client.get("/inbox")
        yield Agent(client, re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1))


async def _count(web_app, model) -> int:
    async with web_app.state.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _message(web_app, **where) -> Message:
    async with web_app.state.sessions() as session:
        query = select(Message)
        for key, value in where.items():
            query = query.where(getattr(Message, key) == value)
        return (await session.execute(query.order_by(col(Message.id).desc()).limit(1))).scalar_one()


class TestCanned:
    async def test_the_fragment_fills_the_customer_and_keeps_unknown_values_visible(
            self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        async with transaction(web_app.state.sessions) as session:
            await canned.save(session, shortcut="kargo", title="Kargo durumu",
                              body="Merhaba {{customer.first_name}}, siparişiniz {{order.number}}.")
            await canned.save(session, shortcut="iade", title="İade", body="İade için {{customer.name}}")
        response = await agent.client.get(f"/inbox/threads/{thread_id}/canned", params={"q": "karg"})
        assert response.status_code == 200
        assert "/kargo" in response.text and "/iade" not in response.text
        # No order yet: the variable stays as written, for the agent to fill by hand.
        assert 'data-insert="Merhaba Şule, siparişiniz {{order.number}}."' in response.text
        async with transaction(web_app.state.sessions) as session:
            thread = await threads.get(session, thread_id)
            await make_order(session, customer_id=thread.customer_id, external_id="1002")
        filled = await agent.client.get(f"/inbox/threads/{thread_id}/canned", params={"q": "durum"})
        assert 'data-insert="Merhaba Şule, siparişiniz 1002."' in filled.text


class TestMentions:
    async def test_a_note_stores_who_it_mentions_and_their_live_socket_hears_of_it(
            self, server, web_app, agent, sessions, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        await make_user(sessions, Role.agent, email="mehmet@shop.example", name="Mehmet Kaya")
        await make_user(sessions, Role.agent, email="ali@shop.example", name="Ali")
        async with httpx.AsyncClient(base_url=server) as mehmet:
            await _sign_in(mehmet, "mehmet@shop.example")
            listed = await mehmet.get(f"/inbox/threads/{thread_id}/mentions", params={"q": "ay"})
            assert "@Ayşe Demir " in listed.text and "Mehmet" not in listed.text
            cookie = mehmet.cookies["onethread_session"]
        async with web_app.state.sessions() as session:
            mehmet_id = (await session.execute(select(User.id).where(User.email == "mehmet@shop.example"))).scalar()
        url = server.replace("http", "ws") + "/live"
        async with websockets.connect(url, additional_headers={"Cookie": f"onethread_session={cookie}",
                                                               "Origin": server}) as socket:
            response = await agent.post(f"/inbox/threads/{thread_id}/messages",
                                        data={"kind": "note", "text": "@Mehmet Kaya bakar mısın? @Alican değil"})
            assert response.status_code == 200
            assert '<mark class="mention">@Mehmet Kaya</mark>' in response.text
            note = await _message(web_app, direction="note")
            async with asyncio.timeout(5):
                while True:
                    event = json.loads(await socket.recv())
                    if event["kind"] == "note.mention" and event["data"]["message_id"] == note.id:
                        break
        assert note.extra["mentions"] == [mehmet_id]
        assert event["thread_id"] == thread_id and event["data"]["user_ids"] == [mehmet_id]
        assert event["data"]["author_name"] == "Ayşe Demir" and event["data"]["customer_name"] == "Şule Çelik"


class TestFiles:
    async def test_a_file_within_the_limit_is_stored_and_attached_to_the_note(self, web_app, agent,
                                                                              ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        response = await agent.post(f"/inbox/threads/{thread_id}/messages", data={"kind": "note", "text": "fatura"},
                                    files=[("files", ("fatura.png", PNG, "image/png")),
                                           ("files", ("notlar.txt", b"kargo 3 gun", "text/plain"))])
        assert response.status_code == 200
        note = await _message(web_app, direction="note")
        async with web_app.state.sessions() as session:
            stored = (await session.execute(select(Attachment).where(col(Attachment.message_id) == note.id)
                                            .order_by(col(Attachment.id)))).scalars().all()
        assert [(a.filename, a.content_type, a.size) for a in stored] == [
            ("fatura.png", "image/png", len(PNG)), ("notlar.txt", "text/plain", 11)]
        assert web_app.state.files.read(stored[0].sha256) == PNG
        assert f'src="/inbox/attachments/{stored[0].id}"' in response.text and 'loading="lazy"' in response.text
        assert "notlar.txt" in response.text and "11 Bytes" in response.text

    async def test_an_oversized_file_refuses_the_whole_message_and_writes_nothing(self, web_app, agent,
                                                                                  ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        messages_before = await _count(web_app, Message)
        response = await agent.post(f"/inbox/threads/{thread_id}/messages", data={"kind": "note", "text": "büyük"},
                                    files=[("files", ("small.txt", b"ok", "text/plain")),
                                           ("files", ("big.bin", b"x" * (LIMIT + 1), "application/octet-stream"))])
        assert response.status_code == 422 and "larger than" in response.text
        assert await _count(web_app, Message) == messages_before and await _count(web_app, Attachment) == 0
        root = web_app.state.files.root
        assert not root.exists() or not any(path.is_file() for path in root.rglob("*"))


class TestAttachmentRoute:
    async def _attached(self, web_app, agent, ingest_config, name: str, data: bytes, content_type: str) -> int:
        thread_id = await _customer(web_app, ingest_config)
        response = await agent.post(f"/inbox/threads/{thread_id}/messages", data={"kind": "note", "text": "ek"},
                                    files=[("files", (name, data, content_type))])
        assert response.status_code == 200
        async with web_app.state.sessions() as session:
            return int((await session.execute(select(func.max(Attachment.id)))).scalar_one())

    async def test_a_safe_image_is_shown_inline_and_nothing_is_sniffed(self, web_app, agent, ingest_config) -> None:
        attachment_id = await self._attached(web_app, agent, ingest_config, "foto.png", PNG, "image/png")
        response = await agent.client.get(f"/inbox/attachments/{attachment_id}")
        assert response.status_code == 200 and response.content == PNG
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("inline")

    @pytest.mark.parametrize(("name", "content_type"), [("page.html", "text/html"), ("logo.svg", "image/svg+xml")])
    async def test_html_and_svg_are_downloads_never_pages(self, web_app, agent, ingest_config, name,
                                                          content_type) -> None:
        body = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
        attachment_id = await self._attached(web_app, agent, ingest_config, name, body, content_type)
        response = await agent.client.get(f"/inbox/attachments/{attachment_id}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_only_agents_and_admins_get_files(self, server, web_app, agent, sessions, ingest_config) -> None:
        attachment_id = await self._attached(web_app, agent, ingest_config, "foto.png", PNG, "image/png")
        async with httpx.AsyncClient(base_url=server) as store:
            assert (await store.get(f"/inbox/attachments/{attachment_id}")).status_code == 303
            await _sign_in(store, await make_user(sessions, Role.store))
            assert (await store.get(f"/inbox/attachments/{attachment_id}")).status_code == 403


class TestRetry:
    async def test_a_failed_reply_is_queued_again_and_others_are_refused(self, web_app, agent,
                                                                          ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        # WhatsApp is not configured in tests: the real worker fails the reply at once, with its reason.
        sent = await agent.post(f"/inbox/threads/{thread_id}/messages",
                                data={"kind": "reply", "channel": "whatsapp", "text": "Kargonuz yolda"})
        assert sent.status_code == 200
        reply = await _message(web_app, direction="outbound")
        for _ in range(200):
            if (reply := await _message(web_app, id=reply.id)).delivery_status == "failed":
                break
            await asyncio.sleep(0.05)
        shown = await agent.client.get(f"/inbox/threads/{thread_id}/messages")
        assert "channel not configured" in shown.text and f"/inbox/messages/{reply.id}/retry" in shown.text
        again = await agent.post(f"/inbox/messages/{reply.id}/retry")
        assert again.status_code == 200
        assert re.search(rf'data-message-id="{reply.id}".*?delivery-queued', again.text, re.S)
        inbound = await _message(web_app, direction="inbound")
        refused = await agent.post(f"/inbox/messages/{inbound.id}/retry")
        assert refused.status_code == 409


class TestThreadInTurkish:
    async def test_system_lines_and_delivery_marks_speak_the_agents_language(self, web_app, agent,
                                                                            ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config)
        page = await agent.client.get(f"/inbox/threads/{thread_id}/messages", headers={"Accept-Language": "tr-TR"})
        assert "Görüşme açıldı" in page.text and "case opened" not in page.text
        assert 'aria-label="WhatsApp"' in page.text


class TestWindow:
    async def test_a_closed_whatsapp_window_is_announced_with_the_alternative_and_refused(
            self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        async with transaction(web_app.state.sessions) as session:
            thread = await threads.get(session, thread_id)
            await customers.add_identity(session, customer_id=thread.customer_id, channel=Channel.telegram,
                                         kind=AddressKind.handle, address="5550001", verified=True)
        page = await agent.client.get(f"/inbox/threads/{thread_id}", headers={"HX-Request": "true"})
        notice = re.search(r'<p class="window-notice closed" data-window-channel="whatsapp"[^>]*>(.*?)</p>',
                           page.text, re.S)
        assert notice and "window closed" in notice.group(1)
        assert 'data-switch-channel="telegram"' in notice.group(1)
        before = await _count(web_app, Message)
        refused = await agent.post(f"/inbox/threads/{thread_id}/messages",
                                   data={"kind": "reply", "channel": "whatsapp", "text": "Merhaba"})
        assert refused.status_code == 409
        assert "window is closed since" in refused.text and "send an approved template" in refused.text
        assert await _count(web_app, Message) == before

    async def test_a_late_messenger_reply_goes_out_with_the_human_agent_tag(self, web_app, agent,
                                                                            ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, channel=Channel.messenger, address="psid-7781",
                                    ago=timedelta(days=3), provider_id="m_1")
        page = await agent.client.get(f"/inbox/threads/{thread_id}", headers={"HX-Request": "true"})
        assert re.search(r'data-window-channel="messenger"[^>]*>[^<]*HUMAN_AGENT', page.text)
        sent = await agent.post(f"/inbox/threads/{thread_id}/messages",
                                data={"kind": "reply", "channel": "messenger", "text": "Merhaba, yardımcı olayım"})
        assert sent.status_code == 200
        assert (await _message(web_app, direction="outbound")).extra == {"tag": "HUMAN_AGENT"}
