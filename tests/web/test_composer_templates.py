"""The composer after WhatsApp's 24-hour window: it offers the approved templates, fills them, sends one."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from inbox import templates
from inbox.agents.models import Role
from inbox.db import transaction
from inbox.messages.models import Message
from inbox.threads import service as threads
from tests.factories import make_order
from tests.web.test_composer import _customer
from tests.web.users import signed_in

SID = "HX" + "0123456789abcdef" * 2
SHIPPED = "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi."
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def agent(server, sessions):
    client = await signed_in(server, sessions, Role.agent, name="Ayşe Demir", headers=HTMX)
    yield client
    await client.aclose()


async def _template(web_app) -> int:
    async with transaction(web_app.state.sessions) as session:
        return (await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr",
                                     body=SHIPPED)).id or 0


def _picker(html: str) -> str:
    found = re.search(r'<div class="template-picker" data-window-channel="whatsapp"[^>]*>(.*?)</div>\s*\n', html, re.S)
    return found.group(1) if found else ""


class TestPicker:
    async def test_a_closed_window_offers_the_templates(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        template_id = await _template(web_app)
        page = await agent.get(f"/inbox/threads/{thread_id}")
        assert f'<option value="{template_id}">siparis_kargoda · tr</option>' in _picker(page.text)
        assert "Write a note, or wait" not in page.text, "the template is the way on"

    async def test_an_open_window_offers_none(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(hours=2))
        await _template(web_app)
        page = await agent.get(f"/inbox/threads/{thread_id}")
        assert "template-picker" not in page.text and "siparis_kargoda" not in page.text

    async def test_without_templates_an_admin_is_pointed_at_the_admin_page(self, server, web_app, sessions, agent,
                                                                           ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        told = _picker((await agent.get(f"/inbox/threads/{thread_id}")).text)
        assert "An admin can add them under Admin → Templates." in told and "/admin/templates" not in told
        admin = await signed_in(server, sessions, Role.admin, headers=HTMX)
        linked = _picker((await admin.get(f"/inbox/threads/{thread_id}")).text)
        await admin.aclose()
        assert '<a href="/admin/templates">Add them under Admin → Templates.</a>' in linked

    async def test_in_turkish(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        await _template(web_app)
        page = await agent.get(f"/inbox/threads/{thread_id}", headers={"Accept-Language": "tr"})
        assert "Bunun yerine onaylı bir şablon gönderin" in _picker(page.text)


class TestFields:
    async def test_one_input_per_placeholder_filled_from_the_customer(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        template_id = await _template(web_app)
        async with transaction(web_app.state.sessions) as session:
            thread = await threads.get(session, thread_id)
            await make_order(session, customer_id=thread.customer_id, external_id="1002")
        fragment = await agent.get(f"/inbox/threads/{thread_id}/template", params={"template_id": template_id})
        assert fragment.status_code == 200 and SHIPPED in fragment.text
        assert re.findall(r'name="(var_\d+)" value="([^"]*)"', fragment.text) == [("var_1", "Şule"),
                                                                                 ("var_2", "1002")]

    async def test_no_choice_clears_them(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        fragment = await agent.get(f"/inbox/threads/{thread_id}/template", params={"template_id": ""})
        assert fragment.status_code == 200 and fragment.text == ""


class TestSend:
    async def test_the_thread_shows_the_filled_text_and_the_text_box_is_ignored(self, web_app, agent,
                                                                                ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        template_id = await _template(web_app)
        sent = await agent.post(f"/inbox/threads/{thread_id}/template", data={
            "template_id": str(template_id), "var_1": "Şule", "var_2": "1002", "text": "taslak", "kind": "reply"})
        assert sent.status_code == 200
        assert "Merhaba Şule, 1002 numaralı siparişiniz kargoya verildi." in sent.text
        async with web_app.state.sessions() as session:
            stored = (await session.execute(select(Message).where(Message.direction == "outbound"))).scalar_one()
        assert stored.extra["template"] == {"name": "siparis_kargoda", "content_sid": SID,
                                            "variables": {"1": "Şule", "2": "1002"}}

    async def test_an_empty_variable_is_refused_in_the_flash_region(self, web_app, agent, ingest_config) -> None:
        thread_id = await _customer(web_app, ingest_config, ago=timedelta(days=2))
        template_id = await _template(web_app)
        refused = await agent.post(f"/inbox/threads/{thread_id}/template",
                                   data={"template_id": str(template_id), "var_1": "Şule", "var_2": ""})
        assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#flash"
        assert "{{2}} is empty" in refused.text
        async with web_app.state.sessions() as session:
            assert (await session.execute(select(Message).where(Message.direction == "outbound"))).first() is None
