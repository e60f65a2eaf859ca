"""Live updates for open inboxes over a websocket: every committed change, and who is looking where.

A client says which event id it saw last (?after=); it first gets what it missed from the table,
then the stream. Presence (viewing, typing) is never stored: it is only worth something now.
"""

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from inbox.agents import signin
from inbox.agents.models import Role
from inbox.realtime import LocalHub, encoded, events_since
from web.presence import Presence
from web.ui.security import SESSION_COOKIE

router = APIRouter()

_PRESENCE_STATES = {"viewing", "typing", "left"}
# A close code in the private range, so the client can tell "sign in again" from a blip.
UNAUTHORISED = 4401
# The largest event id the table holds (BIGINT).
MAX_ID = 2**63 - 1


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    if not same_origin(websocket):
        # Browsers send cookies with cross-site websocket handshakes: without this any page
        # could read an agent's inbox through their session (cross-site websocket hijacking).
        # Closing before accepting refuses the handshake itself (HTTP 403).
        await websocket.close()
        return
    async with websocket.app.state.sessions() as session:
        found = await signin.signed_in(session, websocket.cookies.get(SESSION_COOKIE, ""))
        await session.commit()
    await websocket.accept()
    if found is None or found.user.role not in (Role.admin, Role.agent):
        # Accepted first, so the page can read the code and send the agent to sign in.
        await websocket.close(code=UNAUTHORISED)
        return
    hub: LocalHub = websocket.app.state.hub
    presence: Presence = websocket.app.state.presence
    # Subscribe before catching up, so an event committed in between is in one or the other.
    subscription = hub.subscribe()
    # From now on the shop counts as staffed: the web chat stops telling visitors to expect an email.
    await presence.agent_opened(found.session_id)
    try:
        after = _int(websocket.query_params.get("after"))
        if after:
            async with websocket.app.state.sessions() as session:
                for event in await events_since(session, after):
                    await websocket.send_json(event)
        # Everything missed has been sent: the page can say it is live once it has applied it.
        await websocket.send_json(READY)
        me = {"user_id": found.user.id, "name": found.user.name}
        async with asyncio.TaskGroup() as group:
            group.create_task(_forward(websocket, subscription))
            group.create_task(_presence(websocket, hub, me))
    except* (WebSocketDisconnect, ConnectionResetError):
        pass
    finally:
        subscription.close()
        await presence.agent_closed(found.session_id)
        with contextlib.suppress(Exception):
            await websocket.close()


async def _forward(websocket: WebSocket, subscription: Any) -> None:
    while True:
        await websocket.send_text(encoded(await subscription.get()))


async def _presence(websocket: WebSocket, hub: LocalHub, me: dict[str, Any]) -> None:
    while True:
        try:
            said = json.loads(await received(websocket))
        except (ValueError, RecursionError):
            continue
        if not isinstance(said, dict):
            continue  # a page of ours sends objects; anything else is nobody's presence
        state, thread_id = said.get("presence"), _int(said.get("thread_id"))
        if isinstance(state, str) and state in _PRESENCE_STATES and thread_id:
            data = {**me, "state": state}
            # What is being typed, for the web chat: a visitor sees an agent typing a reply to them,
            # never a colleague's note.
            if said.get("kind") in ("reply", "note") and isinstance(said.get("channel"), str):
                data.update(kind=said["kind"], channel=said["channel"][:20])
            hub.publish({"id": None, "kind": "presence", "thread_id": thread_id, "customer_id": None, "data": data})


READY: dict[str, Any] = {"id": None, "kind": "live.ready", "thread_id": None, "customer_id": None, "data": {}}


async def received(websocket: WebSocket) -> str | bytes:
    """The next frame's data. Not receive_text(): a binary frame (any script can send one) would be
    a KeyError there and drop the socket with an internal error; here it is read like text, and
    frames.read refuses what is not a frame."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text: str | None = message.get("text")
    return text if text is not None else message.get("bytes") or b""


def same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


def _int(value: object) -> int:
    # An event or thread id: 0 (none) for anything that is not one the tables can hold.
    try:
        number = int(str(value))
    except ValueError:
        return 0
    return number if 0 < number <= MAX_ID else 0
