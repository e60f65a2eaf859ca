"""The agent's pages at scale: server time of the inbox list, a thread with its sidebar, and search.

    python -m bench.ui [--scale 1.0] [--requests 300] [--no-postgres] [--json bench/results/ui.json]

On the generated dataset (bench.dataset: 200k customers, 2M messages, 300k orders at scale 1),
a real server (one uvicorn worker) is asked sequentially, over one keep-alive connection, for
many pages with varied ids while signed in as a generated agent. "Server" is the app's own
Server-Timing header (web.server_timing); "client" is what the raw HTTP client saw, so the
share outside the app is plain. Beside each figure: the underlying query alone, run through the
same engine in this process, and our p95 as a multiple of it.
"""

import argparse
import asyncio
import json
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench import loadgen
from bench.dataset import PASSWORD, Dataset, postgres_dataset, sqlite_dataset
from bench.servers import cpu_of, running, uvicorn_process
from inbox.agents.service import issue_token
from inbox.db import make_engine, make_sessionmaker, transaction
from inbox.search import search

GOALS_MS = {"list": 20.0, "thread": 20.0, "pane": 20.0, "search": 50.0}
VIEWS = ["unassigned", "mine", "open", "pending", "snoozed", "resolved"]
# What agents type: common words, Turkish spellings in any case, names, order numbers, English.
QUERIES = ["kargo", "sipariş", "İADE", "iade", "Şule", "sule", "Çelik", "teşekkürler", "İstanbul", "istanbul",
           "beden", "order", "refund", "return label", "Kadıköy mağazası", "ödeme", "Ayşe Yılmaz", "tracking",
           "canvas tote", "fatura", "#100042", "gmail", "Deri Bot", "yün kazak"]
console = Console(width=150)
_TIMING = re.compile(rb"server-timing: app;dur=([0-9.]+)", re.IGNORECASE)


@dataclass
class Figure:
    kind: str
    what: str
    n: int
    server_p50: float
    server_p95: float
    server_p99: float
    client_p50: float
    client_p95: float
    query_p95: float
    goal: float
    # The server process's CPU time per request: far steadier than its wall-clock percentiles on a
    # machine whose other tenants take cores away, so the figure to compare two versions by.
    server_cpu: float = float("nan")

    @property
    def ratio(self) -> float:
        return self.server_p95 / self.query_p95 if self.query_p95 else float("nan")


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def sign_in(base_url: str, email: str, password: str = PASSWORD) -> str:
    """A session cookie from the real sign-in form, as a browser gets one."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, "no CSRF field on the sign-in page"
        answer = await client.post("/login", data={"email": email, "password": password,
                                                   "csrf_token": token.group(1), "next": "/inbox"})
        assert answer.status_code == 303, f"sign-in failed: {answer.status_code}"
        return str(client.cookies["onethread_session"])


async def api_token(url: str) -> str:
    engine = make_engine(url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await issue_token(session, name="bench.ui")
    finally:
        await engine.dispose()


def paths(dataset: Dataset, count: int, *, search_page: bool) -> dict[str, list[tuple[str, dict[str, str]]]]:
    rng = random.Random(7)
    customers = dataset.sizes.customers
    some = [rng.randrange(1, customers + 1) for _ in range(count)]
    # A third of the threads opened are the heaviest: thousands of messages, or the most orders.
    heavy = dataset.heavy_threads + dataset.order_heavy_threads
    threads = [rng.choice(heavy) if i % 3 == 0 else some[i] for i in range(count)]
    search = "/search?q=" if search_page else "/api/v1/search?q="
    return {
        "list": [(f"/inbox?view={VIEWS[i % len(VIEWS)]}", {}) for i in range(count)],
        "thread": [(f"/inbox/threads/{t}", {}) for t in threads],
        "pane": [(f"/inbox/threads/{t}", {"HX-Request": "true"}) for t in reversed(threads)],
        "search": [(search + quote(QUERIES[i % len(QUERIES)]), {}) for i in range(count)],
    }


async def measure_http(port: int, requests: list[tuple[str, dict[str, str]]], headers: dict[str, str],
                       *, warm: int = 10, pid: int | None = None) -> tuple[list[float], list[float], float]:
    """Server and client milliseconds of each request, sent one after another on one connection,
    and the server process's (`pid`) CPU milliseconds per request once warm (NaN without it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    server, client = [], []
    used = float("nan")
    try:
        for index, (path, extra) in enumerate(requests[:warm] + requests):
            if index == warm and pid is not None:
                used = cpu_of(pid)
            writer.write(loadgen.build_get("127.0.0.1", path, {**headers, **extra}))
            sent = time.perf_counter()
            status, head = await loadgen.read_response(reader)
            took = (time.perf_counter() - sent) * 1000
            assert status == 200, f"GET {path} answered {status}"
            timing = _TIMING.search(head)
            assert timing, "no Server-Timing header"
            if index >= warm:
                server.append(float(timing.group(1)))
                client.append(took)
        cpu = (cpu_of(pid) - used) * 1000 / len(requests) if pid is not None else float("nan")
    finally:
        writer.close()
    return server, client, cpu


async def measure_queries(url: str, user_id: int, dataset: Dataset, count: int) -> dict[str, list[float]]:
    """The keyset queries under each page, alone, through the same kind of engine the app uses."""
    engine = make_engine(url)
    rng = random.Random(11)
    wheres = {"unassigned": "t.status = 'open' AND t.assignee_id IS NULL",
              "mine": f"t.assignee_id = {user_id} AND t.status = 'open'", "open": "t.status = 'open'",
              "pending": "t.status = 'pending'", "snoozed": "t.status = 'snoozed'",
              "resolved": "t.status = 'resolved'"}
    heavy = dataset.heavy_threads + dataset.order_heavy_threads

    def list_query(i: int) -> tuple[Any, dict[str, Any]]:
        return text(f"SELECT t.*, c.name FROM thread t JOIN customer c ON c.id = t.customer_id "
                    f"WHERE {wheres[VIEWS[i % len(VIEWS)]]} ORDER BY t.last_activity_at DESC, t.id DESC "
                    f"LIMIT 50"), {}

    def thread_query(i: int) -> tuple[Any, dict[str, Any]]:
        thread = rng.choice(heavy) if i % 3 == 0 else rng.randrange(1, dataset.sizes.customers + 1)
        return text("SELECT * FROM message WHERE thread_id = :t ORDER BY at DESC, id DESC LIMIT 51"), {"t": thread}

    builders: dict[str, Callable[[int], tuple[Any, dict[str, Any]]]] = {"list": list_query, "thread": thread_query}
    found: dict[str, list[float]] = {}
    try:
        async with engine.connect() as connection:
            for kind, build in builders.items():
                found[kind] = []
                for i in range(count + 10):
                    statement, params = build(i)
                    started = time.perf_counter()
                    (await connection.execute(statement, params)).all()
                    if i >= 10:
                        found[kind].append((time.perf_counter() - started) * 1000)
        # Search's underlying query is inbox.search.search itself: one kind, newest first.
        found["search"] = []
        async with make_sessionmaker(engine)() as session:
            for i in range(count + 10):
                started = time.perf_counter()
                await search(session, QUERIES[i % len(QUERIES)], kind="message")
                if i >= 10:
                    found["search"].append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    found["pane"] = found["thread"]
    return found


async def _user_id(url: str, email: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text('SELECT id FROM "user" WHERE email = :e'),
                                                 {"e": email})).scalar_one())
    finally:
        await engine.dispose()


def _run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def measure(database: str, dataset: Dataset, count: int, *,
            before_stop: Callable[[int], None] | None = None) -> list[Figure]:
    """The figures; `before_stop(port)` is called once every page was asked, the server still up."""
    email = dataset.agent_emails[0]
    env = {"DATABASE_URL": dataset.url, "DATA_DIR": tempfile.mkdtemp(prefix="onethread-ui-bench-"),
           "REDIS_URL": ""}
    console.print(f"[bold]{database}[/]: measuring {count} requests of each kind …")
    with uvicorn_process("web.app:create_app", factory=True, env=env) as port:
        cookie = _run(sign_in(f"http://127.0.0.1:{port}", email))
        headers = {"Cookie": f"onethread_session={cookie}"}
        search_page = httpx.get(f"http://127.0.0.1:{port}/search?q=x", headers=headers).status_code == 200
        if not search_page:
            headers["Authorization"] = f"Bearer {_run(api_token(dataset.url))}"
        measured, cpu = {}, {}
        for kind, requests in paths(dataset, count, search_page=search_page).items():
            server, client, cpu[kind] = _run(measure_http(port, requests, headers, pid=running[port]))
            measured[kind] = (server, client)
        if before_stop is not None:
            before_stop(port)
    queries = _run(measure_queries(dataset.url, _run(_user_id(dataset.url, email)), dataset, count))
    what = {"list": "GET /inbox?view=… (6 views)", "thread": "GET /inbox/threads/{id} (page + sidebar)",
            "pane": "… with HX-Request (pane)",
            "search": "GET /search?q=…" if search_page else "GET /api/v1/search?q=… (no /search page yet)"}
    figures = []
    for kind, (server, client) in measured.items():
        figures.append(Figure(kind, what[kind], len(server), _percentile(server, 50), _percentile(server, 95),
                              _percentile(server, 99), _percentile(client, 50), _percentile(client, 95),
                              _percentile(queries[kind], 95), GOALS_MS[kind], cpu[kind]))
    return figures


def report(database: str, dataset: Dataset, figures: list[Figure]) -> None:
    sizes = dataset.sizes
    generated = (f"generated in {dataset.generated_seconds:.0f} s" if dataset.generated_seconds is not None
                 else "cached")
    table = Table(title=f"{database}: {sizes.customers:,} customers, {sizes.messages:,} messages, "
                        f"{sizes.orders:,} orders ({generated}); ms")
    for column in ("page", "n", "server p50", "server p95", "server p99", "CPU / req", "client p50",
                   "client p95", "query p95", "p95 / query", "goal p95", "met"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for f in figures:
        table.add_row(f.what, str(f.n), f"{f.server_p50:.1f}", f"{f.server_p95:.1f}", f"{f.server_p99:.1f}",
                      f"{f.server_cpu:.1f}", f"{f.client_p50:.1f}", f"{f.client_p95:.1f}", f"{f.query_p95:.2f}",
                      f"{f.ratio:.0f}×",
                      f"≤ {f.goal:.0f}", "[green]yes[/]" if f.server_p95 <= f.goal else "[red]no[/]")
    console.print(table)
    console.print(chart(figures))


def chart(figures: list[Figure], width: int = 50) -> str:
    """p95 against the goal as text bars: '|' marks the goal."""
    top = max(max(f.server_p95 for f in figures), max(f.goal for f in figures)) * 1.05
    lines = []
    for f in figures:
        cells = round(f.server_p95 / top * width)
        goal = round(f.goal / top * width)
        bar = "".join("█" if i < cells else " " for i in range(width))
        bar = bar[:goal] + "|" + bar[goal + 1:]
        lines.append(f"{f.kind:>7} {bar} {f.server_p95:6.1f} ms (goal {f.goal:.0f})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_ui")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    runs: list[tuple[str, Callable[[], Dataset]]] = []
    if not args.no_sqlite:
        runs.append(("SQLite", lambda: sqlite_dataset(args.scale)))
    if not args.no_postgres:
        runs.append(("PostgreSQL", lambda: postgres_dataset(args.scale, args.postgres)))
    for database, make in runs:
        dataset = make()
        figures = measure(database, dataset, args.requests)
        report(database, dataset, figures)
        results[database] = {"sizes": asdict(dataset.sizes), "generated_seconds": dataset.generated_seconds,
                             "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        console.print(f"figures written to {args.json}")
    worst = [f"{db} {f['kind']}" for db, r in results.items() for f in r["figures"] if f["server_p95"] > f["goal"]]
    console.print("all goals met" if not worst else f"[yellow]over the goal: {', '.join(worst)}[/]")


if __name__ == "__main__":
    main()
