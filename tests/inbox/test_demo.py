"""The demo shop. Seeding takes seconds and these tests only read what it made, so the module
shares one seeded database (the last test seeds it a second time, which must change nothing)."""

import asyncio
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox import canned, models, replies, tags, templates
from inbox.agents import service as agents
from inbox.agents import teams
from inbox.channels import Channel
from inbox.customers import service as customers
from inbox.customers.models import Identity, MergeSuggestion
from inbox.db import is_sqlite, make_engine, make_sessionmaker, metadata
from inbox.demo import DEMO_PASSWORD, DemoSummary, seed
from inbox.files import FileStore
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.orders import service as orders
from inbox.orders.models import Order
from inbox.preferences.models import Preference
from inbox.threads.models import Thread
from inbox.windows import WindowClosed


@dataclass(frozen=True)
class Shop:
    url: str
    files: FileStore
    summary: DemoSummary


async def _seed_empty(url: str, files: FileStore) -> DemoSummary:
    engine = make_engine(url)
    try:
        if not is_sqlite(url):
            tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            async with engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return await seed(make_sessionmaker(engine), region="TR", files=files)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def shop(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    # Not conftest's per-test database: on PostgreSQL its fixtures would empty this one between tests.
    root = tmp_path_factory.mktemp("demo")
    url = migrated_url
    if is_sqlite(migrated_url):
        shutil.copy(migrated_url.split("///", 1)[1], root / "onethread.db")
        url = f"sqlite+aiosqlite:///{root / 'onethread.db'}"
    files = FileStore(Path(root) / "attachments", max_bytes=5 * 1024 * 1024)
    return Shop(url, files, asyncio.run(_seed_empty(url, files)))


@pytest.fixture
async def shop_sessions(shop: Shop) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(shop.url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def reader(shop_sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with shop_sessions() as opened:
        yield opened


async def _channels_by_customer(session: AsyncSession) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for customer_id, channel in (await session.execute(select(col(Identity.customer_id), col(Identity.channel)))):
        found[customer_id].add(channel)
    return found


async def _row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {str(table.__tablename__): int((await session.execute(
                    select(func.count()).select_from(table))).scalar_one())
                for table in (models.Customer, models.Identity, models.Message, models.Order, models.OrderLine,
                              models.User, models.MergeSuggestion, models.Preference, models.Consent, models.Team,
                              models.TeamMember, models.Tag, models.CannedResponse, models.MessageTemplate)}


class TestSeed:
    async def test_a_shop_of_about_fifty_customers_with_messages_and_orders(self, shop, reader) -> None:
        assert not shop.summary.already_seeded
        assert 45 <= shop.summary.customers <= 55
        assert shop.summary.customers == await customers.count(reader)
        assert shop.summary.messages > 2 * shop.summary.customers and shop.summary.orders >= 20
        statuses = set((await reader.execute(select(col(Thread.status)))).scalars())
        assert {"open", "pending", "resolved"} <= statuses
        assert (await reader.execute(select(func.count()).where(col(Thread.assignee_id).is_not(None)))).scalar_one()

    async def test_customers_on_several_channels_write_into_one_thread(self, reader) -> None:
        several = {customer_id: channels for customer_id, channels in (await _channels_by_customer(reader)).items()
                   if len(channels) >= 2}
        assert len(several) >= 5
        for customer_id, channels in several.items():
            history = await messages.history(reader, customer_id, limit=200)
            assert {m.channel for m in history.messages if m.direction == "inbound"} == channels

    async def test_a_three_channel_thread_reads_in_the_order_it_was_written(self, reader) -> None:
        [ayse] = await customers.lookup(reader, "Ayşe Yılmaz", region="TR")
        history = await messages.history(reader, ayse.id or 0, limit=200)
        said = [m for m in history.messages if m.direction == "inbound"]
        assert said[0].text.startswith("Kargom nerede?")
        assert [m.channel for m in said] == ["whatsapp", "phone", "telegram", "telegram"]
        assert [m.at for m in said] == sorted(m.at for m in said)

    async def test_a_visitor_who_typed_someone_elses_email_is_only_suggested(self, reader) -> None:
        suggestions = (await reader.execute(
            select(MergeSuggestion).where(col(MergeSuggestion.status) == "open"))).scalars().all()
        assert suggestions
        channels = await _channels_by_customer(reader)
        for suggestion in suggestions:
            pair = {frozenset(channels[suggestion.customer_id]), frozenset(channels[suggestion.other_id])}
            assert frozenset({"webchat"}) in pair and any("email" in each for each in pair)

    async def test_orders_are_mostly_in_lira_with_lines(self, reader) -> None:
        placed = (await reader.execute(select(Order))).scalars().all()
        currencies = [order.currency for order in placed]
        assert currencies.count("TRY") > len(placed) / 2 and {"EUR", "USD"} <= set(currencies)
        for order in placed:
            lines = await orders.lines_of(reader, order.id or 0)
            assert lines and order.total == sum(line.price * line.quantity for line in lines)
            assert (await messages.history(reader, order.customer_id, limit=1)).messages, order.number
        assert any(order.tracking_url for order in placed if order.status == "shipped")

    async def test_stated_preferences_point_at_the_message_that_said_them(self, reader) -> None:
        stated = (await reader.execute(select(Preference).where(col(Preference.source) == "stated"))).scalars().all()
        assert stated
        for preference in stated:
            message = await reader.get(Message, preference.source_message_id)
            thread = await reader.get(Thread, message.thread_id) if message else None
            assert message is not None and thread is not None
            assert (message.direction, message.channel) == ("inbound", preference.source_channel)
            assert thread.customer_id == preference.customer_id and message.at == preference.stated_at

    async def test_demo_users_sign_in_with_the_demo_password(self, shop, reader) -> None:
        for email, role in shop.summary.users:
            user = await agents.authenticate(reader, email=email, password=DEMO_PASSWORD)
            assert user is not None and user.role == role

    async def test_teams_tags_and_canned_responses_for_the_agents(self, reader) -> None:
        by_name = {team.name: team for team in await teams.all_teams(reader)}
        assert set(by_name) == {"Kargo", "İadeler"}
        assert {user.email for user in await teams.members(reader, by_name["Kargo"].id or 0)} == {
            "ayse.agent@demo.onethread", "mehmet.agent@demo.onethread"}
        assert {tag.name for tag in await tags.all_tags(reader)} == {"kargo", "iade", "vip", "değişim"}
        responses = await canned.all_responses(reader)
        assert len(responses) == 3 and all("{{customer.first_name}}" in response.body for response in responses)

    async def test_a_failed_whatsapp_reply_leaves_the_templates_to_send(self, reader) -> None:
        [omer] = await customers.lookup(reader, "Ömer Yıldız", region="TR")
        history = await messages.history(reader, omer.id or 0, limit=200)
        [failed] = [m for m in history.messages if m.direction == "outbound" and m.delivery_status == "failed"]
        assert failed.error and failed.error.startswith("63016")
        with pytest.raises(WindowClosed):
            await replies.queue_reply(reader, customer_id=omer.id or 0, channel=Channel.whatsapp, text="Merhaba")
        names = [t.name for t in await templates.all_templates(reader, channel=Channel.whatsapp)]
        assert names == ["order_shipped", "siparis_kargoda", "yanit_bekliyor"]

    async def test_seeding_again_changes_nothing(self, shop, shop_sessions) -> None:
        before = await _row_counts(shop_sessions)
        again = await seed(shop_sessions, region="TR", files=shop.files)
        assert again.already_seeded
        assert (again.customers, again.messages, again.orders) == (
            shop.summary.customers, shop.summary.messages, shop.summary.orders)
        assert await _row_counts(shop_sessions) == before
