"""The inbox's view counts, read from thread_count, always equal a count of the threads themselves."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox import tags
from inbox.agents import teams
from inbox.agents.service import create_user
from inbox.channels import AddressKind, Channel
from inbox.customers import merge as merges
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.threads import service as threads
from inbox.threads import views
from inbox.threads.models import CaseTag, Status, Thread
from inbox.threads.views import View


async def _counted(session: AsyncSession, user_id: int) -> dict[View, int]:
    async def n(*where) -> int:  # type: ignore[no-untyped-def]
        return int((await session.execute(select(func.count()).select_from(Thread).where(*where))).scalar_one())

    status = col(Thread.status)
    return {View.unassigned: await n(status == Status.open, col(Thread.assignee_id).is_(None)),
            View.mine: await n(status == Status.open, col(Thread.assignee_id) == user_id),
            View.open: await n(status == Status.open), View.pending: await n(status == Status.pending),
            View.snoozed: await n(status == Status.snoozed), View.resolved: await n(status == Status.resolved)}


async def _write(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, who: int, text: str) -> None:
    async with transaction(sessions) as session:
        await ingest(session, InboundMessage(Channel.whatsapp, f"wamid.{who}.{text}", Party(
            f"whatsapp:+90532{who:07d}", AddressKind.phone, True, f"Müşteri {who}"), text=text), config=config)


async def test_counts_follow_every_change_to_threads(sessions, ingest_config) -> None:
    async with transaction(sessions) as session:
        me = (await create_user(session, email="me@shop.example", password="password-1")).id or 0
        other = (await create_user(session, email="other@shop.example", password="password-1")).id or 0
    for who in range(8):
        await _write(sessions, ingest_config, who, "merhaba")

    async def check() -> dict[View, int]:
        async with sessions() as session:
            found, expected = (await views.overview(session, user_id=me)).counts, await _counted(session, me)
        assert found == expected
        return found

    assert (await check())[View.unassigned] == 8
    async with transaction(sessions) as session:
        rows = (await session.execute(select(Thread).order_by(col(Thread.id)))).scalars().all()
        await threads.assign(session, rows[0], assignee_id=me)
        await threads.assign(session, rows[1], assignee_id=other)
        await threads.set_status(session, rows[2], status=Status.resolved)
        await threads.set_status(session, rows[3], status=Status.pending)
        await threads.set_status(session, rows[4], status=Status.snoozed)
        await threads.assign(session, rows[3], assignee_id=me)
    counts = await check()
    assert counts[View.mine] == 1 and counts[View.resolved] == 1 and counts[View.unassigned] == 3
    # The customer writing again, and a merge that leaves one thread of two.
    await _write(sessions, ingest_config, 2, "bir sorum daha var")
    async with transaction(sessions) as session:
        rows = (await session.execute(select(Thread).order_by(col(Thread.id)))).scalars().all()
        await merges.merge(session, survivor_id=rows[5].customer_id, absorbed_id=rows[6].customer_id, actor="test")
    await check()


async def _families_counted(session: AsyncSession) -> views.FamilyCounts:
    """The per-channel, per-team and per-tag counts the slow way: counting the open threads."""
    is_open = col(Thread.status) == Status.open
    channel = (await session.execute(select(col(Thread.last_inbound_channel), func.count()).where(
        is_open, col(Thread.last_inbound_channel) != "").group_by(col(Thread.last_inbound_channel)))).all()
    team = (await session.execute(select(col(Thread.team_id), func.count()).where(
        is_open, col(Thread.team_id).is_not(None)).group_by(col(Thread.team_id)))).all()
    tag = (await session.execute(select(col(CaseTag.tag_id), func.count()).join(
        Thread, col(Thread.case_id) == col(CaseTag.case_id)).where(is_open).group_by(col(CaseTag.tag_id)))).all()
    return views.FamilyCounts(channel={str(k): int(n) for k, n in channel}, team={int(k): int(n) for k, n in team},
                              tag={int(k): int(n) for k, n in tag})


async def test_channel_team_and_tag_counts_follow_every_change(sessions, ingest_config) -> None:
    for who in range(6):
        await _write(sessions, ingest_config, who, "merhaba")

    async def check() -> views.FamilyCounts:
        async with sessions() as session:
            found, expected = (await views.overview(session, user_id=0)).families, await _families_counted(session)
        assert found == expected
        return found

    assert (await check()).channel == {"whatsapp": 6}
    async with transaction(sessions) as session:
        kargo, iade = await teams.create(session, name="Kargo"), await teams.create(session, name="İade")
        vip, late = await tags.create(session, name="vip"), await tags.create(session, name="gecikme")
        rows = (await session.execute(select(Thread).order_by(col(Thread.id)))).scalars().all()
        await threads.assign(session, rows[0], assignee_id=None, team_id=kargo.id)
        await threads.assign(session, rows[1], assignee_id=None, team_id=kargo.id)
        await tags.set_case_tags(session, rows[0].case_id or 0, [vip.id or 0, late.id or 0])
        await tags.set_case_tags(session, rows[2].case_id or 0, [vip.id or 0])
    counts = await check()
    assert counts.team == {kargo.id: 2} and counts.tag == {vip.id: 2, late.id: 1}
    async with transaction(sessions) as session:
        rows = (await session.execute(select(Thread).order_by(col(Thread.id)))).scalars().all()
        await threads.assign(session, rows[1], assignee_id=None, team_id=iade.id)  # moves between teams
        await threads.set_status(session, rows[0], status=Status.resolved)  # leaves every open view
        await tags.set_case_tags(session, rows[2].case_id or 0, [late.id or 0])  # one tag off, another on
        await tags.remove(session, vip.id or 0)
    counts = await check()
    assert counts.team == {iade.id: 1} and counts.tag == {late.id: 1}
    # The resolved customer writes again: a new case, without the old case's tags.
    await _write(sessions, ingest_config, 0, "yine ben")
    async with transaction(sessions) as session:
        rows = (await session.execute(select(Thread).order_by(col(Thread.id)))).scalars().all()
        await merges.merge(session, survivor_id=rows[3].customer_id, absorbed_id=rows[4].customer_id, actor="test")
    counts = await check()
    assert counts.tag == {late.id: 1} and counts.channel == {"whatsapp": 5}
