"""A thread's history in pages: the newest, older ones, newer ones, and the window around one message."""

from datetime import UTC, datetime, timedelta

import pytest

from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.errors import Invalid, NotFound
from inbox.events import Direction, InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.threads import conversation
from inbox.threads import service as threads

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OPENED = "case opened"


async def _long_thread(sessions, ingest_config, count: int, *, phone: str = "+905321234567") -> tuple[int, list[int]]:
    """A thread of `count` messages, oldest first; messages 100 to 104 share one minute, as bursts do."""
    sender = Party(f"whatsapp:{phone}", AddressKind.phone, True, "Ayşe")
    async with transaction(sessions) as tx:
        first = await ingest(tx, InboundMessage(Channel.whatsapp, f"{phone}-0", sender, text="mesaj 0",
                                                provider_at=START), config=ingest_config)
        thread = await threads.get(tx, first.thread_id or 0)
        ids = await messages.append_many(tx, [
            (thread, messages.NewMessage(direction=Direction.inbound, channel=Channel.whatsapp, text=f"mesaj {n}",
                                         provider_id=f"{phone}-{n}",
                                         provider_at=START + timedelta(minutes=min(n, 100) + max(n - 104, 0))))
            for n in range(1, count)])
    return first.thread_id or 0, [first.message_id or 0, *(i or 0 for i in ids)]


def _texts(pane: conversation.Conversation) -> list[str]:
    return [m.text for m in pane.messages]


class TestLoad:
    async def test_the_newest_page_comes_first_with_a_cursor_to_older(self, sessions, session, ingest_config) -> None:
        thread_id, _ = await _long_thread(sessions, ingest_config, 120)
        pane = await conversation.load(session, await threads.get(session, thread_id), limit=50)
        assert _texts(pane) == [f"mesaj {n}" for n in range(70, 120)]
        assert pane.older is not None and pane.newer is None and pane.around is None

    async def test_older_pages_walk_back_to_the_first_message_without_gaps_or_repeats(self, sessions, session,
                                                                                      ingest_config) -> None:
        thread_id, _ = await _long_thread(sessions, ingest_config, 120)
        thread = await threads.get(session, thread_id)
        pane = await conversation.load(session, thread, limit=30)
        seen = _texts(pane)
        while pane.older:
            pane = await conversation.load(session, thread, limit=30, before=pane.older)
            seen = _texts(pane) + seen
        # Messages 100-104 share a timestamp: the id breaks the tie, so none is lost at a page edge.
        # The "case opened" line sits at the first message's own time, just before it.
        assert seen == [OPENED] + [f"mesaj {n}" for n in range(120)]

    async def test_around_a_message_opens_on_it_with_history_both_ways(self, sessions, session,
                                                                       ingest_config) -> None:
        thread_id, ids = await _long_thread(sessions, ingest_config, 300)
        thread = await threads.get(session, thread_id)
        pane = await conversation.load(session, thread, limit=50, around=ids[102])
        assert pane.around == ids[102]
        assert _texts(pane) == [f"mesaj {n}" for n in range(77, 127)]
        assert pane.older is not None and pane.newer is not None

    async def test_newer_pages_from_an_around_window_reach_the_newest_message(self, sessions, session,
                                                                              ingest_config) -> None:
        thread_id, ids = await _long_thread(sessions, ingest_config, 200)
        thread = await threads.get(session, thread_id)
        pane = await conversation.load(session, thread, limit=40, around=ids[30])
        seen = _texts(pane)
        while pane.newer:
            pane = await conversation.load(session, thread, limit=40, after=pane.newer)
            seen += _texts(pane)
        assert seen == [f"mesaj {n}" for n in range(10, 200)]

    async def test_around_the_first_or_the_newest_message_fills_the_window_from_the_other_side(
            self, sessions, session, ingest_config) -> None:
        thread_id, ids = await _long_thread(sessions, ingest_config, 120)
        thread = await threads.get(session, thread_id)
        first = await conversation.load(session, thread, limit=50, around=ids[0])
        assert _texts(first)[:2] == [OPENED, "mesaj 0"] and first.older is None and first.newer is not None
        newest = await conversation.load(session, thread, limit=50, around=ids[-1])
        assert _texts(newest)[-1] == "mesaj 119" and newest.newer is None and newest.older is not None

    async def test_a_message_of_another_thread_is_not_found(self, sessions, session, ingest_config) -> None:
        thread_id, _ = await _long_thread(sessions, ingest_config, 3)
        _, others = await _long_thread(sessions, ingest_config, 3, phone="+905329876543")
        with pytest.raises(NotFound):
            await conversation.load(session, await threads.get(session, thread_id), around=others[1])

    async def test_a_forged_cursor_is_invalid_input(self, sessions, session, ingest_config) -> None:
        thread_id, _ = await _long_thread(sessions, ingest_config, 3)
        with pytest.raises(Invalid):
            await conversation.load(session, await threads.get(session, thread_id), after="not-a-cursor")
