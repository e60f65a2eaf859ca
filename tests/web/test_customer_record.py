"""A customer's data rights over HTTP: export from the sidebar and the API, erase by an admin only after
typing the name; and the order numbers a customer writes, linked to their orders in the thread."""

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import httpx
import pytest

from inbox import canned
from inbox.agents.models import Role
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.threads import service as threads
from tests.customer_record import NAME, WHATSAPP_TEXT, personal_data_left, seed
from tests.factories import make_order
from tests.ui.steps import customer_writes
from tests.waiting import until
from tests.web.users import signed_in

# Who writes in on WhatsApp: (phone, name).
SULE = ("+905321112233", "Şule Çelik")
STRANGER = ("+905329998877", "Mehmet Kaya")


async def _thread_of(sessions, customer_id: int) -> int:
    async with sessions() as session:
        return (await threads.for_customer(session, customer_id)).id or 0


async def _name_of(sessions, customer_id: int) -> str:
    async with sessions() as session:
        return (await customers.get(session, customer_id)).name


def _record_in(response: httpx.Response) -> dict:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return json.loads(archive.read("customer.json"))


class TestExportFromTheSidebar:
    async def test_an_agent_downloads_the_zip_and_no_copy_stays_on_the_server(
            self, server, sessions, ingest_config, app_settings) -> None:
        seeded = await seed(sessions, ingest_config)
        thread_id = await _thread_of(sessions, seeded.customer_id)
        agent = await signed_in(server, sessions, Role.agent)
        page = await agent.get(f"/inbox/threads/{thread_id}")
        assert f'href="/inbox/threads/{thread_id}/customer/export"' in page.text
        # An agent may export, but the erase form is an admin's.
        assert "/customer/erase" not in page.text

        response = await agent.get(f"/inbox/threads/{thread_id}/customer/export")
        await agent.aclose()
        assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert f'customer-{seeded.customer_id}.zip' in response.headers["content-disposition"]
        record = _record_in(response)
        assert WHATSAPP_TEXT in [m["text"] for m in record["messages"]]
        # Deleted once sent, which is just after the last byte left.
        async def _gone() -> bool:
            return list((app_settings.data_dir / "exports").iterdir()) == []

        await until(_gone, within=5)

    @pytest.mark.parametrize("role", [None, Role.store], ids=["anonymous", "store"])
    async def test_store_staff_and_strangers_get_nothing(self, server, sessions, ingest_config, role) -> None:
        seeded = await seed(sessions, ingest_config)
        thread_id = await _thread_of(sessions, seeded.customer_id)
        client = await signed_in(server, sessions, role) if role else httpx.AsyncClient(base_url=server)
        response = await client.get(f"/inbox/threads/{thread_id}/customer/export", follow_redirects=False)
        await client.aclose()
        assert response.status_code in (303, 403) and b"PK" not in response.content[:2]


class TestEraseFromTheSidebar:
    async def test_an_admin_erases_after_typing_the_name(self, server, sessions, ingest_config) -> None:
        seeded = await seed(sessions, ingest_config)
        thread_id = await _thread_of(sessions, seeded.customer_id)
        admin = await signed_in(server, sessions, Role.admin, headers={"HX-Request": "true"})
        page = await admin.get(f"/inbox/threads/{thread_id}")
        assert f'hx-post="/inbox/threads/{thread_id}/customer/erase' in page.text
        assert f"Type “{NAME}” or ERASE to confirm" in page.text

        wrong = await admin.post(f"/inbox/threads/{thread_id}/customer/erase", data={"confirm": "Ayşe"})
        assert wrong.status_code == 422 and await _name_of(sessions, seeded.customer_id) == NAME

        done = await admin.post(f"/inbox/threads/{thread_id}/customer/erase", data={"confirm": "ayşe yılmaz"})
        await admin.aclose()
        assert done.status_code == 200
        assert "This customer&#39;s personal data was erased." in done.text
        assert WHATSAPP_TEXT not in done.text and NAME not in done.text
        async with sessions() as session:
            assert await personal_data_left(session) == []

    async def test_an_agent_cannot_erase(self, server, sessions, ingest_config) -> None:
        seeded = await seed(sessions, ingest_config)
        thread_id = await _thread_of(sessions, seeded.customer_id)
        agent = await signed_in(server, sessions, Role.agent)
        response = await agent.post(f"/inbox/threads/{thread_id}/customer/erase", data={"confirm": "ERASE"})
        await agent.aclose()
        assert response.status_code == 403 and await _name_of(sessions, seeded.customer_id) == NAME

    async def test_a_post_without_the_csrf_token_erases_nothing(self, server, sessions, ingest_config) -> None:
        seeded = await seed(sessions, ingest_config)
        thread_id = await _thread_of(sessions, seeded.customer_id)
        admin = await signed_in(server, sessions, Role.admin)
        del admin.headers["X-CSRF-Token"]
        response = await admin.post(f"/inbox/threads/{thread_id}/customer/erase", data={"confirm": "ERASE"})
        await admin.aclose()
        assert response.status_code == 403 and await _name_of(sessions, seeded.customer_id) == NAME


class TestApi:
    async def test_export_and_erase_with_a_bearer_token(self, api, sessions, ingest_config) -> None:
        seeded = await seed(sessions, ingest_config)
        exported = await api.get(f"/api/v1/customers/{seeded.customer_id}/export")
        assert exported.status_code == 200 and exported.headers["content-disposition"].startswith("attachment;")
        assert _record_in(exported)["customer"]["name"] == NAME

        unconfirmed = await api.post(f"/api/v1/customers/{seeded.customer_id}/erase", json={})
        assert unconfirmed.status_code == 422 and await _name_of(sessions, seeded.customer_id) == NAME
        erased = await api.post(f"/api/v1/customers/{seeded.customer_id}/erase", json={"confirm": "ERASE"})
        assert erased.status_code == 200
        body = erased.json()
        assert body["customer_id"] == seeded.customer_id and body["counts"]["customers"] == 2
        async with sessions() as session:
            assert await personal_data_left(session) == []

    async def test_without_a_token_nothing_is_exported_or_erased(self, server, sessions, ingest_config) -> None:
        seeded = await seed(sessions, ingest_config)
        async with httpx.AsyncClient(base_url=server) as stranger:
            assert (await stranger.get(f"/api/v1/customers/{seeded.customer_id}/export")).status_code == 401
            response = await stranger.post(f"/api/v1/customers/{seeded.customer_id}/erase",
                                           json={"confirm": "ERASE"})
        assert response.status_code == 401 and await _name_of(sessions, seeded.customer_id) == NAME


class TestOrderMentions:
    async def test_a_mentioned_order_links_to_it_in_the_sidebar(self, server, sessions, ingest_config) -> None:
        customer_id = await customer_writes(sessions, ingest_config, "SM1", *SULE, "Merhaba")
        async with transaction(sessions) as session:
            order = await make_order(session, customer_id=customer_id, external_id="e-1042", number="1042",
                                     placed_at=datetime(2026, 11, 1, tzinfo=UTC))
            # Eleven newer orders: 1042 is past what the sidebar lists, and is shown because it was mentioned.
            for n in range(11):
                await make_order(session, customer_id=customer_id, external_id=f"e-2{n}", number=f"2{n:03}",
                                 placed_at=datetime(2026, 11, 10 + n, tzinfo=UTC))
        await customer_writes(sessions, ingest_config, "SM2", *SULE, "sipariş 1042'yi ne zaman alırım <b>#9999</b>")
        agent = await signed_in(server, sessions, Role.agent)
        page = await agent.get(f"/inbox/threads/{await _thread_of(sessions, customer_id)}")
        await agent.aclose()
        link = re.search(r'<a class="order-mention" href="#order-(\d+)"[^>]*>([^<]*)</a>([^<]*)', page.text)
        assert link is not None
        assert link.groups() == (str(order.id), "sipariş 1042", "&#39;yi ne zaman alırım &lt;b&gt;#9999&lt;/b&gt;")
        assert f'id="order-{order.id}"' in page.text
        # Nobody's order 9999: plain text, escaped.
        assert page.text.count("order-mention") == 1

    async def test_someone_elses_order_number_is_not_linked(self, server, sessions, ingest_config) -> None:
        stranger = await customer_writes(sessions, ingest_config, "SM9", *STRANGER, "Merhaba")
        async with transaction(sessions) as session:
            await make_order(session, customer_id=stranger, external_id="e-777", number="777")
        customer_id = await customer_writes(sessions, ingest_config, "SM1", *SULE, "order #777 nerede?")
        agent = await signed_in(server, sessions, Role.agent)
        page = await agent.get(f"/inbox/threads/{await _thread_of(sessions, customer_id)}")
        await agent.aclose()
        assert "order #777 nerede?" in page.text and "order-mention" not in page.text

    async def test_a_canned_reply_fills_the_mentioned_order(self, server, sessions, ingest_config) -> None:
        customer_id = await customer_writes(sessions, ingest_config, "SM1", *SULE, "siparis no: 1042 kargoda mı?")
        async with transaction(sessions) as session:
            await make_order(session, customer_id=customer_id, external_id="e-1042", number="1042",
                             placed_at=datetime(2026, 11, 1, tzinfo=UTC))
            await make_order(session, customer_id=customer_id, external_id="e-1050", number="1050",
                             placed_at=datetime(2026, 11, 20, tzinfo=UTC))
            await canned.save(session, shortcut="kargo", title="Kargo", body="Siparişiniz {{order.number}} yolda.")
        agent = await signed_in(server, sessions, Role.agent)
        thread_id = await _thread_of(sessions, customer_id)
        response = await agent.get(f"/inbox/threads/{thread_id}/canned", params={"q": "kargo"})
        await agent.aclose()
        assert 'data-insert="Siparişiniz 1042 yolda."' in response.text
