from datetime import timedelta

import pytest

from inbox.agents import presence, signin
from inbox.agents.models import Role
from inbox.agents.service import create_user
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.events import DeliveryStatus, InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.replies import queue_reply
from inbox.visitors import service as visitors
from inbox.visitors.tokens import TICKET_LIFETIME

SECRET = b"test secret key"
AYSE_EMAIL = "ayse.yilmaz@example.net"


async def _start(session, token: str = "", shopper: Party | None = None, client: str = "c1"):
    return await visitors.start(session, secret=SECRET, token=token, shopper=shopper, client=client, region="TR",
                                now=utcnow())


async def _writes(sessions, ingest_config, visitor, text: str, client_msg_id: str):
    async with transaction(sessions) as session:
        return await ingest(session, InboundMessage(Channel.webchat, client_msg_id, visitors.party(visitor),
                                                    text=text), config=ingest_config)


class TestStart:
    async def test_a_returning_browser_keeps_its_visitor_and_a_tampered_token_does_not(self, session) -> None:
        first = await _start(session)
        again = await _start(session, first.token)
        assert again.visitor.id == first.visitor.id and again.ticket != first.ticket
        key, signature = first.token.split(".")
        forged = f"{key}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}"
        assert (await _start(session, forged)).visitor.id != first.visitor.id
        assert first.visitor.address == f"visitor:{first.visitor.key}" and not first.visitor.verified

    async def test_a_signed_in_shoppers_token_opens_nothing_once_they_signed_out(self, session) -> None:
        shopper = Party(AYSE_EMAIL, AddressKind.email, True, "Ayşe Yılmaz")
        signed = await _start(session, shopper=shopper)
        assert (signed.visitor.address, signed.visitor.verified) == (AYSE_EMAIL, True)
        assert (await _start(session, signed.token, shopper=shopper)).visitor.id == signed.visitor.id
        signed_out = await _start(session, signed.token)
        assert signed_out.visitor.id != signed.visitor.id and not signed_out.visitor.verified

    async def test_one_address_cannot_mint_visitors_without_end(self, session) -> None:
        for _ in range(visitors.NEW_VISITORS_PER_HOUR):
            await _start(session, client="bot")
        with pytest.raises(visitors.TooManyVisitors):
            await _start(session, client="bot")
        await _start(session, client="someone else")


class TestRedeem:
    async def test_a_ticket_opens_one_socket_and_never_a_second(self, session) -> None:
        started = await _start(session)
        opened = await visitors.redeem(session, secret=SECRET, ticket=started.ticket, now=utcnow())
        assert opened is not None and opened.id == started.visitor.id
        assert await visitors.redeem(session, secret=SECRET, ticket=started.ticket, now=utcnow()) is None

    async def test_forged_and_expired_tickets_open_nothing(self, session) -> None:
        started = await _start(session)
        key, number, expires, signature = started.ticket.split(".")
        for forged in (f"{key}.{int(number) + 1}.{expires}.{signature}", f"{key}.{number}.{expires}.{'0' * 64}",
                       started.token):
            assert await visitors.redeem(session, secret=SECRET, ticket=forged, now=utcnow()) is None
        later = utcnow() + TICKET_LIFETIME + timedelta(seconds=1)
        assert await visitors.redeem(session, secret=SECRET, ticket=started.ticket, now=later) is None


class TestHistory:
    async def test_a_visitor_reads_only_its_own_chat(self, sessions, ingest_config) -> None:
        async with transaction(sessions) as session:
            mine, theirs = (await _start(session)).visitor, (await _start(session)).visitor
        await _writes(sessions, ingest_config, mine, "Merhaba, kargom nerede?", "m-1")
        await _writes(sessions, ingest_config, theirs, "Benim şifrem 1234", "t-1")
        async with sessions() as session:
            seen = await visitors.history(session, await visitors.identity_of(session, mine))
            assert [m.text for m in seen.messages] == ["Merhaba, kargom nerede?"]
            assert (await visitors.history(session, None)).messages == []

    async def test_replies_show_once_they_were_handed_on(self, sessions, ingest_config) -> None:
        async with transaction(sessions) as session:
            visitor = (await _start(session)).visitor
        written = await _writes(sessions, ingest_config, visitor, "Merhaba", "m-1")
        async with transaction(sessions) as session:
            await visitors.mark_online(session, [visitor.id or 0], until=utcnow() + visitors.ONLINE_FOR)
            reply = await queue_reply(session, customer_id=written.customer_id or 0, channel=Channel.webchat,
                                      text="Hoş geldiniz")
        async with sessions() as session:
            identity = await visitors.identity_of(session, visitor)
            assert [m.text for m in (await visitors.history(session, identity)).messages] == ["Merhaba"]
            await messages.apply_delivery(session, await messages.get(session, reply.id or 0),
                                          status=DeliveryStatus.sent, error=None)
            assert [m.text for m in (await visitors.history(session, identity)).messages] == [
                "Merhaba", "Hoş geldiniz"]


class TestContact:
    async def test_an_email_typed_into_the_widget_is_claimed_and_suggests_the_owner(self, sessions,
                                                                                    ingest_config) -> None:
        async with transaction(sessions) as session:
            owner = await ingest(session, InboundMessage(Channel.email, "<m1@example.net>", Party(
                AYSE_EMAIL, AddressKind.email, True, "Ayşe Yılmaz"), text="Merhaba"), config=ingest_config)
            visitor = (await _start(session)).visitor
            identity = await visitors.give_contact(session, visitor, name="Ayşe", email=AYSE_EMAIL.upper(), phone="",
                                                   region="TR")
        async with sessions() as session:
            assert identity.customer_id != owner.customer_id
            assert [s.other_id for s in await customers.open_suggestions(session, identity.customer_id)] == [
                identity.customer_id]
            assert (await customers.get(session, identity.customer_id)).name == "Ayşe"


class TestReplyWhenTheVisitorLeft:
    async def _visitor_with_email(self, sessions, ingest_config, *, email: str = "can@example.net"):
        async with transaction(sessions) as session:
            visitor = (await _start(session)).visitor
        written = await _writes(sessions, ingest_config, visitor, "Beden tablosu var mı?", "m-1")
        if email:
            async with transaction(sessions) as session:
                await visitors.give_contact(session, visitor, name="", email=email, phone="", region="TR")
        return visitor, written.customer_id or 0

    async def test_a_reply_to_a_visitor_who_left_goes_by_email(self, sessions, ingest_config) -> None:
        _visitor, customer_id = await self._visitor_with_email(sessions, ingest_config)
        async with transaction(sessions) as session:
            reply = await queue_reply(session, customer_id=customer_id, channel=Channel.webchat, text="Var, ekte")
        async with sessions() as session:
            identity = await customers.find_identity(session, channel=Channel.webchat, address="can@example.net")
        assert identity is not None
        assert (reply.channel, reply.identity_id, reply.extra) == ("email", identity.id, {"instead_of": "webchat"})

    async def test_while_the_widget_is_open_it_stays_in_the_chat(self, sessions, ingest_config) -> None:
        visitor, customer_id = await self._visitor_with_email(sessions, ingest_config)
        async with transaction(sessions) as session:
            await visitors.mark_online(session, [visitor.id or 0], until=utcnow() + visitors.ONLINE_FOR)
            reply = await queue_reply(session, customer_id=customer_id, channel=Channel.webchat, text="Var, ekte")
        assert (reply.channel, reply.extra) == ("webchat", {})

    async def test_with_no_email_known_it_waits_in_the_chat(self, sessions, ingest_config) -> None:
        _visitor, customer_id = await self._visitor_with_email(sessions, ingest_config, email="")
        async with transaction(sessions) as session:
            reply = await queue_reply(session, customer_id=customer_id, channel=Channel.webchat, text="Var")
        assert reply.channel == "webchat"


class TestAgentsOnline:
    async def test_online_while_a_live_socket_keeps_the_session_marked(self, session) -> None:
        now = utcnow()
        await create_user(session, email="ayse@shop.example", password="long-enough", role=Role.agent)
        await create_user(session, email="store@shop.example", password="long-enough", role=Role.store)
        agent = await signin.sign_in(session, email="ayse@shop.example", password="long-enough", client="t")
        store = await signin.sign_in(session, email="store@shop.example", password="long-enough", client="t")
        assert agent and store
        agent_session = await signin.signed_in(session, agent[0])
        store_session = await signin.signed_in(session, store[0])
        assert agent_session and store_session
        await presence.mark_live(session, [store_session.session_id], until=now + presence.LIVE_FOR)
        assert not await presence.agents_online(session, now=now)
        await presence.mark_live(session, [agent_session.session_id], until=now + presence.LIVE_FOR)
        assert await presence.agents_online(session, now=now)
        assert not await presence.agents_online(session, now=now + presence.LIVE_FOR)
        await presence.mark_live(session, [agent_session.session_id], until=None)
        assert not await presence.agents_online(session, now=now)
