"""Name lookups after the commit, against a loopback server that answers like the Graph API."""

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.messenger import Adapter
from adapters.messenger.settings import MessengerSettings
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.customers.names import NAMED, NameLookups
from inbox.db import transaction
from inbox.realtime import LocalHub
from inbox.search import search_customer_ids
from inbox.threads import service as threads
from tests.fakes.graph_api import APP_SECRET, PAGE_TOKEN, VERIFY_TOKEN, GraphFake, running
from tests.waiting import until

PSID = "7123456789012345"
OTHER = "7123456789099999"


def messenger(base_url: str) -> Adapter:
    return Adapter(MessengerSettings(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,  # type: ignore[arg-type]
                                     page_access_token=PAGE_TOKEN, graph_base_url=base_url))


@pytest.fixture
async def graph() -> AsyncIterator[GraphFake]:
    async with running() as fake:
        fake.profiles[PSID] = {"first_name": "Ayşe", "last_name": "Yılmaz"}
        fake.profiles[OTHER] = {"first_name": "Mehmet", "last_name": "Kaya"}
        yield fake


@pytest.fixture
async def adapter(graph: GraphFake) -> AsyncIterator[Adapter]:
    made = messenger(graph.base_url)
    yield made
    await made.aclose()


@pytest.fixture
async def lookups(sessions: async_sessionmaker[AsyncSession], adapter: Adapter) -> AsyncIterator[NameLookups]:
    made = NameLookups(sessions, {Channel.messenger: adapter.sender_name})
    await made.start()
    yield made
    await made.stop()


async def _sender(sessions: async_sessionmaker[AsyncSession], address: str, *, name: str = "") -> int:
    """A customer as ingest makes one for a Messenger sender: thread, identity, search document."""
    async with transaction(sessions) as session:
        customer = await customers.create(session, name=name)
        assert customer.id is not None
        await customers.add_identity(session, customer_id=customer.id, channel=Channel.messenger,
                                     kind=AddressKind.handle, address=address, verified=True)
        return customer.id


async def _name(sessions: async_sessionmaker[AsyncSession], customer_id: int) -> str:
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return customer.name


class TestNameLookups:
    async def test_a_sender_queued_twice_is_looked_up_once_and_named_and_found_by_name(
            self, sessions, lookups: NameLookups, graph: GraphFake) -> None:
        customer_id = await _sender(sessions, PSID)
        for _ in range(3):
            lookups.want(channel=Channel.messenger, address=PSID, customer_id=customer_id)

        async def named() -> bool:
            return await _name(sessions, customer_id) == "Ayşe Yılmaz"

        await until(named)
        assert graph.lookups == [PSID]
        async with sessions() as session:
            assert await search_customer_ids(session, "ayse yilmaz", limit=5) == [customer_id]

    async def test_many_senders_are_named_in_one_go(self, sessions, lookups: NameLookups, graph: GraphFake) -> None:
        first, second = await _sender(sessions, PSID), await _sender(sessions, OTHER)
        lookups.want(channel=Channel.messenger, address=PSID, customer_id=first)
        lookups.want(channel=Channel.messenger, address=OTHER, customer_id=second)

        async def both() -> bool:
            return (await _name(sessions, first), await _name(sessions, second)) == ("Ayşe Yılmaz", "Mehmet Kaya")

        await until(both)
        assert sorted(graph.lookups) == sorted([PSID, OTHER])

    async def test_an_agent_named_customer_is_not_looked_up_or_renamed(self, sessions, lookups: NameLookups,
                                                                       graph: GraphFake) -> None:
        named = await _sender(sessions, PSID, name="Ayşe (kargo)")
        unnamed = await _sender(sessions, OTHER)
        lookups.want(channel=Channel.messenger, address=PSID, customer_id=named)
        lookups.want(channel=Channel.messenger, address=OTHER, customer_id=unnamed)

        async def other_named() -> bool:
            return await _name(sessions, unnamed) == "Mehmet Kaya"

        await until(other_named)
        assert graph.lookups == [OTHER]
        assert await _name(sessions, named) == "Ayşe (kargo)"

    async def test_the_inbox_hears_of_the_name(self, sessions, lookups: NameLookups, hub: LocalHub) -> None:
        customer_id = await _sender(sessions, PSID)
        async with sessions() as session:
            thread_id = (await threads.for_customer(session, customer_id)).id
        subscription = hub.subscribe()
        lookups.want(channel=Channel.messenger, address=PSID, customer_id=customer_id)
        event = await asyncio.wait_for(subscription.get(), 10)
        assert (event["kind"], event["customer_id"], event["thread_id"], event["data"]) == (
            NAMED, customer_id, thread_id, {"name": "Ayşe Yılmaz"})

    async def test_a_failed_lookup_is_logged_and_leaves_the_customer_unnamed(
            self, sessions, caplog: pytest.LogCaptureFixture) -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        unreachable = messenger(f"http://127.0.0.1:{port}")
        made = NameLookups(sessions, {Channel.messenger: unreachable.sender_name})
        customer_id = await _sender(sessions, PSID)
        await made.start()
        try:
            with caplog.at_level(logging.WARNING):
                made.want(channel=Channel.messenger, address=PSID, customer_id=customer_id)

                async def logged() -> bool:
                    return "profile lookup failed: ConnectError" in caplog.text

                await until(logged)
        finally:
            await made.stop()
            await unreachable.aclose()
        assert await _name(sessions, customer_id) == ""

    async def test_a_full_backlog_drops_new_senders_and_says_so(self, sessions, adapter: Adapter, graph: GraphFake,
                                                               caplog: pytest.LogCaptureFixture) -> None:
        made = NameLookups(sessions, {Channel.messenger: adapter.sender_name}, backlog=1)
        first, second = await _sender(sessions, PSID), await _sender(sessions, OTHER)
        with caplog.at_level(logging.WARNING):
            made.want(channel=Channel.messenger, address=PSID, customer_id=first)
            made.want(channel=Channel.messenger, address=OTHER, customer_id=second)
        assert made.dropped == 1 and "backlog is full" in caplog.text
        await made.start()
        try:
            async def first_named() -> bool:
                return await _name(sessions, first) == "Ayşe Yılmaz"

            await until(first_named)
        finally:
            await made.stop()
        assert graph.lookups == [PSID] and await _name(sessions, second) == ""

    async def test_channels_without_a_lookup_are_not_queued(self, sessions, lookups: NameLookups) -> None:
        lookups.want(channel=Channel.telegram, address=PSID, customer_id=1)
        lookups.want(channel=Channel.whatsapp, address="+905321234567", customer_id=2)
        assert lookups.dropped == 0 and lookups.pending == 0


class TestNameIfUnknown:
    async def test_names_only_the_nameless_and_keeps_what_an_agent_typed(self, sessions) -> None:
        typed, nameless = await _sender(sessions, PSID, name="Ayşe (kargo)"), await _sender(sessions, OTHER)
        async with transaction(sessions) as session:
            named = await customers.name_if_unknown(session, {typed: "Ayşe Yılmaz", nameless: "  Mehmet   Kaya "})
        assert [(n.customer_id, n.name) for n in named] == [(nameless, "Mehmet Kaya")]
        assert (await _name(sessions, typed), await _name(sessions, nameless)) == ("Ayşe (kargo)", "Mehmet Kaya")
        async with sessions() as session:
            assert await customers.unnamed(session, [typed, nameless]) == set()
