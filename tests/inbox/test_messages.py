from sqlalchemy import select

from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import Direction, InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.threads import service as threads


class TestAppendMany:
    async def test_ids_match_their_messages_when_some_were_stored_already(self, sessions, session, ingest_config):
        sender = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe")
        async with transaction(sessions) as tx:
            first = await ingest(tx, InboundMessage(Channel.whatsapp, "SM1", sender, text="one"), config=ingest_config)
        async with transaction(sessions) as tx:
            thread = await threads.get(tx, first.thread_id or 0)

            def new(provider_id: str | None, text: str) -> messages.NewMessage:
                return messages.NewMessage(direction=Direction.inbound, channel=Channel.whatsapp, text=text,
                                           provider_id=provider_id)

            ids = await messages.append_many(tx, [(thread, new("SM2", "two")), (thread, new("SM1", "one again")),
                                                  (thread, new(None, "no id")), (thread, new("SM2", "two again")),
                                                  (thread, new("SM3", "three"))])
        assert [message_id is None for message_id in ids] == [False, True, False, True, False]
        stored = {row.id: row.text for row in await session.execute(select(Message.id, Message.text))}
        assert [stored[message_id] for message_id in ids if message_id is not None] == ["two", "no id", "three"]
        row = await threads.get(session, first.thread_id or 0)
        assert (row.last_preview, row.unread_count) == ("three", 4)
