"""The admin's Templates page over real HTTP: each change persists, each refusal writes nothing and says why."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.templates import MessageTemplate
from tests.web.test_admin import HTML, _count
from tests.web.users import browser_for, make_user

SID = "HX" + "0123456789abcdef" * 2
SHIPPED = "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi."


@pytest.fixture
async def admin(server: str, sessions) -> AsyncIterator[httpx.AsyncClient]:
    client = await browser_for(server, await make_user(sessions, Role.admin, name="Deniz Kara"), headers=HTML)
    yield client
    await client.aclose()


async def _only(sessions) -> MessageTemplate:
    async with sessions() as session:
        return (await session.execute(select(MessageTemplate))).scalar_one()


class TestTemplates:
    async def test_add_edit_and_delete(self, admin, sessions) -> None:
        page = await admin.get("/admin/templates")
        assert page.status_code == 200 and 'href="/admin/templates" aria-current="page"' in page.text
        assert "Twilio console" in page.text and "No templates yet" in page.text
        made = await admin.post("/admin/templates", data={"name": "siparis_kargoda", "language": "tr",
                                                          "content_sid": f" {SID} ", "body": SHIPPED})
        assert made.status_code == 303 and made.headers["location"] == "/admin/templates?saved=1"
        template = await _only(sessions)
        assert (template.name, template.content_sid, template.channel) == ("siparis_kargoda", SID, "whatsapp")
        listed = await admin.get("/admin/templates?saved=1")
        assert "Saved." in listed.text and "<code>siparis_kargoda</code>" in listed.text
        edited = await admin.post(f"/admin/templates/{template.id}", data={
            "name": "siparis_kargoda", "language": "en", "content_sid": SID, "body": "Hi {{1}}, order {{2}} shipped."})
        assert edited.status_code == 303
        assert (await _only(sessions)).body == "Hi {{1}}, order {{2}} shipped."
        assert (await admin.post(f"/admin/templates/{template.id}/delete")).status_code == 303
        assert await _count(sessions, MessageTemplate) == 0

    async def test_a_wrong_content_sid_is_refused_with_the_reason_and_what_was_typed_kept(
            self, admin, sessions) -> None:
        response = await admin.post("/admin/templates", data={"name": "kargo", "language": "tr",
                                                              "content_sid": "MG123", "body": SHIPPED})
        assert response.status_code == 422
        assert "Content sid: a Content SID is HX followed by 32 hex digits" in response.text
        assert 'value="MG123"' in response.text
        assert await _count(sessions, MessageTemplate) == 0

    async def test_in_turkish_the_reason_is_turkish_too(self, admin, sessions) -> None:
        response = await admin.post("/admin/templates", data={"name": "kargo", "language": "tr",
                                                              "content_sid": "MG123", "body": SHIPPED},
                                    headers={"Accept-Language": "tr"})
        assert "Content SID: Content SID, HX ve ardından 32 onaltılık rakamdan oluşur" in response.text
        assert "Şablonlar" in response.text

    async def test_a_taken_name_is_409(self, admin, sessions) -> None:
        data = {"name": "kargo", "language": "tr", "content_sid": SID, "body": SHIPPED}
        assert (await admin.post("/admin/templates", data=data)).status_code == 303
        again = await admin.post("/admin/templates", data=data)
        assert again.status_code == 409 and "kargo exists already" in again.text

    async def test_an_agent_cannot_add_one(self, server, sessions) -> None:
        agent = await browser_for(server, await make_user(sessions, Role.agent), headers=HTML)
        response = await agent.post("/admin/templates", data={"name": "kargo", "language": "tr",
                                                              "content_sid": SID, "body": SHIPPED})
        assert response.status_code == 403
        assert await _count(sessions, MessageTemplate) == 0
        await agent.aclose()
