"""The bench's generated dataset is one the app serves: a bench must not time empty pages."""

import html

import httpx
import pytest
from sqlalchemy import text

from bench.dataset import Sizes, load
from bench.ui import sign_in
from inbox.config import CoreSettings
from web.app import create_app

SIZES = Sizes.at(0.001)  # 200 customers, 2,000 messages, 300 orders


@pytest.fixture
async def generated(db_url: str):
    return await load(db_url, SIZES)


@pytest.fixture
def web_app(generated, app_settings: CoreSettings):
    # Loaded before the server starts: the loader writes through its own raw connection.
    return create_app(app_settings)


async def _one(session, sql: str, **params):
    row = (await session.execute(text(sql), params)).one()
    await session.rollback()  # SQLite: end the read before the server wants to write (sign-in)
    return row


async def test_the_inbox_lists_generated_customers_and_their_threads(server, session, generated) -> None:
    counts = {table: (await _one(session, f'SELECT count(*) FROM "{table}"'))[0]
              for table in ("customer", "thread", "message", "order")}
    assert counts == {"customer": SIZES.customers, "thread": SIZES.customers, "message": SIZES.messages,
                      "order": SIZES.orders}
    newest_open = (await _one(session, "SELECT c.name FROM thread t JOIN customer c ON c.id = t.customer_id "
                                       "WHERE t.status = 'open' ORDER BY t.last_activity_at DESC LIMIT 1"))[0]
    cookie = await sign_in(server, "agent1@bench.onethread.test")
    async with httpx.AsyncClient(base_url=server, cookies={"onethread_session": cookie}) as browser:
        page = await browser.get("/inbox?view=open")
        assert page.status_code == 200 and html.escape(newest_open) in page.text

        heavy = generated.heavy_threads[0]
        last = (await _one(session, "SELECT text FROM message WHERE thread_id = :t AND direction != 'event' "
                                    "ORDER BY at DESC, id DESC LIMIT 1", t=heavy))[0]
        thread = await browser.get(f"/inbox/threads/{heavy}")
        assert thread.status_code == 200 and html.escape(last) in thread.text


async def test_a_generated_message_is_found_by_search_folded_the_turkish_way(api, session) -> None:
    wanted = (await _one(session, "SELECT id, text FROM message WHERE text LIKE 'İade etmek istiyorum%' "
                                  "ORDER BY id DESC LIMIT 1"))
    found = await api.get("/api/v1/search", params={"q": "IADE ETMEK istiyorum"})
    assert found.status_code == 200
    texts = {m["text"] for m in found.json()["messages"]}
    assert wanted.text in texts


async def test_a_regulars_sidebar_shows_the_newest_orders_and_how_many_more(server, session, generated) -> None:
    customer = generated.order_heavy_threads[0]
    total = (await _one(session, 'SELECT count(*) FROM "order" WHERE customer_id = :c', c=customer))[0]
    newest = (await _one(session, 'SELECT number FROM "order" WHERE customer_id = :c '
                                  "ORDER BY placed_at DESC, id DESC LIMIT 1", c=customer))[0]
    oldest = (await _one(session, 'SELECT number FROM "order" WHERE customer_id = :c '
                                  "ORDER BY placed_at, id LIMIT 1", c=customer))[0]
    assert total > 10
    cookie = await sign_in(server, "agent2@bench.onethread.test")
    async with httpx.AsyncClient(base_url=server, cookies={"onethread_session": cookie}) as browser:
        pane = (await browser.get(f"/inbox/threads/{customer}", headers={"HX-Request": "true"})).text
    assert pane.count('class="order"') == 10
    assert f"#{newest}<" in pane and f"#{oldest}<" not in pane
    assert f"{total - 10} older orders" in pane


async def test_profiles_loaded_together_equal_profiles_loaded_one_by_one(session, generated) -> None:
    from inbox.customers import profile
    from inbox.customers import service as customers

    with_suggestion = (await _one(session, "SELECT customer_id FROM mergesuggestion ORDER BY id LIMIT 1"))[0]
    ids = [with_suggestion, *generated.order_heavy_threads[:5], *range(1, 30)]
    found = [await customers.get(session, cid) for cid in ids]
    together = await profile.load_many(session, found)
    one_by_one = [await profile.load(session, cid) for cid in ids]

    def shape(p: profile.Profile) -> tuple:
        orders = [(o.id, [line.id for line in lines]) for o, lines in p.orders]
        return (p.customer.id, [i.id for i in p.identities], orders, p.orders_total,
                [x.id for x in p.preferences], p.thread.id, [s.id for s in p.suggestions])

    assert [shape(p) for p in together] == [shape(p) for p in one_by_one]
    assert any(p.suggestions for p in together) and any(len(p.orders) > 3 for p in together)
