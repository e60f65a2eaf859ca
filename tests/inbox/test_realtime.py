import asyncio
import random
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.db import make_sessionmaker, transaction
from inbox.realtime import LocalHub, RedisHub, emit, events_since, thread_topic
from tests.conftest import TEST_REDIS_URL


class TestEmit:
    async def test_published_only_after_commit(self, sessions: async_sessionmaker[AsyncSession],
                                               hub: LocalHub) -> None:
        subscription = hub.subscribe()
        async with transaction(sessions) as session:
            event_id = await emit(session, "thread.updated", thread_id=7)
            await asyncio.sleep(0.05)
            assert subscription.queue.empty()
        received = await subscription.get(wait=5)
        assert (received["id"], received["kind"], received["thread_id"]) == (event_id, "thread.updated", 7)

    async def test_rolled_back_change_is_never_heard_of(self, sessions: async_sessionmaker[AsyncSession],
                                                        hub: LocalHub) -> None:
        subscription = hub.subscribe()
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as session:
                await emit(session, "thread.updated", thread_id=1)
                raise RuntimeError("agent action failed")
        async with transaction(sessions) as session:
            kept = await emit(session, "thread.updated", thread_id=2)
        received = await subscription.get(wait=5)
        assert received["id"] == kept and received["thread_id"] == 2

    async def test_sequence_numbers_rise(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        ids = []
        for n in range(5):
            async with transaction(sessions) as session:
                ids.append(await emit(session, "x", thread_id=n))
        assert ids == sorted(ids) and len(set(ids)) == 5


class TestCatchUp:
    async def test_reconnecting_client_gets_everything_after_its_last_id(
            self, sessions: async_sessionmaker[AsyncSession]) -> None:
        ids = []
        for n in range(10):
            async with transaction(sessions) as session:
                ids.append(await emit(session, "message.created", thread_id=n))
        async with sessions() as session:
            replay = await events_since(session, ids[3])
        # The replay may start a little earlier (clients drop ids they have), never later.
        replayed = [e["id"] for e in replay]
        assert set(ids[4:]) <= set(replayed)
        assert replayed == sorted(replayed)


class TestTopics:
    async def test_a_topic_event_reaches_only_its_topic_and_a_thread_event_its_watchers_too(
            self, hub: LocalHub) -> None:
        # Ids no other test uses: with Redis, every process on the server shares one channel.
        mine, others = f"webchat:visitor:{uuid.uuid4().hex}", f"webchat:visitor:{uuid.uuid4().hex}"
        thread_id = random.randrange(10**9, 2 * 10**9)
        everything = hub.subscribe()
        visitor = hub.subscribe(topics={mine, thread_topic(thread_id)})
        other = hub.subscribe(topics={others, thread_topic(thread_id + 1)})
        hub.publish({"topic": mine, "frame": {"type": "message"}})
        hub.publish({"id": None, "kind": "presence", "thread_id": thread_id, "data": {}})
        assert [e.get("topic") for e in [await visitor.get(wait=5), await visitor.get(wait=5)]] == [mine, None]
        # The agents' sockets hear the thread's event, never a visitor's own frames.
        heard = await everything.get(wait=5)
        while heard.get("thread_id") != thread_id:
            assert heard.get("topic") != mine
            heard = await everything.get(wait=5)
        assert other.queue.empty()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")
class TestRedisHub:
    async def test_an_event_committed_in_one_process_reaches_another(self, engine) -> None:  # type: ignore[no-untyped-def]
        publisher, listener = RedisHub(TEST_REDIS_URL), RedisHub(TEST_REDIS_URL)
        await publisher.start()
        await listener.start()
        try:
            subscription = listener.subscribe()
            async with transaction(make_sessionmaker(engine, hub=publisher)) as session:
                event_id = await emit(session, "message.created", thread_id=42)
            while True:
                received = await subscription.get(wait=5)
                if received["id"] == event_id:
                    break
            assert received["thread_id"] == 42
        finally:
            await publisher.stop()
            await listener.stop()

    async def test_installations_on_two_databases_of_one_redis_do_not_hear_each_other(self, engine) -> None:  # type: ignore[no-untyped-def]
        base = TEST_REDIS_URL.rsplit("/", 1)[0]
        ours, theirs = RedisHub(f"{base}/14"), RedisHub(f"{base}/15")
        await ours.start()
        await theirs.start()
        try:
            heard_by_them, heard_by_us = theirs.subscribe(), ours.subscribe()
            async with transaction(make_sessionmaker(engine, hub=ours)) as session:
                event_id = await emit(session, "message.created", thread_id=7)
            while (await heard_by_us.get(wait=5))["id"] != event_id:
                pass
            with pytest.raises(asyncio.TimeoutError):
                while True:
                    assert (await heard_by_them.get(wait=0.5))["id"] != event_id
        finally:
            await ours.stop()
            await theirs.stop()
