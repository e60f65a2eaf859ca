"""The inbox's views per channel, tag and team, their counts, keyset pages, and snoozed threads waking."""

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox import tags
from inbox.agents import teams
from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.errors import Invalid
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.messages import service as messages
from inbox.realtime import LiveEvent, last_event_id
from inbox.threads import service as threads
from inbox.threads import snooze, views
from inbox.threads.models import Status
from inbox.threads.views import View, ViewId

MONDAY = datetime(2026, 11, 16, 9, tzinfo=UTC)


async def _writes(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, channel: Channel, n: int,
                  at: datetime) -> int:
    """Customer n writes on a channel; returns their thread id."""
    party = {
        Channel.whatsapp: Party(f"whatsapp:+90532000{n:04d}", AddressKind.phone, True, f"WA {n}"),
        Channel.email: Party(f"c{n}@example.net", AddressKind.email, True, f"Mail {n}"),
        Channel.telegram: Party(str(1000 + n), AddressKind.handle, True, f"TG {n}"),
    }[channel]
    async with transaction(sessions) as session:
        done = await ingest(session, InboundMessage(channel, f"m{n}", party, text=f"hello {n}", provider_at=at),
                            config=config)
    return done.thread_id or 0


async def _ids(session: AsyncSession, view: str, **kwargs) -> list[int]:
    return [row.thread.id or 0 for row in await views.page(session, ViewId.parse(view), user_id=0, **kwargs)]


class TestViewIds:
    @pytest.mark.parametrize("text", ["open", "channel:whatsapp", "tag:3", "team:2", "snoozed"])
    def test_a_view_reads_back_as_it_was_written(self, text: str) -> None:
        assert ViewId.parse(text).value == text

    @pytest.mark.parametrize("text", ["", "everything", "channel:fax", "tag:x", "team:", "tag:12345678901", "mine:1"])
    def test_anything_else_is_refused(self, text: str) -> None:
        with pytest.raises(Invalid):
            ViewId.parse(text)


class TestFamilies:
    async def test_channel_tag_and_team_views_list_open_threads_and_count_them(self, sessions, session,
                                                                             ingest_config) -> None:
        wa1 = await _writes(sessions, ingest_config, Channel.whatsapp, 1, MONDAY)
        wa2 = await _writes(sessions, ingest_config, Channel.whatsapp, 2, MONDAY + timedelta(minutes=1))
        mail = await _writes(sessions, ingest_config, Channel.email, 3, MONDAY + timedelta(minutes=2))
        tg = await _writes(sessions, ingest_config, Channel.telegram, 4, MONDAY + timedelta(minutes=3))
        async with transaction(sessions) as writer:
            returns = await tags.create(writer, name="iade")
            shipping = await tags.create(writer, name="kargo")
            team = await teams.create(writer, name="Kargo ekibi")
            for thread_id in (wa1, mail):
                thread = await threads.get(writer, thread_id)
                await tags.set_case_tags(writer, thread.case_id or 0, [returns.id or 0])
            await threads.assign(writer, await threads.get(writer, wa2), assignee_id=None, team_id=team.id)
            await threads.assign(writer, await threads.get(writer, tg), assignee_id=None, team_id=team.id)
            # Resolved threads leave every family view and its count.
            await threads.set_status(writer, await threads.get(writer, tg), status=Status.resolved)

        assert await _ids(session, "channel:whatsapp") == [wa2, wa1]
        assert await _ids(session, "channel:email") == [mail]
        assert await _ids(session, "channel:telegram") == []
        assert await _ids(session, f"tag:{returns.id}") == [mail, wa1]
        assert await _ids(session, f"tag:{shipping.id}") == []
        assert await _ids(session, f"team:{team.id}") == [wa2]
        # The page reads them, the status counts and the live events' position in one statement.
        overview = await views.overview(session, user_id=0)
        counted = overview.families
        assert counted.channel == {"whatsapp": 2, "email": 1}
        assert counted.tag == {returns.id: 2}
        assert counted.team == {team.id: 1}
        assert overview.counts[View.open] == 3 and overview.counts[View.resolved] == 1
        assert overview.last_event_id == await last_event_id(session) > 0

    async def test_a_tag_on_a_past_case_does_not_label_the_new_one(self, sessions, session, ingest_config) -> None:
        wa = await _writes(sessions, ingest_config, Channel.whatsapp, 1, MONDAY)
        async with transaction(sessions) as writer:
            returns = await tags.create(writer, name="iade")
            thread = await threads.get(writer, wa)
            await tags.set_case_tags(writer, thread.case_id or 0, [returns.id or 0])
            await threads.set_status(writer, thread, status=Status.resolved)
        async with transaction(sessions) as writer:
            await ingest(writer, InboundMessage(Channel.whatsapp, "again", Party(
                "whatsapp:+905320000001", AddressKind.phone, True, "WA 1"), text="one more thing",
                provider_at=MONDAY + timedelta(days=30)), config=ingest_config)
        assert await _ids(session, "channel:whatsapp") == [wa]
        assert await _ids(session, f"tag:{returns.id}") == []
        assert (await views.overview(session, user_id=0)).families.tag == {}


class TestKeysetPages:
    async def test_pages_cross_a_tie_on_last_activity_without_losing_or_repeating_a_thread(
            self, sessions, session, ingest_config) -> None:
        # Five threads at the very same moment, then two later: pages of two must walk all seven.
        made = [await _writes(sessions, ingest_config, Channel.whatsapp, n, MONDAY) for n in range(5)]
        made += [await _writes(sessions, ingest_config, Channel.whatsapp, 5 + n, MONDAY + timedelta(hours=n + 1))
                 for n in range(2)]
        seen: list[int] = []
        after = None
        for _ in range(10):
            rows = await views.page(session, View.open, user_id=0, limit=2, after=after)
            if not rows:
                break
            seen += [row.thread.id or 0 for row in rows]
            after = views.parse_cursor(views.cursor_after(rows[-1]))
        assert seen == [made[6], made[5], made[4], made[3], made[2], made[1], made[0]]

    def test_a_cursor_not_given_out_is_refused(self) -> None:
        with pytest.raises(Invalid):
            views.parse_cursor("not-a-cursor")


class TestSnooze:
    def test_presets_are_wall_clock_times_in_istanbul(self) -> None:
        istanbul = ZoneInfo("Europe/Istanbul")
        friday_late = datetime(2026, 11, 20, 22, 30, tzinfo=istanbul).astimezone(UTC)
        assert snooze.preset_time(snooze.Preset.hour, now=friday_late) == friday_late + timedelta(hours=1)
        assert snooze.preset_time(snooze.Preset.tomorrow, now=friday_late) == datetime(2026, 11, 21, 6, tzinfo=UTC)
        assert snooze.preset_time(snooze.Preset.monday, now=friday_late) == datetime(2026, 11, 23, 6, tzinfo=UTC)
        on_monday = datetime(2026, 11, 23, 8, tzinfo=istanbul).astimezone(UTC)
        assert snooze.preset_time(snooze.Preset.monday, now=on_monday) == datetime(2026, 11, 30, 6, tzinfo=UTC)
        assert snooze.local_time("2026-11-24T09:30") == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)

    async def test_a_past_time_is_refused_and_nothing_changes(self, sessions, session, ingest_config) -> None:
        wa = await _writes(sessions, ingest_config, Channel.whatsapp, 1, MONDAY)
        with pytest.raises(Invalid):
            async with transaction(sessions) as writer:
                await snooze.snooze(writer, await threads.get(writer, wa), until=utcnow() - timedelta(minutes=1))
        assert (await threads.get(session, wa)).status == Status.open

    async def test_a_snoozed_thread_wakes_when_its_time_comes(self, sessions, session, ingest_config) -> None:
        wa = await _writes(sessions, ingest_config, Channel.whatsapp, 1, MONDAY)
        later = await _writes(sessions, ingest_config, Channel.whatsapp, 2, MONDAY)
        async with transaction(sessions) as writer:
            await snooze.snooze(writer, await threads.get(writer, wa), until=utcnow() + timedelta(seconds=1))
            await snooze.snooze(writer, await threads.get(writer, later), until=utcnow() + timedelta(days=1))
        async with sessions() as reader:
            assert set(await _ids(reader, "snoozed")) == {wa, later}
            before = await last_event_id(reader)
        async with transaction(sessions) as writer:
            assert await snooze.wake_due(writer, now=utcnow()) == []
        # The real clock moves on past the first snooze; the second is a day away.
        await asyncio.sleep(1.1)
        async with transaction(sessions) as writer:
            assert await snooze.wake_due(writer, now=utcnow()) == [wa]
        async with sessions() as reader:
            woken = await threads.get(reader, wa)
            assert (woken.status, woken.snoozed_until) == (Status.open, None)
            assert (await threads.get(reader, later)).status == Status.snoozed
            history = await messages.history(reader, woken.customer_id, limit=10)
            assert history.messages[-1].text == "case woke"
            kinds = (await reader.execute(select(col(LiveEvent.kind)).where(
                col(LiveEvent.id) > before, col(LiveEvent.thread_id) == wa))).scalars().all()
        assert "thread.updated" in kinds and "message.created" in kinds
        assert await _ids(session, "unassigned") == [wa]

    async def test_the_waker_runs_until_told_to_stop(self, sessions, session, ingest_config) -> None:
        wa = await _writes(sessions, ingest_config, Channel.whatsapp, 1, MONDAY)
        async with transaction(sessions) as writer:
            await snooze.snooze(writer, await threads.get(writer, wa), until=utcnow() + timedelta(seconds=1))
        stop = asyncio.Event()
        task = asyncio.create_task(snooze.run_waker(sessions, stop=stop, every_seconds=0.2))
        for _ in range(50):
            await asyncio.sleep(0.1)
            async with sessions() as reader:
                if (await threads.get(reader, wa)).status == Status.open:
                    break
        stop.set()
        await asyncio.wait_for(task, 2)
        async with sessions() as reader:
            assert (await threads.get(reader, wa)).status == Status.open
