"""Snoozing: a thread put away until a time, and woken when that time comes.

Times an agent picks ("tomorrow 09:00") are wall-clock times in the shop's timezone; they are
stored in UTC like every other time.
"""

import asyncio
import contextlib
import logging
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox.agents.models import User
from inbox.db import transaction, utcnow
from inbox.errors import Invalid
from inbox.messages import service as messages
from inbox.threads import actions
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread

log = logging.getLogger("onethread.snooze")

# No setting names the shop's timezone yet; the shops this is built for are in Türkiye.
SHOP_TIMEZONE = ZoneInfo("Europe/Istanbul")
WAKE_AT = time(9, 0)


class Preset(StrEnum):
    hour = "hour"
    tomorrow = "tomorrow"
    monday = "monday"


def preset_time(preset: Preset, *, now: datetime, zone: ZoneInfo = SHOP_TIMEZONE) -> datetime:
    """In one hour, tomorrow 09:00, or next Monday 09:00 (a week on if today is Monday), in UTC."""
    if preset == Preset.hour:
        return now + timedelta(hours=1)
    local = now.astimezone(zone).date()
    days = 1 if preset == Preset.tomorrow else (7 - local.weekday()) or 7
    return datetime.combine(local + timedelta(days=days), WAKE_AT, tzinfo=zone).astimezone(now.tzinfo)


def local_time(text: str, *, zone: ZoneInfo = SHOP_TIMEZONE) -> datetime:
    """A datetime-local field's value ("2026-11-24T09:30"), read as the shop's wall clock, in UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise Invalid("until", "pick a date and time") from error
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(ZoneInfo("UTC"))


async def snooze(session: AsyncSession, thread: Thread, *, until: datetime, now: datetime | None = None,
                 by: User | None = None) -> None:
    if until <= (now or utcnow()):
        raise Invalid("until", "pick a time in the future")
    await actions.set_status(session, thread, status=Status.snoozed, snoozed_until=until, by=by)


async def wake_due(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[int]:
    """Reopen snoozed threads whose time has come; each says so in its history. Returns their ids."""
    due = (await session.execute(
        select(Thread).where(col(Thread.status) == Status.snoozed, col(Thread.snoozed_until) <= now)
        .order_by(col(Thread.snoozed_until)).limit(limit).with_for_update(skip_locked=True)
    )).scalars().all()
    for thread in due:
        await threads.set_status(session, thread, status=Status.open)
        await messages.append_event(session, thread, text="case woke", extra={"event": "case.woke"})
    return [thread.id or 0 for thread in due]


async def run_waker(sessions: async_sessionmaker[AsyncSession], *, stop: asyncio.Event,
                    every_seconds: float = 30.0) -> None:
    """Wake due threads every so often until `stop` is set."""
    while not stop.is_set():
        try:
            async with transaction(sessions) as session:
                await wake_due(session, now=utcnow())
        except Exception:
            # The database went away or a bug: the next round tries again; say so loudly.
            log.exception("waking snoozed threads failed; trying again in %.0f s", every_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)
