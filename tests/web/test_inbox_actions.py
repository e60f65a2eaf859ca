"""The inbox's actions over HTTP on the real server: bulk changes, snooze, tags, the sidebar's edits and
manual merge with its undo. What is asserted is what was stored, and what the agent is shown."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from inbox import tags
from inbox.agents import teams
from inbox.agents.models import Role, User
from inbox.customers import service as customers
from inbox.customers.models import Customer, Merge
from inbox.db import transaction, utcnow
from inbox.threads import service as threads
from inbox.threads.models import Status
from tests.ui.steps import customer_writes
from tests.web.users import make_user, signed_in

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def agent(server: str, sessions) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(server, sessions, Role.agent, name="Ayşe Demir", headers={"HX-Request": "true"})
    yield client
    await client.aclose()


async def _four_customers(sessions, ingest_config) -> list[int]:
    for n, name in enumerate(["Şule Çelik", "Mehmet Kaya", "Zeynep Ak", "Can Öz"]):
        await customer_writes(sessions, ingest_config, f"SM{n}", f"+90532123450{n}", name, f"Merhaba {n}")
    async with sessions() as reader:
        return [(await threads.for_customer(reader, customer_id)).id or 0 for customer_id in range(1, 5)]


async def _states(sessions, thread_ids: list[int]) -> list[tuple[str, int | None, int | None, list[str]]]:
    async with sessions() as reader:
        found = []
        for thread_id in thread_ids:
            thread = await threads.get(reader, thread_id)
            names = [tag.name for tag in await tags.of_case(reader, thread.case_id)]
            found.append((thread.status, thread.assignee_id, thread.team_id, names))
        return found


class TestBulk:
    async def test_assign_status_and_tag_change_every_selected_thread_and_only_those(
            self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        async with transaction(sessions) as session:
            vip = await tags.create(session, name="vip")
            team = await teams.create(session, name="Kargo")
        me = 1
        chosen = {"thread_id": [ids[0], ids[2]]}

        answer = await agent.post("/inbox/bulk?view=open", data={**chosen, "op": "assign:me"})
        assert answer.status_code == 200
        await agent.post("/inbox/bulk?view=open", data={**chosen, "op": f"assign:team:{team.id}"})
        await agent.post("/inbox/bulk?view=open", data={**chosen, "op": f"tag:{vip.id}"})
        assert await _states(sessions, ids) == [
            ("open", me, team.id, ["vip"]), ("open", None, None, []),
            ("open", me, team.id, ["vip"]), ("open", None, None, [])]

        answer = await agent.post("/inbox/bulk?view=open", data={**chosen, "op": "status:resolved"})
        # The list comes back refreshed: the resolved two are gone from All open, the others stay.
        assert answer.status_code == 200
        assert "Mehmet Kaya" in answer.text and "Can Öz" in answer.text
        assert "Şule Çelik" not in answer.text and "Zeynep Ak" not in answer.text
        assert [state[0] for state in await _states(sessions, ids)] == ["resolved", "open", "resolved", "open"]

    @pytest.mark.parametrize("op", ["assign:user:999", "tag:999", "status:snoozed", "delete", "assign:everyone"])
    async def test_a_bad_batch_is_refused_whole(self, agent, sessions, ingest_config, op: str) -> None:
        ids = await _four_customers(sessions, ingest_config)
        before = await _states(sessions, ids)
        answer = await agent.post("/inbox/bulk?view=open", data={"thread_id": ids[:2], "op": op})
        assert 400 <= answer.status_code < 500
        assert await _states(sessions, ids) == before

    async def test_one_missing_thread_leaves_the_others_untouched(self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        answer = await agent.post("/inbox/bulk?view=open", data={"thread_id": [ids[0], 999], "op": "assign:me"})
        assert answer.status_code == 404
        assert (await _states(sessions, ids[:1]))[0][1] is None


class TestThreadActions:
    async def test_snooze_with_a_past_time_is_refused_and_nothing_is_written(
            self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        answer = await agent.post(f"/inbox/threads/{ids[0]}/snooze", data={"until": "2020-01-01T09:00"})
        assert answer.status_code == 422
        assert "future" in answer.text
        assert (await agent.post(f"/inbox/threads/{ids[0]}/snooze", data={"until": "soon"})).status_code == 422
        assert (await agent.post(f"/inbox/threads/{ids[0]}/snooze", data={})).status_code == 422
        async with sessions() as reader:
            thread = await threads.get(reader, ids[0])
        assert (thread.status, thread.snoozed_until) == (Status.open, None)

    async def test_snooze_until_tomorrow_and_assign_to_another_agent(self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        await make_user(sessions, Role.agent, email="mehmet@shop.example", name="Mehmet Yıldız")
        answer = await agent.post(f"/inbox/threads/{ids[0]}/snooze?view=open", data={"preset": "tomorrow"})
        assert answer.status_code == 200 and "Snoozed" in answer.text
        answer = await agent.post(f"/inbox/threads/{ids[0]}/assignee", data={"assignee": "user:2"})
        assert answer.status_code == 200
        async with sessions() as reader:
            thread = await threads.get(reader, ids[0])
        assert thread.status == Status.snoozed and thread.assignee_id == 2
        assert utcnow() < thread.snoozed_until < utcnow() + timedelta(days=1, hours=10)

    async def test_an_inactive_or_store_user_cannot_be_assigned(self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        await make_user(sessions, Role.store, email="store@shop.example")
        answer = await agent.post(f"/inbox/threads/{ids[0]}/assignee", data={"assignee": "user:2"})
        assert answer.status_code == 422
        assert (await _states(sessions, ids[:1]))[0][1] is None

    async def test_tags_are_added_and_removed_on_the_current_case(self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        async with transaction(sessions) as session:
            vip = await tags.create(session, name="vip")
            returns = await tags.create(session, name="iade")
        for tag in (vip, returns):
            assert (await agent.post(f"/inbox/threads/{ids[1]}/tags", data={"tag_id": tag.id})).status_code == 200
        answer = await agent.post(f"/inbox/threads/{ids[1]}/tags/{vip.id}/remove")
        assert answer.status_code == 200 and "#iade" in answer.text and "#vip</span>" not in answer.text
        assert (await _states(sessions, ids[1:2]))[0][3] == ["iade"]
        assert (await agent.post(f"/inbox/threads/{ids[1]}/tags", data={"tag_id": 999})).status_code == 404


class TestSidebar:
    async def test_rename_and_note_persist_and_hostile_text_is_shown_as_text(
            self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        answer = await agent.post(f"/inbox/threads/{ids[0]}/customer/name", data={"name": f"  Şule {HOSTILE} "})
        assert answer.status_code == 200
        assert "<script>" not in answer.text and "&lt;script&gt;" in answer.text
        answer = await agent.post(f"/inbox/threads/{ids[0]}/customer/note", data={"note": f"VIP. {HOSTILE}"})
        assert answer.status_code == 200 and "<img" not in answer.text and "&lt;img src=x" in answer.text
        assert (await agent.post(f"/inbox/threads/{ids[0]}/customer/name", data={"name": "   "})).status_code == 422
        async with sessions() as reader:
            customer = await customers.get(reader, 1)
        assert customer.name == f"Şule {HOSTILE}"
        assert customer.note == f"VIP. {HOSTILE}"
        page = (await agent.get(f"/inbox/threads/{ids[0]}", headers={"HX-Request": ""})).text
        assert "<script>alert" not in page and "VIP. &lt;script&gt;" in page

    async def test_manual_merge_by_search_then_undo(self, agent, sessions, ingest_config) -> None:
        ids = await _four_customers(sessions, ingest_config)
        found = await agent.get(f"/inbox/threads/{ids[0]}/merge-candidates", params={"q": "mehmet"})
        assert found.status_code == 200
        assert "Mehmet Kaya" in found.text and "+905321234501" in found.text and "Şule" not in found.text
        by_phone = await agent.get(f"/inbox/threads/{ids[0]}/merge-candidates", params={"q": "0532 123 45 01"})
        assert "Mehmet Kaya" in by_phone.text

        merged = await agent.post(f"/inbox/threads/{ids[0]}/merges?view=open", data={"other_id": 2})
        assert merged.status_code == 200
        assert "Merged Mehmet Kaya into this customer." in merged.text
        async with sessions() as reader:
            record = (await reader.execute(select(Merge))).scalar_one()
            absorbed = await reader.get(Customer, 2)
        assert (record.survivor_id, record.absorbed_id, record.actor) == (1, 2, "user:1:agent@shop.example")
        assert absorbed is not None and absorbed.absorbed_into_id == 1
        again = await agent.post(f"/inbox/threads/{ids[0]}/merges", data={"other_id": 2})
        assert again.status_code == 409

        undone = await agent.post(f"/inbox/threads/{ids[0]}/merges/{record.id}/undo?view=open")
        assert undone.status_code == 200 and "Undo" not in undone.text
        async with sessions() as reader:
            assert (await reader.get(Customer, 2)).absorbed_into_id is None
            assert (await reader.execute(select(col(Merge.undone_at)))).scalar_one() is not None
        assert (await agent.post(f"/inbox/threads/{ids[0]}/merges/{record.id}/undo")).status_code == 409
        assert (await agent.post(f"/inbox/threads/{ids[0]}/merges", data={"other_id": 1})).status_code == 422


class TestList:
    async def test_views_by_channel_and_the_next_page(self, agent, sessions, ingest_config) -> None:
        await _four_customers(sessions, ingest_config)
        page = (await agent.get("/inbox?view=channel:whatsapp", headers={"HX-Request": ""})).text
        assert 'data-view-count="channel:whatsapp">4<' in page
        assert (await agent.get("/inbox?view=channel:fax")).status_code == 422
        assert (await agent.get("/inbox/list?view=open&after=garbage")).status_code == 422


    async def test_a_row_shows_each_change_to_its_thread_and_the_readers_language(
            self, agent, sessions, ingest_config) -> None:
        # Rows are drawn once for what they show (web/ui/pages.py list_row): each change must show.
        def row(page: str) -> str:
            found = re.search(r'<li class="conversation[^"]*" data-thread-id="1">.*?</li>', page, re.S)
            assert found, page[:2000]
            return found.group(0)

        async def listed(language: str = "en") -> str:
            return row((await agent.get("/inbox?view=open", headers={"Accept-Language": language})).text)

        await customer_writes(sessions, ingest_config, "SM1", "+905321234501", "Şule Çelik", "Merhaba")
        first = await listed()
        assert "Merhaba" in first and '<span class="badge" aria-label="unread">1<' in first
        assert first == await listed()
        await customer_writes(sessions, ingest_config, "SM2", "+905321234501", "Şule Çelik", "Kargom nerede?")
        second = await listed()
        assert "Kargom nerede?" in second and ">2<" in second and "Merhaba" not in second
        async with transaction(sessions) as session:
            await threads.assign(session, await threads.get(session, 1), assignee_id=1)
            await customers.rename(session, 1, name="Şule Ç. Yılmaz")
        assigned = await listed()
        assert '<span class="avatar" title="Ayşe Demir">A</span>' in assigned and "Şule Ç. Yılmaz" in assigned
        assert 'aria-label="okunmamış"' in await listed("tr")
        assert await listed() == assigned
        await agent.get("/inbox/threads/1?view=open")  # opening it marks it read: only the count changes
        assert '<span class="badge"' not in await listed()


class TestHistory:
    async def test_who_assigned_and_resolved_is_written_into_the_history_in_the_readers_language(
            self, agent, sessions, ingest_config) -> None:
        mehmet = await make_user(sessions, Role.agent, email="mehmet@shop.example", name="Mehmet Kaya")
        async with sessions() as reader:
            mehmet_id = await _user_id(reader, mehmet)
        thread_id = (await _four_customers(sessions, ingest_config))[0]
        await agent.post(f"/inbox/threads/{thread_id}/assignee?view=open", data={"assignee": f"user:{mehmet_id}"})
        # The same assignment again changes nothing, so it says nothing.
        await agent.post(f"/inbox/threads/{thread_id}/assignee?view=open", data={"assignee": f"user:{mehmet_id}"})
        pane = await agent.post(f"/inbox/threads/{thread_id}/status?view=open", data={"status": "resolved"})
        lines = re.findall(r'<span class="event-line">([^<·]+)', pane.text)
        assert [line.strip() for line in lines] == [
            "Conversation opened", "Ayşe Demir assigned this to Mehmet Kaya", "Ayşe Demir resolved this"]
        turkish = await agent.get(f"/inbox/threads/{thread_id}?view=open", headers={"Accept-Language": "tr"})
        assert "Ayşe Demir bunu Mehmet Kaya kişisine atadı" in turkish.text
        assert "Ayşe Demir çözüldü olarak işaretledi" in turkish.text


async def _user_id(session, email: str) -> int:
    user = (await session.execute(select(User).where(col(User.email) == email))).scalar_one()
    return user.id or 0
