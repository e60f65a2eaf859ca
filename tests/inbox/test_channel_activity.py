"""The last event per channel: one tiny row per channel, written by the ingest batch, never a message scan."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from inbox import channel_activity
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import DeliveryStatus, DeliveryUpdate, InboundMessage, Party
from inbox.ingest_batch import ingest_many

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _message(provider_id: str, phone: str) -> InboundMessage:
    return InboundMessage(Channel.whatsapp, provider_id, Party(f"whatsapp:{phone}", AddressKind.phone, True, "Şule"),
                          text="Kargom nerede?")


async def test_a_batch_records_each_channel_it_saw_once(sessions, engine, ingest_config) -> None:
    upserts: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if "channel_activity" in statement:
            upserts.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with transaction(sessions) as session:
            await ingest_many(session, [_message(f"SM{i}", f"+90532123456{i}") for i in range(5)]
                              + [DeliveryUpdate(Channel.whatsapp, "SMx", DeliveryStatus.delivered)],
                              config=ingest_config)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(upserts) == 1
    async with sessions() as session:
        assert set(await channel_activity.last_events(session)) == {"whatsapp"}


async def test_within_a_second_of_a_commit_the_row_is_left_alone(sessions) -> None:
    async with transaction(sessions) as session:
        await channel_activity.record(session, [Channel.email], at=T0)
    async with transaction(sessions) as session:
        await channel_activity.record(session, [Channel.email, Channel.telegram], at=T0 + timedelta(milliseconds=500))
    async with sessions() as session:
        assert await channel_activity.last_events(session) == {"email": T0,
                                                               "telegram": T0 + timedelta(milliseconds=500)}
    async with transaction(sessions) as session:
        await channel_activity.record(session, [Channel.email], at=T0 + timedelta(seconds=2))
    async with sessions() as session:
        assert (await channel_activity.last_events(session))["email"] == T0 + timedelta(seconds=2)


async def test_a_rolled_back_record_is_written_again(sessions) -> None:
    async with sessions() as session:
        await channel_activity.record(session, [Channel.email], at=T0)
        await session.rollback()
    async with transaction(sessions) as session:
        await channel_activity.record(session, [Channel.email], at=T0 + timedelta(milliseconds=10))
    async with sessions() as session:
        assert await channel_activity.last_events(session) == {"email": T0 + timedelta(milliseconds=10)}


async def test_the_newest_time_replaces_the_old_one(session) -> None:
    await channel_activity.record(session, [Channel.email], at=T0)
    await channel_activity.record(session, [Channel.email, Channel.telegram], at=T0 + timedelta(minutes=5))
    assert await channel_activity.last_events(session) == {"email": T0 + timedelta(minutes=5),
                                                           "telegram": T0 + timedelta(minutes=5)}
