"""The web chat's HTTP and websocket sides against the real server: sessions, tickets, frames, files."""

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from sqlmodel import col

from inbox.customers import service as customers
from inbox.messages.models import Attachment, Message
from inbox.visitors import service as visitors
from inbox.visitors.models import Visitor
from tests.ui.test_composer_browser import PNG
from tests.waiting import until

SECRET = "shop-identity-secret-for-tests"


@pytest.fixture(autouse=True)
def identity_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIDGET_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", "https://shop.example https://www.shop.example")


async def _session(server: str, token: str = "", user: dict[str, str] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server) as client:
        answer = await client.post("/widget/session", json={"token": token, **({"user": user} if user else {})})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@asynccontextmanager
async def _socket(server: str, ticket: str, *, after_id: int = 0) -> AsyncIterator[Any]:
    async with websockets.connect(server.replace("http", "ws") + "/ws/widget",
                                  additional_headers={"Origin": server}) as socket:
        await socket.send(json.dumps({"type": "hello", "ticket": ticket, "after_id": after_id}))
        yield socket


async def _until(socket: Any, kind: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind and all(frame.get(key) == value for key, value in match.items()):
                return dict(frame)


async def _say(socket: Any, text: str = "", files: list[dict[str, str]] | None = None) -> dict[str, Any]:
    client_msg_id = str(uuid.uuid4())
    await socket.send(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text,
                                  "files": files or []}))
    return await _until(socket, "ack", client_msg_id=client_msg_id)


async def _count(sessions, model: Any, *where: Any) -> int:
    async with sessions() as reader:
        return int((await reader.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


class TestSession:
    async def test_a_returning_browser_keeps_its_visitor_with_a_fresh_ticket(self, server) -> None:
        first = await _session(server)
        again = await _session(server, first["token"])
        assert again["token"] == first["token"] and again["ticket"] != first["ticket"]
        assert (await _session(server, first["token"][:-1] + "x"))["token"] != first["token"]

    async def test_a_forged_shopper_gets_no_session_as_them(self, server, sessions) -> None:
        async with httpx.AsyncClient(base_url=server) as client:
            forged = await client.post("/widget/session", json={"user": {"email": "ayse@example.net",
                                                                         "hash": "0" * 64}})
            oversized = await client.post("/widget/session", content=b"{" + b" " * 5000 + b"}")
        assert (forged.status_code, oversized.status_code) == (403, 413)
        assert await _count(sessions, Visitor, col(Visitor.verified).is_(True)) == 0

    async def test_a_script_minting_chats_is_stopped_but_a_returning_visitor_is_not(self, server, sessions) -> None:
        first = await _session(server)
        for _ in range(visitors.NEW_VISITORS_PER_HOUR - 1):
            await _session(server)
        async with httpx.AsyncClient(base_url=server) as client:
            refused = await client.post("/widget/session", json={"token": ""})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "600"
        assert await _count(sessions, Visitor) == visitors.NEW_VISITORS_PER_HOUR  # the refused one left nothing
        assert (await _session(server, first["token"]))["token"] == first["token"]

    async def test_the_frame_may_be_embedded_only_where_the_shop_says(self, server) -> None:
        async with httpx.AsyncClient(base_url=server) as client:
            frame = await client.get("/widget", params={"lang": "tr"})
            loader = await client.get("/widget.js")
        policy = frame.headers["content-security-policy"]
        assert "frame-ancestors 'self' https://shop.example https://www.shop.example" in policy
        assert "script-src" not in policy and "default-src 'self'" in policy
        assert "Bize yazın" in frame.text
        assert loader.headers["content-type"].startswith("text/javascript") and "attachShadow" in loader.text


class TestSocket:
    async def test_a_message_is_committed_when_acked_and_stored_once(self, server, sessions) -> None:
        started = await _session(server)
        async with _socket(server, started["ticket"]) as socket:
            ready = await _until(socket, "ready")
            assert ready["email_known"] is False
            client_msg_id = str(uuid.uuid4())
            frame = {"type": "message", "client_msg_id": client_msg_id, "text": "Merhaba"}
            await socket.send(json.dumps(frame))
            ack = await _until(socket, "ack", client_msg_id=client_msg_id)
            # No waiting: the row is there when the widget hears "ack".
            assert await _count(sessions, Message, col(Message.id) == ack["id"]) == 1
            await socket.send(json.dumps(frame))
            again = await _until(socket, "ack", client_msg_id=client_msg_id)
        assert again["id"] == ack["id"]
        assert await _count(sessions, Message, col(Message.text) == "Merhaba") == 1

    async def test_a_replayed_ticket_and_a_forged_one_open_nothing(self, server) -> None:
        started = await _session(server)
        async with _socket(server, started["ticket"]) as socket:
            await _until(socket, "ready")
        key, number, expires, signature = started["ticket"].split(".")
        for ticket in (started["ticket"], f"{key}.{number}.{int(expires) + 600}.{signature}", started["token"]):
            async with _socket(server, ticket) as socket:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await socket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async def test_a_page_on_another_origin_cannot_open_the_socket(self, server) -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.replace("http", "ws") + "/ws/widget",
                                          additional_headers={"Origin": "https://evil.example"}):
                pass
        assert refused.value.response.status_code == 403

    async def test_a_visitor_never_reads_another_visitors_chat(self, server) -> None:
        mine, theirs = await _session(server), await _session(server)
        async with _socket(server, theirs["ticket"]) as socket:
            await _until(socket, "ready")
            await _say(socket, "Kart numaram 4111 1111")
        async with _socket(server, mine["ticket"]) as socket:
            await _until(socket, "ready")
            await _say(socket, "Merhaba")
            later = await _session(server, mine["token"])
        # Reconnected from the very beginning: only its own message comes back.
        async with _socket(server, later["ticket"], after_id=0) as socket:
            replayed = []
            async with asyncio.timeout(10):
                while (frame := json.loads(await socket.recv()))["type"] != "ready":
                    replayed.append(frame["text"])
        assert replayed == ["Merhaba"]

    async def test_a_visitor_cannot_tick_a_reply_to_someone_else(self, server, api, sessions) -> None:
        theirs, mine = await _session(server), await _session(server)
        async with _socket(server, theirs["ticket"]) as socket:
            await _until(socket, "ready")
            ack = await _say(socket, "Merhaba")
            customer_id = await _customer_of_thread(sessions, (await _message(sessions, ack["id"])).thread_id)
            sent = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "webchat", "text": "Buyrun", "kind": "reply"})
            await _until(socket, "message", author="agent")
        await until(lambda: _status_is(sessions, sent.json()["id"], "sent"))
        async with _socket(server, mine["ticket"]) as socket:
            await _until(socket, "ready")
            await socket.send(json.dumps({"type": "read", "ids": [sent.json()["id"]]}))
            await _say(socket, "Bir şey sorabilir miyim?")
        assert await _status_is(sessions, sent.json()["id"], "sent")

    async def test_a_chatty_visitor_is_slowed_down(self, server, sessions) -> None:
        started = await _session(server)
        async with _socket(server, started["ticket"]) as socket:
            await _until(socket, "ready")
            for n in range(20):
                await _say(socket, f"spam {n}")
            await socket.send(json.dumps({"type": "message", "client_msg_id": str(uuid.uuid4()), "text": "spam 20"}))
            refused = await _until(socket, "error")
        assert refused["code"] == "slow_down"
        assert await _count(sessions, Message, col(Message.text).startswith("spam")) == 20

    async def test_an_agents_reply_arrives_live_and_on_reconnect(self, server, api, sessions) -> None:
        started = await _session(server)
        async with _socket(server, started["ticket"]) as socket:
            await _until(socket, "ready")
            ack = await _say(socket, "Siparişim nerede?")
            async with sessions() as reader:
                customer_id = (await reader.execute(select(col(Message.thread_id)).where(
                    col(Message.id) == ack["id"]))).scalar_one()
            thread_customer = await _customer_of_thread(sessions, customer_id)
            sent = await api.post(f"/api/v1/customers/{thread_customer}/messages",
                                  json={"channel": "webchat", "text": "Yarın kargoda", "kind": "reply"})
            assert sent.status_code == 201, sent.text
            reply = await _until(socket, "message", author="agent")
            assert (reply["text"], reply["id"]) == ("Yarın kargoda", sent.json()["id"])
            # The widget says it was seen, maybe before the send is even recorded: the reply ticks read.
            await socket.send(json.dumps({"type": "read", "ids": [reply["id"]]}))
            await until(lambda: _status_is(sessions, reply["id"], "read"))
        again = await _session(server, started["token"])
        async with _socket(server, again["ticket"], after_id=ack["id"]) as socket:
            caught_up = await _until(socket, "message", author="agent")
        assert caught_up["id"] == reply["id"]


class TestFiles:
    async def _upload(self, server: str, token: str, name: str, data: bytes, content_type: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=server) as client:
            return await client.post("/widget/uploads", files={"file": (name, data, content_type)},
                                     headers={"Authorization": f"Bearer {token}"} if token else {})

    async def test_a_photo_is_uploaded_then_sent_and_shown_by_a_signed_link(self, server, sessions) -> None:
        started = await _session(server)
        uploaded = await self._upload(server, started["token"], "kutu.png", PNG, "image/png")
        assert uploaded.status_code == 200, uploaded.text
        ref = uploaded.json()
        async with _socket(server, started["ticket"]) as socket:
            await _until(socket, "ready")
            ack = await _say(socket, "Kutu ezik geldi", files=[{k: ref[k] for k in ("sha256", "name", "type")}])
            echo = await _until(socket, "message", id=ack["id"])
        [file] = echo["files"]
        async with httpx.AsyncClient(base_url=server) as client:
            shown = await client.get(file["url"])
        assert (shown.status_code, shown.content) == (200, PNG)
        assert await _count(sessions, Attachment, col(Attachment.sha256) == ref["sha256"]) == 1

    @pytest.mark.parametrize(("name", "data", "content_type", "status"), [
        ("fatura.html", b"<script>alert(1)</script>", "text/html", 415),
        ("kutu.png", b"<svg onload=alert(1)>", "image/png", 415),
        ("buyuk.pdf", b"%PDF-" + b"x" * (10 * 1024 * 1024), "application/pdf", 413),
    ])
    async def test_what_the_chat_does_not_take_is_refused(self, server, name: str, data: bytes, content_type: str,
                                                          status: int) -> None:
        started = await _session(server)
        assert (await self._upload(server, started["token"], name, data, content_type)).status_code == status

    async def test_a_flood_of_uploads_is_slowed_down(self, server, sessions) -> None:
        started = await _session(server)
        answers = [(await self._upload(server, started["token"], f"foto{n}.png", PNG, "image/png")).status_code
                   for n in range(12)]
        assert answers == [200] * 10 + [429] * 2

    async def test_no_upload_without_the_visitors_token(self, server) -> None:
        assert (await self._upload(server, "", "kutu.png", PNG, "image/png")).status_code == 401

    async def test_a_file_nobody_uploaded_cannot_be_attached(self, server, sessions) -> None:
        started = await _session(server)
        async with _socket(server, started["ticket"]) as socket:
            await _until(socket, "ready")
            client_msg_id = str(uuid.uuid4())
            await socket.send(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": "",
                                          "files": [{"sha256": "a" * 64, "name": "x.png", "type": "image/png"}]}))
            refused = await _until(socket, "error", client_msg_id=client_msg_id)
        assert "no such upload" in refused["message"]
        assert await _count(sessions, Attachment) == 0


class TestIdentity:
    async def test_the_contact_form_claims_and_a_signed_shopper_proves(self, server, sessions) -> None:
        anonymous = await _session(server)
        async with httpx.AsyncClient(base_url=server) as client:
            given = await client.post("/widget/contact", json={"name": "Can", "email": "Can@Example.net"},
                                      headers={"Authorization": f"Bearer {anonymous['token']}"})
            refused = await client.post("/widget/contact", json={"email": "can@example.net"})
        assert (given.status_code, given.json()["email_known"], refused.status_code) == (200, True, 401)
        async with sessions() as reader:
            claimed = await customers.find_identity(reader, channel="webchat", address="can@example.net")
            assert claimed is not None and claimed.verified is False
            typist = claimed.customer_id
        signature = hmac.new(SECRET.encode(), b"can@example.net", hashlib.sha256).hexdigest()
        signed = await _session(server, anonymous["token"], user={"email": "can@example.net", "hash": signature})
        assert signed["signed_in"] is True and signed["token"] != anonymous["token"]
        async with _socket(server, signed["ticket"]) as socket:
            await _until(socket, "ready")
            await _say(socket, "Giriş yaptım")
        async with sessions() as reader:
            proven = await customers.find_identity(reader, channel="webchat", address="can@example.net")
            assert proven is not None and proven.verified is True
            # The shop proved who owns the address; whoever typed it keeps a suggestion, not the thread.
            assert proven.customer_id != typist
            assert [(s.customer_id, s.other_id) for s in await customers.open_suggestions(reader, typist)] == [
                tuple(sorted((typist, proven.customer_id)))]


async def _message(sessions, message_id: int) -> Message:
    async with sessions() as reader:
        found = await reader.get(Message, message_id)
    assert found is not None
    return found


async def _status_is(sessions, message_id: int, status: str) -> bool:
    async with sessions() as reader:
        return await reader.scalar(select(col(Message.delivery_status)).where(col(Message.id) == message_id)) == status


async def _customer_of_thread(sessions, thread_id: int) -> int:
    from inbox.threads import service as threads

    async with sessions() as reader:
        return (await threads.get(reader, thread_id)).customer_id
