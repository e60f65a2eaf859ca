"""The web chat's round trip: a visitor's message → the agents' /live websocket → an agent's reply
through the API → the web chat adapter → the visitor's /ws/widget socket, with 200 visitors and 20
agents connected. Goal: p99 ≤ 100 ms.

    python -m bench.widget [--seconds 20] [--rate 20] [--visitors 200] [--agents 20]
                           [--postgres postgresql://…/postgres --redis redis://…/15]

SQLite unless --postgres is given (a database onethread_bench_widget is made there afresh). The server
is a separate uvicorn process; visitors and agents are bench.wsclient sockets (a Python `websockets`
client reads about 13k frames/s here, too few to tell the server's delay from its own), and each
agent replies over a kept-alive connection of bench.loadgen's. Every visitor writes once before the
measured run, so first contact (a new customer) stays out of the figures.
"""

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench import loadgen, wsclient
from bench.channels import _agents, histogram
from bench.ingest import _fresh_postgres
from bench.servers import uvicorn_process
from inbox.agents import service as agents
from inbox.db import make_engine, make_sessionmaker, transaction
from inbox.migrate import upgrade
from web.ui.security import SESSION_COOKIE

console = Console(width=150)
GOAL_P99_MS = 100.0


@dataclass
class Visitor:
    index: int
    token: str = ""
    ticket: str = ""
    writer: asyncio.StreamWriter | None = None
    # client_msg_id → when it was sent; then message id → when it was sent, once acked.
    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[int, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Figures:
    database: str
    sent: int = 0
    samples: list[float] = field(default_factory=list)
    refused: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")


async def _token(url: str) -> str:
    engine = make_engine(url)
    async with transaction(make_sessionmaker(engine)) as session:
        token = await agents.issue_token(session, name=f"bench-widget-{uuid.uuid4().hex[:6]}")
    await engine.dispose()
    return token


@dataclass
class Replier:
    """One agent's kept-alive connection for replies, opened again when the server closed it while idle."""

    port: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> int:
        async with self.lock:
            for attempt in (1, 2):
                if self.writer is None or self.writer.is_closing():
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    self.writer.write(request)
                    assert self.reader is not None
                    return (await loadgen.read_response(self.reader))[0]
                except (ConnectionError, asyncio.IncompleteReadError):
                    # uvicorn closes a connection idle for 5 s; what was never answered is sent again.
                    self.writer = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run(database: str, port: int, *, cookies: list[str], api_token: str, visitors: int, rate: float,
              seconds: float) -> Figures:
    base = f"http://127.0.0.1:{port}"
    figures = Figures(database)
    measuring = False
    crowd = [Visitor(i) for i in range(visitors)]
    by_message: dict[int, Visitor] = {}
    repliers = [Replier(port) for _ in cookies]
    replies: set[asyncio.Task[None]] = set()

    async def reply(agent: int, customer_id: int, message_id: int) -> None:
        body = json.dumps({"channel": "webchat", "text": f"re {message_id}", "kind": "reply"}).encode()
        request = loadgen.build_post("127.0.0.1", f"/api/v1/customers/{customer_id}/messages", body,
                                     "application/json", {"Authorization": f"Bearer {api_token}"})
        if await repliers[agent].post(request) != 201:
            figures.refused += 1

    def agent_heard(agent: int) -> Any:
        def on_event(_at: float, event: dict[str, Any]) -> None:
            data = event.get("data") or {}
            # Every agent hears every message; the one whose turn it is answers it.
            if (event.get("kind") == "message.created" and data.get("direction") == "inbound"
                    and data.get("channel") == "webchat" and data["message_id"] % len(cookies) == agent):
                task = asyncio.create_task(reply(agent, event["customer_id"], data["message_id"]))
                replies.add(task)
                task.add_done_callback(replies.discard)
        return on_event

    def visitor_heard(visitor: Visitor) -> Any:
        def on_frame(at: float, frame: dict[str, Any]) -> None:
            if frame["type"] == "ready":
                visitor.ready.set()
            elif frame["type"] == "ack" and frame["client_msg_id"] in visitor.sent:
                visitor.acked[frame["id"]] = visitor.sent.pop(frame["client_msg_id"])
                by_message[frame["id"]] = visitor
            elif frame["type"] == "message" and frame["author"] == "agent" and frame["text"].startswith("re "):
                answered = int(frame["text"][3:])
                sent_at = visitor.acked.pop(answered, None)
                if sent_at is not None and measuring:
                    figures.samples.append(at - sent_at)
            elif frame["type"] == "error":
                figures.refused += 1
        return on_frame

    agent_sockets = [await wsclient.connect("127.0.0.1", port, "/live", cookie=f"{SESSION_COOKIE}={cookie}")
                     for cookie in cookies]
    listeners = [asyncio.create_task(wsclient.listen(r, w, agent_heard(i))) for i, (r, w) in enumerate(agent_sockets)]
    async with httpx.AsyncClient(base_url=base) as http:
        for visitor in crowd:
            # Shoppers come from addresses of their own (uvicorn trusts X-Forwarded-For from loopback):
            # new anonymous chats are limited per address.
            started = (await http.post("/widget/session", json={"token": ""}, headers={
                "X-Forwarded-For": f"10.{visitor.index // 250}.{visitor.index % 250}.1"})).json()
            visitor.token, visitor.ticket = started["token"], started["ticket"]
    for visitor in crowd:
        reader, writer = await wsclient.connect("127.0.0.1", port, "/ws/widget", origin=base)
        visitor.writer = writer
        listeners.append(asyncio.create_task(wsclient.listen(reader, writer, visitor_heard(visitor))))
        wsclient.send_json(writer, {"type": "hello", "ticket": visitor.ticket, "after_id": 0})
    await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in crowd)), 60)

    def say(visitor: Visitor, n: int) -> None:
        client_msg_id = str(uuid.uuid4())
        visitor.sent[client_msg_id] = time.perf_counter()
        assert visitor.writer is not None
        wsclient.send_json(visitor.writer, {"type": "message", "client_msg_id": client_msg_id,
                                            "text": f"Merhaba, {n} numaralı siparişim nerede?"})

    # First contact makes each visitor's customer and thread: out of the measured run.
    for visitor in crowd:
        say(visitor, 0)
        await asyncio.sleep(1 / max(rate, 50))
    await _drained(crowd, within=60)
    measuring = True
    count = int(rate * seconds)
    rng = random.Random(1042)
    started = time.perf_counter()
    for n in range(count):
        due = started + n / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        # Any visitor, at random, as shoppers are: a few write again before their last answer came.
        say(rng.choice(crowd), n + 1)
    figures.sent = count
    await _drained(crowd, within=15)
    for task in listeners:
        task.cancel()
    for _, writer in agent_sockets:
        writer.close()
    for visitor in crowd:
        if visitor.writer is not None:
            visitor.writer.close()
    for replier in repliers:
        replier.close()
    return figures


async def _drained(crowd: list[Visitor], *, within: float) -> None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline and any(v.sent or v.acked for v in crowd):  # noqa: ASYNC110 - many visitors
        await asyncio.sleep(0.05)


def measure(database: str, url: str, redis_url: str, args: argparse.Namespace) -> Figures:
    upgrade(url)
    cookies = asyncio.run(_agents(url, args.agents))
    api_token = asyncio.run(_token(url))
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-widget-"))
    env = {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "REDIS_URL": redis_url}
    with uvicorn_process("web.app:create_app", factory=True, env=env) as port:
        console.print(f"[bold]{database}[/]: {args.visitors} visitors, {args.agents} agents, "
                      f"{args.rate:g} messages/s for {args.seconds:g} s …")
        return asyncio.run(run(database, port, cookies=cookies, api_token=api_token, visitors=args.visitors,
                               rate=args.rate, seconds=args.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="visitor messages per second, all visitors together")
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", ""),
                        help="an admin URL; onethread_bench_widget is made there afresh")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", ""))
    args = parser.parse_args()

    console.print(f"client ceiling: {asyncio.run(wsclient.ceiling()):,.0f} websocket frames/s")
    databases = [("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ot-bench-widget-')}/bench.db", "")]
    if args.postgres:
        databases.append(("PostgreSQL" + (" + Redis" if args.redis else ""),
                          asyncio.run(_fresh_postgres(args.postgres, "onethread_bench_widget")), args.redis))
    results = [measure(database, url, redis_url, args) for database, url, redis_url in databases]

    table = Table(title=f"visitor → agent websocket → reply → visitor, {args.rate:g} messages/s for "
                        f"{args.seconds:g} s, {args.visitors} visitors, {args.agents} agents")
    for column in ("database", "sent", "round trips", "refused", "p50 ms", "p99 ms", "max ms",
                   f"p99 ≤ {GOAL_P99_MS:g} ms"):
        table.add_column(column, justify="right")
    for figures in results:
        table.add_row(figures.database, f"{figures.sent:,}", f"{len(figures.samples):,}", f"{figures.refused:,}",
                      f"{figures.percentile(50):.1f}", f"{figures.percentile(99):.1f}",
                      f"{max(figures.samples, default=float('nan')) * 1000:.1f}",
                      "yes" if figures.percentile(99) <= GOAL_P99_MS else "NO")
    console.print(table)
    for figures in results:
        console.print(f"[bold]{figures.database}[/]: round trip")
        for line in histogram([s * 1000 for s in figures.samples]):
            console.print("  " + line)


if __name__ == "__main__":
    main()
