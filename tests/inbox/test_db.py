from sqlalchemy import text

from inbox.db import after_commit


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
