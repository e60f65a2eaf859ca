import re
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers import links
from inbox.customers import service as customers
from inbox.customers.models import Identity
from inbox.db import transaction
from inbox.events import InboundMessage, LinkOpened, Party
from inbox.ingest import IngestConfig, Ingested
from inbox.ingest_batch import ingest_many
from inbox.messages.models import Message
from inbox.threads import service as threads

SECRET = "link-secret-for-tests"
AYSE_WA = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
AYSE_TG = Party("512345678", AddressKind.handle, True, "Ayşe Y.")


class TestSignAndVerify:
    def test_a_signed_payload_verifies_to_its_customer_and_fits_telegrams_start(self) -> None:
        payload = links.sign(1234567, secret=SECRET)
        assert links.verify(payload, secret=SECRET) == 1234567
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)

    @pytest.mark.parametrize("tamper", [
        lambda p: "1235" + p[4:],                     # another customer's id
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),  # one character of the signature
        lambda p: p[:-2],                             # cut short
        lambda p: "order_1002",                       # something typed
        lambda p: p + "x",
    ])
    def test_anything_altered_does_not_verify(self, tamper) -> None:  # type: ignore[no-untyped-def]
        assert links.verify(tamper(links.sign(1234, secret=SECRET)), secret=SECRET) is None

    def test_another_secret_or_none_does_not_verify(self) -> None:
        payload = links.sign(7, secret=SECRET)
        assert links.verify(payload, secret="other") is None
        assert links.verify(payload, secret="") is None

    def test_signing_without_a_secret_is_refused(self) -> None:
        with pytest.raises(ValueError, match="LINK_SECRET"):
            links.sign(7, secret="")


async def _ingest(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, *events) -> list[Ingested]:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        return await ingest_many(session, list(events), config=config)


async def _thread_texts(session: AsyncSession, customer_id: int) -> list[str]:
    thread = await threads.for_customer(session, (await customers.get(session, customer_id)).id or 0)
    return list((await session.execute(select(Message.text).where(Message.thread_id == thread.id)
                                       .order_by(Message.at, Message.id))).scalars())


@pytest.fixture
def config(ingest_config: IngestConfig) -> IngestConfig:
    return replace(ingest_config, link_secret=SECRET)


class TestLinkOpened:
    async def test_a_new_chat_joins_the_linked_customers_thread(self, sessions, session, config) -> None:
        [known] = await _ingest(sessions, config, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba"))
        payload = links.sign(known.customer_id or 0, secret=SECRET)
        [linked] = await _ingest(sessions, config, LinkOpened(Channel.telegram, "512345678:1", AYSE_TG, payload,
                                                              f"/start {payload}"))
        [later] = await _ingest(sessions, config, InboundMessage(Channel.telegram, "512345678:2", AYSE_TG,
                                                                 text="Telegram'dan yazıyorum"))
        assert linked.outcome == "stored" and linked.customer_id == known.customer_id
        assert later.customer_id == known.customer_id and later.thread_id == known.thread_id
        texts = await _thread_texts(session, known.customer_id or 0)
        assert "telegram chat of Ayşe Y. linked to this customer by the shop's link" in texts
        assert not any(text.startswith("/start") for text in texts)

    async def test_a_chat_that_wrote_before_the_link_is_merged_into_the_linked_customer(
            self, sessions, session, config) -> None:
        [known] = await _ingest(sessions, config, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba"))
        [stranger] = await _ingest(sessions, config, InboundMessage(Channel.telegram, "512345678:1", AYSE_TG,
                                                                    text="kargom nerede"))
        assert stranger.customer_id != known.customer_id
        payload = links.sign(known.customer_id or 0, secret=SECRET)
        # In one batch with a message after it: the batch must see the merge.
        linked, after = await _ingest(
            sessions, config, LinkOpened(Channel.telegram, "512345678:2", AYSE_TG, payload, f"/start {payload}"),
            InboundMessage(Channel.telegram, "512345678:3", AYSE_TG, text="teşekkürler"))
        assert linked.customer_id == known.customer_id and after.customer_id == known.customer_id
        assert (await customers.get(session, stranger.customer_id or 0)).id == known.customer_id
        texts = await _thread_texts(session, known.customer_id or 0)
        assert {"Merhaba", "kargom nerede", "teşekkürler"} <= set(texts)

    async def test_a_tampered_link_is_an_ordinary_message_and_joins_no_one(self, sessions, session, config) -> None:
        [known] = await _ingest(sessions, config, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba"))
        forged = links.sign(known.customer_id or 0, secret="guessed")
        [result] = await _ingest(sessions, config, LinkOpened(Channel.telegram, "512345678:1", AYSE_TG, forged,
                                                              f"/start {forged}"))
        assert result.outcome == "stored" and result.customer_id != known.customer_id
        stored = (await session.execute(select(Message).where(Message.provider_id == "512345678:1"))).scalar_one()
        assert (stored.direction, stored.text) == ("inbound", f"/start {forged}")

    async def test_without_a_link_secret_every_link_is_an_ordinary_message(
            self, sessions, session, ingest_config) -> None:
        [known] = await _ingest(sessions, ingest_config, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="a"))
        payload = links.sign(known.customer_id or 0, secret=SECRET)
        [result] = await _ingest(sessions, ingest_config, LinkOpened(Channel.telegram, "512345678:1", AYSE_TG,
                                                                     payload, f"/start {payload}"))
        assert result.customer_id != known.customer_id

    async def test_the_same_link_update_twice_is_stored_once(self, sessions, session, config) -> None:
        [known] = await _ingest(sessions, config, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="a"))
        payload = links.sign(known.customer_id or 0, secret=SECRET)
        event = LinkOpened(Channel.telegram, "512345678:1", AYSE_TG, payload, f"/start {payload}")
        first = await _ingest(sessions, config, event)
        second = await _ingest(sessions, config, event)
        assert [r.outcome for r in first + second] == ["stored", "duplicate"]
        identities = (await session.execute(select(Identity).where(Identity.channel == "telegram"))).scalars().all()
        assert [(i.address, i.customer_id) for i in identities] == [("512345678", known.customer_id)]
