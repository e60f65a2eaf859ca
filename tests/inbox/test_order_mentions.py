"""Order numbers in what a customer writes: found however they are written, and only ever their own."""

from datetime import UTC, datetime

import pytest

from inbox import canned
from inbox.db import transaction
from inbox.orders import mentions
from tests.factories import make_order
from tests.ui.steps import customer_writes

# Who writes in on WhatsApp: (phone, name).
SULE = ("+905321112233", "Şule Çelik")
STRANGER = ("+905329998877", "Mehmet Kaya")


class TestSpans:
    @pytest.mark.parametrize("text", [
        "#1042", "sipariş 1042'yi ne zaman alırım", "siparis no: 1042", "SİPARİŞ NO: 1042", "order 1042",
        "Order #1042 nerede?", "ORDER NO. 1042", "siparişim 1042 gelmedi", "sipariş numarası 1042",
        "Siparis #1042",
    ])
    def test_every_way_of_writing_it_names_the_number(self, text: str) -> None:
        assert [span.number for span in mentions.spans(text)] == ["1042"]

    @pytest.mark.parametrize("text", ["telefonum 05321234567", "abc#1042", "x1042", "10420 TL", "orders 1042"])
    def test_numbers_that_are_not_order_mentions_are_left_alone(self, text: str) -> None:
        assert mentions.spans(text) == []

    def test_two_mentions_in_one_message_are_both_found(self) -> None:
        assert [s.number for s in mentions.spans("sipariş #1042 ve #1043 aynı kargoda mı?")] == ["1042", "1043"]


class TestParts:
    def test_only_a_known_number_becomes_a_link_and_the_rest_stays_text(self) -> None:
        text = "<b>sipariş 1042</b> ve #999"
        assert mentions.parts(text, {"1042": 7}) == [("<b>", None), ("sipariş 1042", 7), ("</b> ve #999", None)]

    def test_text_without_mentions_comes_back_whole(self) -> None:
        assert mentions.parts("Merhaba", {"1042": 7}) == [("Merhaba", None)]
        assert mentions.parts("", {}) == [("", None)]


class TestCannedOrder:
    async def test_the_mentioned_order_wins_over_a_newer_one(self, sessions, ingest_config) -> None:
        customer_id = await customer_writes(sessions, ingest_config, "SM1", *SULE, "Merhaba")
        async with transaction(sessions) as session:
            await make_order(session, customer_id=customer_id, external_id="e-1042", number="1042", status="shipped",
                             placed_at=datetime(2026, 11, 1, tzinfo=UTC))
            await make_order(session, customer_id=customer_id, external_id="e-1050", number="1050", status="paid",
                             placed_at=datetime(2026, 11, 20, tzinfo=UTC))
        async with sessions() as session:
            assert (await canned.values_for(session, customer_id))["order.number"] == "1050"
        await customer_writes(sessions, ingest_config, "SM2", *SULE, "sipariş 1042'yi ne zaman alırım")
        async with sessions() as session:
            values = await canned.values_for(session, customer_id)
        assert (values["order.number"], values["order.status"]) == ("1042", "shipped")

    async def test_another_customers_order_number_is_not_used(self, sessions, ingest_config) -> None:
        stranger = await customer_writes(sessions, ingest_config, "SM9", *STRANGER, "Merhaba")
        customer_id = await customer_writes(sessions, ingest_config, "SM1", *SULE, "Merhaba")
        async with transaction(sessions) as session:
            await make_order(session, customer_id=stranger, external_id="e-777", number="777")
            await make_order(session, customer_id=customer_id, external_id="e-1050", number="1050")
        await customer_writes(sessions, ingest_config, "SM2", *SULE, "#777 benim siparişim")
        async with sessions() as session:
            assert (await canned.values_for(session, customer_id))["order.number"] == "1050"
