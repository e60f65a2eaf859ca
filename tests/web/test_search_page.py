"""The search page as an agent's browser gets it: grouped hits, Turkish-aware, highlighted, linked to the thread."""

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.threads import service as threads
from tests.factories import make_order
from tests.ui.steps import customer_writes, message_written
from tests.web.users import signed_in


@pytest.fixture
async def agent(server, sessions) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(server, sessions, Role.agent)
    yield client
    await client.aclose()


def _group(page: str, kind: str) -> str:
    found = re.search(rf'<section class="card search-group" id="results-{kind}".*?</section>', page, re.S)
    assert found, f"no {kind} group"
    return found.group(0)


def _hits(group: str) -> list[str]:
    return re.findall(r'<li class="hit.*?</li>', group, re.S)


class TestTurkish:
    async def test_isik_typed_without_turkish_keys_finds_and_marks_isik(self, agent, sessions,
                                                                        ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik",
                              "Işık yanmıyor, lamba arızalı")
        page = (await agent.get("/search", params={"q": "ISIK"})).text
        [hit] = _hits(_group(page, "message"))
        assert "<mark>Işık</mark> yanmıyor, lamba arızalı" in hit
        assert "Şule Çelik" in hit and "channel-whatsapp" in hit

    async def test_iade_finds_the_dotted_capital_and_the_customer_by_name(self, agent, sessions,
                                                                          ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "İlker Işıklı", "İADE istiyorum")
        page = (await agent.get("/search", params={"q": "iade"})).text
        assert "<mark>İADE</mark> istiyorum" in _group(page, "message")
        customers = (await agent.get("/search", params={"q": "ilker isikli"})).text
        [hit] = _hits(_group(customers, "customer"))
        assert "<mark>İlker</mark> <mark>Işıklı</mark>" in hit


class TestCustomers:
    async def test_a_phone_number_in_any_format_finds_the_customer(self, agent, sessions, ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "merhaba")
        for typed in ("0532 123 45 67", "+90 532 123 4567", "05321234567"):
            page = (await agent.get("/search", params={"q": typed})).text
            assert "Şule Çelik" in _group(page, "customer"), typed

    async def test_an_email_in_any_case_finds_the_customer(self, agent, sessions, ingest_config) -> None:
        async with transaction(sessions) as tx:
            customer = await customers.create(tx, name="Ayşe Yılmaz")
            await customers.add_identity(tx, customer_id=customer.id or 0, channel=Channel.email,
                                         kind=AddressKind.email, address="ayse@example.com", verified=True)
        page = (await agent.get("/search", params={"q": "AYSE@Example.com"})).text
        assert "Ayşe Yılmaz" in re.sub(r"</?mark>", "", _group(page, "customer"))


class TestLinks:
    async def test_each_group_links_to_its_thread_the_message_and_the_order(self, agent, sessions,
                                                                            ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Kargo Kerem", "kargo 1042 nerede")
        message_id, thread_id = await message_written(sessions, "kargo 1042 nerede")
        async with transaction(sessions) as tx:
            customer_id = (await threads.get(tx, thread_id)).customer_id
            order = await make_order(tx, customer_id=customer_id, external_id="shop-1042", number="1042",
                                     total="249.90")
        page = (await agent.get("/search", params={"q": "kargo"})).text
        assert f'href="/inbox/threads/{thread_id}?message={message_id}"' in _group(page, "message")
        assert f'href="/inbox/threads/{thread_id}"' in _group(page, "customer")
        by_number = (await agent.get("/search", params={"q": "#1042"})).text
        [hit] = _hits(_group(by_number, "order"))
        assert f'href="/inbox/threads/{thread_id}#order-{order.id}"' in hit
        assert "#<mark>1042</mark>" in hit and "₺249.90" in hit
        # The landing page carries the anchor the order link points at, and the message it opens on.
        thread = (await agent.get(f"/inbox/threads/{thread_id}", params={"message": message_id})).text
        assert f'id="order-{order.id}"' in thread
        assert re.search(rf'<li class="message inbound landed" data-message-id="{message_id}"', thread)


class TestSafety:
    async def test_hostile_text_and_queries_stay_text(self, agent, sessions, ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "<script>alert(1)</script>",
                              "<img src=x onerror=alert(2)> iade lütfen")
        page = (await agent.get("/search", params={"q": "iade"})).text
        group = _group(page, "message")
        assert "<img" not in group and "<script>alert" not in page
        assert "&lt;img src=x onerror=alert(2)&gt; <mark>iade</mark> lütfen" in group
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in group
        echoed = (await agent.get("/search", params={"q": '"><script>alert(3)</script>'})).text
        assert "<script>alert(3)" not in echoed and "&lt;script&gt;alert(3)&lt;/script&gt;" in echoed

    async def test_a_query_too_long_is_refused(self, agent) -> None:
        assert (await agent.get("/search", params={"q": "x" * 201})).status_code == 422


class TestEmptyAndMore:
    async def test_an_empty_query_says_what_can_be_searched(self, agent) -> None:
        page = (await agent.get("/search")).text
        assert "Search customers, messages and orders" in page and "search-group" not in page

    async def test_no_hits_get_advice(self, agent, sessions, ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Ayşe", "merhaba")
        page = (await agent.get("/search", params={"q": "zzzyok"})).text
        assert "No matches for “zzzyok”" in page and "The start of a word is enough" in page

    async def test_more_than_a_page_shows_20_plus_and_a_link_to_the_rest(self, agent, sessions,
                                                                         ingest_config) -> None:
        for n in range(23):
            await customer_writes(sessions, ingest_config, f"SM{n}", "+905321234567", "Ayşe", f"kargo gecikti {n}")
        page = (await agent.get("/search", params={"q": "kargo"})).text
        group = _group(page, "message")
        assert len(_hits(group)) == 20 and '<span class="count">20+</span>' in group
        assert "kargo</mark> gecikti 22" in _hits(group)[0]
        more = re.search(r'<a class="more" href="([^"]+)"', group)
        assert more
        rest = (await agent.get(html.unescape(more.group(1)))).text
        assert re.findall(r"gecikti (\d+)", _group(rest, "message")) == ["2", "1", "0"]
        assert "results-customer" not in rest and 'class="more"' not in rest

    async def test_the_turkish_page_is_turkish(self, server, sessions) -> None:
        admin = await signed_in(server, sessions, Role.admin)
        try:
            page = (await admin.get("/search", params={"q": "yok"}, headers={"Accept-Language": "tr-TR"})).text
        finally:
            await admin.aclose()
        assert "“yok” için sonuç yok" in page
