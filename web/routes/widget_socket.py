"""/ws/widget: a web chat visitor's live connection, built on what the agents' /live socket uses.

The first frame is a hello with a single-use ticket (inbox/visitors/tokens.py) and the last message id
the widget saw; the socket subscribes to the visitor's own hub topic and their thread's, replays what
they missed from the table, says ready, then carries messages both ways. Their messages go through
the same IngestWriter as every webhook, so an ack means committed; agents' replies arrive from the
web chat adapter's send, published on the visitor's topic.
"""

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import BadPayload
from adapters.webchat import adapter as chat
from adapters.webchat import frames
from inbox.agents import presence as agents
from inbox.customers.models import Identity
from inbox.db import utcnow
from inbox.errors import DomainError
from inbox.ingest_queue import IngestWriter
from inbox.messages import service as messages
from inbox.messages.models import Attachment, Message
from inbox.realtime import LocalHub, Subscription, thread_topic
from inbox.threads import service as threads
from inbox.visitors import service as visitors
from inbox.visitors.models import Visitor
from web.file_links import FileLinks
from web.presence import Presence
from web.ratelimit import Window
from web.routes.live import UNAUTHORISED, received, same_origin
from web.routes.widget import chat_adapter

log = logging.getLogger(__name__)
router = APIRouter()

HELLO_SECONDS = 10
# The widget hears within this long when the last agent goes offline (or the first comes back).
STATUS_EVERY = 30.0
# Close codes the widget tells apart: a broken frame is a bug to report, the rest mean "get a new ticket".
BAD_HELLO = 4400
_MESSAGES = Window(20, 60)
_TYPING = Window(1, 2)


@router.websocket("/ws/widget")
async def widget_socket(websocket: WebSocket) -> None:
    if not same_origin(websocket):
        # The widget's frame is served from this origin; a socket from anywhere else is not the widget.
        await websocket.close()
        return
    await websocket.accept()
    try:
        hello = frames.read(await asyncio.wait_for(received(websocket), HELLO_SECONDS))
    except (TimeoutError, BadPayload, WebSocketDisconnect):
        hello = None
    if not isinstance(hello, frames.Hello):
        with contextlib.suppress(Exception):
            await websocket.close(code=BAD_HELLO)
        return
    async with websocket.app.state.sessions() as session:
        visitor = await visitors.redeem(session, secret=websocket.app.state.secret, ticket=hello.ticket, now=utcnow())
        identity = await visitors.identity_of(session, visitor) if visitor else None
        await session.commit()
    if visitor is None:
        # Forged, expired or replayed: the widget asks for a fresh ticket with its token.
        await websocket.close(code=UNAUTHORISED)
        return
    await _Chat(websocket, visitor, identity).run(hello.after_id)


class _Chat:
    def __init__(self, websocket: WebSocket, visitor: Visitor, identity: Identity | None) -> None:
        self.websocket = websocket
        self.state = websocket.app.state
        self.visitor = visitor
        self.party = visitors.party(visitor)
        self.topic = frames.visitor_topic(visitor.address)
        self.identity = identity
        self.thread_id: int | None = None
        self.adapter = chat_adapter(websocket)
        self.links: FileLinks = FileLinks("", self.state.secret)
        self.subscription: Subscription | None = None
        # Ids of the agents' replies sent down this socket: the ones its receipts may name.
        self.shown: set[int] = set()

    async def run(self, after_id: int) -> None:
        hub: LocalHub = self.state.hub
        presence: Presence = self.state.presence
        # Subscribed before the catch-up reads the table, so a reply committed in between is in one or the other.
        self.subscription = hub.subscribe(topics={self.topic})
        await presence.visitor_opened(self.visitor.id or 0)
        try:
            async with self.state.sessions() as session:
                await self._follow_thread(session)
                seen = await visitors.history(session, self.identity, after_id=after_id)
                status = await self._status(session)
            for message in seen.messages:
                await self._send_message(self._message_frame(message, seen.attachments.get(message.id or 0, [])))
            await self.websocket.send_json({"type": "ready", **status, "name": self.visitor.name})
            async with asyncio.TaskGroup() as group:
                group.create_task(self._forward(self.subscription))
                group.create_task(self._receive())
                group.create_task(self._watch_status(status))
        except* (WebSocketDisconnect, ConnectionResetError):
            pass
        finally:
            self.subscription.close()
            await presence.visitor_closed(self.visitor.id or 0)
            with contextlib.suppress(Exception):
                await self.websocket.close()

    async def _follow_thread(self, session: AsyncSession) -> None:
        # Agents typing in the visitor's thread reach them through the thread's topic; before the
        # first message there is no thread to follow yet.
        if self.identity is None or self.thread_id is not None or self.subscription is None:
            return
        self.thread_id = (await threads.for_customer(session, self.identity.customer_id)).id
        self.state.hub.follow(self.subscription, thread_topic(self.thread_id or 0))

    async def _status(self, session: AsyncSession) -> dict[str, bool]:
        return {"agents_online": await agents.agents_online(session, now=utcnow()),
                "email_known": await visitors.email_known(session, self.identity)}

    async def _watch_status(self, last: dict[str, bool]) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY)
            async with self.state.sessions() as session:
                self.identity = self.identity or await visitors.identity_of(session, self.visitor)
                now = await self._status(session)
            if now != last:
                await self.websocket.send_json({"type": "status", **now})
                last = now

    async def _send_message(self, frame: dict[str, Any]) -> None:
        if frame.get("author") == "agent":
            self.shown.add(frame["id"])
        await self.websocket.send_json(frame)

    async def _forward(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.get()
            frame = event.get("frame")
            if frame is not None:
                await self._send_message(self._linked(frame))
                continue
            data = event.get("data") or {}
            # An agent typing a reply on the web chat; a note, or a reply on another channel, is not for them.
            if event.get("kind") == "presence" and data.get("kind") == "reply" and data.get("channel") == "webchat" \
                    and not data.get("visitor") and data.get("state") in ("typing", "left"):
                await self.websocket.send_json({"type": "typing", "name": data.get("name") or "",
                                                "state": "typing" if data["state"] == "typing" else "stopped"})

    async def _receive(self) -> None:
        while True:
            text = await received(self.websocket)
            try:
                frame = frames.read(text)
            except BadPayload as error:
                await self.websocket.send_json({"type": "error", "code": "invalid", "message": str(error)})
                continue
            match frame:
                case frames.Message():
                    await self._message(frame)
                case frames.Typing():
                    await self._typing(frame)
                case frames.Receipt():
                    # Only replies this socket showed them: a visitor cannot tick another's messages.
                    mine = [message_id for message_id in frame.ids if message_id in self.shown]
                    if mine:
                        await self._ingest(self.adapter.events(frame.model_copy(update={"ids": mine}), self.party))
                case frames.Ping():
                    await self.websocket.send_json({"type": "pong"})

    async def _message(self, frame: frames.Message) -> None:
        limit = _MESSAGES.limit * (2 if self.visitor.verified else 1)
        if not _MESSAGES.allow(self.visitor.key, limit=limit):
            await self.websocket.send_json({"type": "error", "code": "slow_down", "client_msg_id": frame.client_msg_id,
                                            "message": "too many messages: wait a moment"})
            return
        try:
            [result] = await self._ingest(self.adapter.events(frame, self.party))
        except (BadPayload, DomainError) as error:
            await self.websocket.send_json({"type": "error", "code": "invalid", "client_msg_id": frame.client_msg_id,
                                            "message": str(error)})
            return
        if result.outcome == "stored" and not frame.files and self.thread_id is not None:
            # The common case answers from what it has: no read back on the hot path.
            now = utcnow().isoformat()
            await self.websocket.send_json({"type": "ack", "client_msg_id": frame.client_msg_id,
                                            "id": result.message_id, "ts": now})
            self._echo(frames.message(message_id=result.message_id or 0, author="visitor", name="", text=frame.text,
                                      ts=now, files=[], client_msg_id=frame.client_msg_id))
            return
        async with self.state.sessions() as session:
            stored = (await messages.get(session, result.message_id) if result.message_id else
                      await messages.by_provider_id(session, channel="webchat",
                                                    provider_id=chat.provider_id(self.visitor.address,
                                                                                 frame.client_msg_id)))
            if stored is None:
                return
            attached = (await messages.attachments_for(session, [stored.id or 0])).get(stored.id or 0, [])
            if self.identity is None:
                self.identity = await visitors.identity_of(session, self.visitor)
            await self._follow_thread(session)
        await self.websocket.send_json({"type": "ack", "client_msg_id": frame.client_msg_id, "id": stored.id,
                                        "ts": stored.at.isoformat()})
        if result.outcome == "stored":
            self._echo(self._message_frame(stored, attached, client_msg_id=frame.client_msg_id))

    def _echo(self, frame: dict[str, Any]) -> None:
        # The visitor's other open widgets (another tab, their phone) show it too.
        self.state.hub.publish({"topic": self.topic, "frame": frame})

    async def _typing(self, frame: frames.Typing) -> None:
        if self.thread_id is None or (frame.state == "typing" and not _TYPING.allow(self.visitor.key)):
            return
        self.state.hub.publish({"id": None, "kind": "presence", "thread_id": self.thread_id, "customer_id": None,
                                "data": {"user_id": f"visitor:{self.visitor.id}", "name": self.visitor.name,
                                         "visitor": True, "state": "typing" if frame.state == "typing" else "left"}})

    async def _ingest(self, events: list[Any]) -> list[Any]:
        writer: IngestWriter = self.state.ingest_writer
        return await writer.submit(events)

    def _message_frame(self, message: Message, attached: list[Attachment], *,
                       client_msg_id: str | None = None) -> dict[str, Any]:
        mine = message.direction == "inbound"
        return self._linked(frames.message(
            message_id=message.id or 0, author="visitor" if mine else "agent",
            name="" if mine else message.author_name, text=message.text, ts=message.at.isoformat(),
            files=[frames.file(attachment_id=a.id, name=a.filename, content_type=a.content_type, size=a.size)
                   for a in attached if a.sha256], client_msg_id=client_msg_id or (message.extra or {}).get(
                "client_msg_id"), status=None if mine else message.delivery_status))

    def _linked(self, frame: dict[str, Any]) -> dict[str, Any]:
        # Signed links to this server's /files route: the frame's page shares its origin.
        files = [{**f, "url": self.links.url_for(f["attachment_id"], f["name"])} if f.get("attachment_id") else f
                 for f in frame.get("files") or []]
        return {**frame, "files": files} if files else frame
