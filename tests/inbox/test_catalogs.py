"""Teams, tags and canned responses: the catalogs admins keep and agents use in the inbox."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from inbox import canned, tags
from inbox.agents import teams
from inbox.agents.models import Role
from inbox.agents.service import create_user
from inbox.customers.models import Customer
from inbox.errors import Conflict, Invalid, NotFound
from inbox.orders.models import Order
from inbox.threads.models import Case, Thread


async def test_a_team_has_exactly_the_members_last_set(session) -> None:
    team = await teams.create(session, name="İadeler")
    ayse = await create_user(session, email="ayse@shop.example", password="long-enough", role=Role.agent)
    can = await create_user(session, email="can@shop.example", password="long-enough", role=Role.agent)
    await teams.set_members(session, team.id or 0, [ayse.id or 0, can.id or 0])
    await teams.set_members(session, team.id or 0, [can.id or 0])
    assert [u.email for u in await teams.members(session, team.id or 0)] == ["can@shop.example"]
    assert [t.name for t in await teams.teams_of(session, can.id or 0)] == ["İadeler"]
    with pytest.raises(Conflict):
        await teams.create(session, name=" İadeler ")


async def test_tags_belong_to_the_current_case_and_unknown_ones_are_refused(session) -> None:
    customer = Customer(name="Şule")
    session.add(customer)
    await session.flush()
    thread = Thread(customer_id=customer.id or 0)
    session.add(thread)
    await session.flush()
    case = Case(thread_id=thread.id or 0)
    session.add(case)
    await session.flush()
    kargo, iade = await tags.create(session, name="kargo"), await tags.create(session, name="  iade  ")
    assert iade.name == "iade"
    assert [t.name for t in await tags.set_case_tags(session, case.id or 0, [kargo.id or 0, iade.id or 0])] == [
        "iade", "kargo"]
    with pytest.raises(NotFound):
        await tags.set_case_tags(session, case.id or 0, [kargo.id or 0, 9999])
    assert [t.name for t in await tags.of_case(session, case.id)] == ["iade", "kargo"]
    await tags.remove(session, kargo.id or 0)
    assert [t.name for t in await tags.of_case(session, case.id)] == ["iade"]


async def test_a_canned_response_fills_the_customer_and_newest_order(session) -> None:
    customer = Customer(name="Şule Çelik")
    session.add(customer)
    await session.flush()
    body = "Merhaba {{customer.first_name}}, #{{ order.number }} siparişiniz: {{order.status}}."
    saved = await canned.save(session, shortcut="/kargo", title="Kargo", body=body)
    assert saved.shortcut == "kargo"
    before = canned.fill(saved.body, await canned.values_for(session, customer.id or 0))
    assert before == "Merhaba Şule, #{{ order.number }} siparişiniz: {{order.status}}."
    for number, day in (("1001", 1), ("1002", 9)):
        session.add(Order(external_id=f"ext-{number}", number=number, status="kargoda", total=Decimal("10"),
                          customer_id=customer.id or 0, placed_at=datetime(2026, 11, day, tzinfo=UTC)))
    await session.flush()
    after = canned.fill(saved.body, await canned.values_for(session, customer.id or 0))
    assert after == "Merhaba Şule, #1002 siparişiniz: kargoda."


async def test_canned_responses_refuse_unknown_variables_and_taken_shortcuts(session) -> None:
    await canned.save(session, shortcut="selam", title="", body="Merhaba!")
    with pytest.raises(Conflict):
        await canned.save(session, shortcut="selam", title="", body="Selam!")
    with pytest.raises(Invalid, match=r"order\.total"):
        await canned.save(session, shortcut="tutar", title="", body="{{order.total}}")
    with pytest.raises(Invalid):
        await canned.save(session, shortcut="iki kelime", title="", body="x")
