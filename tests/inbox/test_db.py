from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import col

from inbox.db import after_commit, insert_many, utcnow
from inbox.driver_sql import held_writes
from inbox.realtime import LiveEvent
from inbox.search import SearchDoc


class TestAfterCommit:
    async def test_a_released_savepoint_waits_for_the_real_commit(self, sessions) -> None:
        ran: list[str] = []
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            async with session.begin_nested():
                after_commit(session, lambda: ran.append("wake"))
            # The worker would find nothing yet: the row is not committed.
            assert ran == []
            await session.commit()
        assert ran == ["wake"]

    async def test_a_rolled_back_savepoint_drops_only_what_it_registered(self, sessions) -> None:
        ran: list[str] = []
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            after_commit(session, lambda: ran.append("before"))
            try:
                async with session.begin_nested():
                    after_commit(session, lambda: ran.append("refused"))
                    raise ValueError("refused")
            except ValueError:
                pass
            await session.commit()
        assert ran == ["before"]

    async def test_a_rollback_drops_everything(self, sessions) -> None:
        ran: list[str] = []
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            after_commit(session, lambda: ran.append("wake"))
            await session.rollback()
            await session.commit()
        assert ran == []


class TestInsertMany:
    async def test_more_rows_than_one_sqlite_statement_takes_all_come_back_in_order(self, sessions) -> None:
        # 5 columns × 7,000 rows is more than SQLite's 32,766 parameters: the rows go in several statements.
        at = datetime(2026, 12, 3, 9, 30, tzinfo=timezone(timedelta(hours=3)))
        rows = [{"at": at, "kind": f"k{i}", "thread_id": i, "customer_id": None, "data": {"n": i, "ş": "ğ"}}
                for i in range(7000)]
        async with sessions() as session:
            returned = await insert_many(session, LiveEvent, rows, returning=("id", "kind"))
            await session.commit()
        assert [row.kind for row in returned] == [f"k{i}" for i in range(7000)]
        async with sessions() as session:
            stored = (await session.execute(select(LiveEvent).order_by(col(LiveEvent.id)))).scalars().all()
        assert len(stored) == 7000
        # Values go through the columns' own conversions: the time as UTC, the JSON as JSON.
        assert stored[6999].at == datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
        assert stored[6999].data == {"n": 6999, "ş": "ğ"}
        assert [event.id for event in stored] == [row.id for row in returned]

    async def test_rows_with_nothing_to_return_are_all_written(self, sessions) -> None:
        async with sessions() as session:
            returned = await insert_many(session, SearchDoc, [
                {"kind": "message", "ref_id": i, "customer_id": 1, "body": f"istanbul {i}", "at": utcnow()}
                for i in range(3)], returning=())
            await session.commit()
        assert returned == []
        async with sessions() as session:
            bodies = (await session.execute(select(SearchDoc.body).order_by(col(SearchDoc.ref_id)))).scalars().all()
        assert bodies == ["istanbul 0", "istanbul 1", "istanbul 2"]


class TestHeldWrites:
    @staticmethod
    def _statements(sessions) -> list[str]:
        sent: list[str] = []
        event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: sent.append(statement))
        return sent

    @staticmethod
    def _docs(first: int, texts: list[str]) -> list[dict]:
        return [{"kind": "message", "ref_id": first + i, "customer_id": 1, "body": body, "at": utcnow()}
                for i, body in enumerate(texts)]

    async def test_writes_go_with_the_next_statement_that_returns_rows_each_with_its_own_values(
            self, sessions, db_url) -> None:
        sent = self._statements(sessions)
        async with sessions() as session, held_writes(session):
            await insert_many(session, SearchDoc, self._docs(1, ["istanbul", "izmir"]), returning=())
            await insert_many(session, SearchDoc, self._docs(3, ["ankara"]), returning=())
            before = len(sent)
            returned = await insert_many(session, LiveEvent, [
                {"at": utcnow(), "kind": kind, "thread_id": None, "customer_id": None, "data": {"k": kind}}
                for kind in ("a", "b")], returning=("id", "kind"))
            writes = [statement for statement in sent if statement.startswith(("INSERT", "WITH"))]
            await session.commit()
        assert [row.kind for row in returned] == ["a", "b"]
        async with sessions() as session:
            docs = (await session.execute(
                select(SearchDoc.ref_id, SearchDoc.body).order_by(col(SearchDoc.ref_id)))).all()
            events = (await session.execute(select(LiveEvent.kind, LiveEvent.data).order_by(col(LiveEvent.id)))).all()
        assert [tuple(doc) for doc in docs] == [(1, "istanbul"), (2, "izmir"), (3, "ankara")]
        assert [tuple(row) for row in events] == [("a", {"k": "a"}), ("b", {"k": "b"})]
        if db_url.startswith("postgresql"):
            # Nothing went to the server until the statement with rows to return, and then all of it at once.
            assert before == 0 and len(writes) == 1 and writes[0].startswith("WITH held_0 AS (INSERT INTO search_doc")
        else:
            assert len(writes) == 3

    async def test_what_is_still_held_when_the_block_ends_is_written_then(self, sessions) -> None:
        async with sessions() as session:
            async with held_writes(session):
                await insert_many(session, SearchDoc, self._docs(1, ["bursa"]), returning=())
            await session.commit()
        async with sessions() as session:
            assert (await session.execute(select(SearchDoc.body))).scalars().all() == ["bursa"]

    async def test_a_block_that_fails_sends_nothing_it_held(self, sessions, db_url) -> None:
        sent = self._statements(sessions)
        async with sessions() as session:
            with pytest.raises(ValueError):
                async with held_writes(session):
                    await insert_many(session, SearchDoc, self._docs(1, ["konya"]), returning=())
                    raise ValueError("the caller gives up")
            await session.rollback()
        # SQLite has no round trip to save: there the statement ran at once, and was rolled back.
        assert len([statement for statement in sent if statement.startswith("INSERT")]) == (
            0 if db_url.startswith("postgresql") else 1)
        async with sessions() as session:
            assert (await session.execute(select(SearchDoc.body))).scalars().all() == []


class TestLostConnections:
    async def test_after_the_server_drops_every_connection_one_statement_fails_and_the_rest_reconnect(
            self, engine) -> None:
        # PostgreSQL engines do not ping a connection at every checkout (a round trip per request):
        # a restart costs the statement that meets a dead connection, and that invalidates the
        # whole pool, so the connections still pooled are replaced rather than each failing once.
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no server to lose")
        async with engine.connect() as a, engine.connect() as b, engine.connect() as c:
            pids = [(await each.execute(text("SELECT pg_backend_pid()"))).scalar_one() for each in (a, b, c)]
        outside = create_async_engine(engine.url, poolclass=NullPool)
        try:
            async with outside.connect() as killer:
                await killer.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
                                     {"pids": pids})
        finally:
            await outside.dispose()
        failed = 0
        for _ in range(6):
            try:
                async with engine.connect() as connection:
                    assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
            except DBAPIError as error:
                assert error.connection_invalidated
                failed += 1
        assert failed <= 1
