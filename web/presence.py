"""Who has a live socket open in this process, written where every process can read it.

An agent's /live socket and a visitor's /ws/widget socket each mark their row (sign-in session,
visitor) online the moment they open and clear it when they close; while they stay open one task
per process renews every mark in a single transaction, so two hundred sockets cost one write a
renewal, not two hundred. A process that dies simply stops renewing: its marks run out.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents import presence as agents
from inbox.db import transaction, utcnow
from inbox.visitors import service as visitors

log = logging.getLogger(__name__)

# Both marks last as long; renewing at a third of it survives one slow or failed renewal.
LASTS = agents.LIVE_FOR
assert visitors.ONLINE_FOR == LASTS


class Presence:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, lasts: timedelta = LASTS) -> None:
        self._sessions = sessions
        self._lasts = lasts
        # Counted: one agent may have the inbox open in two tabs, one shopper the widget on two pages.
        self._agents: Counter[int] = Counter()
        self._visitors: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def agent_opened(self, session_id: int) -> None:
        self._agents[session_id] += 1
        await self._write([session_id], [], until=utcnow() + self._lasts)

    async def agent_closed(self, session_id: int) -> None:
        if _release(self._agents, session_id):
            await self._write([session_id], [], until=None)

    async def visitor_opened(self, visitor_id: int) -> None:
        self._visitors[visitor_id] += 1
        await self._write([], [visitor_id], until=utcnow() + self._lasts)

    async def visitor_closed(self, visitor_id: int) -> None:
        if _release(self._visitors, visitor_id):
            await self._write([], [visitor_id], until=None)

    async def _write(self, session_ids: list[int], visitor_ids: list[int], *, until: datetime | None) -> None:
        async with transaction(self._sessions) as session:
            await agents.mark_live(session, session_ids, until=until)
            await visitors.mark_online(session, visitor_ids, until=until)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._lasts.total_seconds() / 3)
            try:
                if self._agents or self._visitors:
                    await self._write(list(self._agents), list(self._visitors), until=utcnow() + self._lasts)
            except Exception:  # a database blip: the marks last long enough for the next round
                log.warning("renewing who is online failed; trying again next round", exc_info=True)


def _release(counts: Counter[int], key: int) -> bool:
    """One socket fewer; True when it was the last one for this key."""
    counts[key] -= 1
    if counts[key] > 0:
        return False
    del counts[key]
    return True
