"""The messaging channels' figures: signed-webhook ingest rate per channel against a bare FastAPI
endpoint run in the same bench, and the time from a webhook to the agents' websockets at 100
messages/s with 50 agents connected; on SQLite, and on PostgreSQL + Redis when reachable.

    python -m bench.channels [--messages 3000] [--rounds 2] [--seconds 20] [--no-postgres]
                             [--channels messenger,telegram] [--no-latency]

Servers are separate uvicorn processes (one worker each). Webhook load comes from bench.loadgen and
the agents are bench.wsclient sockets; both clients' ceilings are printed first.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from bench import loadgen, wsclient
from bench.ingest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    TEXTS,
    WEBHOOK,
    _analyze,
    _fresh_postgres,
    http_rate,
    signed_requests,
)
from bench.servers import uvicorn_process
from inbox.agents import service as agents
from inbox.agents import signin
from inbox.agents.models import Role
from inbox.db import make_engine, make_sessionmaker, transaction
from inbox.messages.models import Message
from inbox.migrate import upgrade
from web.ui.security import SESSION_COOKIE

console = Console(width=150)
AGENTS = 50
RATE = 100.0
GOAL_P99_MS = 50.0


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    path: str
    env: dict[str, str]
    # (count, run id) → ready-to-send request bytes, each signed the way the provider signs.
    requests: Callable[[int, str], list[bytes]]


META_APP_SECRET = "bench-meta-app-secret"
TELEGRAM_SECRET = "bench-telegram-secret"
PAGE_ID = "104857600123456"


def messenger_requests(count: int, run: str) -> list[bytes]:
    """Text messages as Meta posts them, each signed with the app secret (X-Hub-Signature-256)."""
    requests = []
    for i in range(count):
        who = 7_000_000_000_000_000 + i * 7919 % max(1, count // 3)
        body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1768469412123 + i, "messaging": [{
            "sender": {"id": str(who)}, "recipient": {"id": PAGE_ID}, "timestamp": 1768469412000 + i,
            "message": {"mid": f"m_{run}{i:010d}", "text": TEXTS[i % len(TEXTS)].format(n=1000 + i % 900)}}]}]},
            ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(META_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        requests.append(loadgen.build_post("127.0.0.1", "/webhooks/messenger", body, "application/json",
                                           {"X-Hub-Signature-256": signature}))
    return requests


def telegram_requests(count: int, run: str) -> list[bytes]:
    """Private-chat text updates as the Bot API posts them, with the webhook's secret header."""
    requests = []
    base = int(run, 16) % 1_000_000 * 100_000
    for i in range(count):
        who = 500_000_000 + i * 7919 % max(1, count // 3)
        person = {"id": who, "is_bot": False, "first_name": "Müşteri", "last_name": str(who % 10_000)}
        body = json.dumps({"update_id": base + i, "message": {
            "message_id": base + i, "from": person, "chat": {**person, "type": "private"}, "date": 1768469412 + i,
            "text": TEXTS[i % len(TEXTS)].format(n=1000 + i % 900)}}, ensure_ascii=False).encode()
        requests.append(loadgen.build_post("127.0.0.1", "/webhooks/telegram", body, "application/json",
                                           {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}))
    return requests


@contextmanager
def graph_profiles() -> Iterator[str]:
    """Meta's profile lookup, answered on loopback: each new Messenger sender costs one, as in production."""

    class Profiles(BaseHTTPRequestHandler):
        # Keep-alive, as Meta's servers answer: HTTP/1.0 would cost the app a new connection per lookup.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = json.dumps({"first_name": "Müşteri", "last_name": self.path.strip("/").split("?")[0][-4:],
                               "id": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # The app's kept-alive connections are reset when its process ends: not worth a traceback.
            return

    server = Server(("127.0.0.1", 0), Profiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


CHANNELS = [
    Channel("whatsapp", WEBHOOK,
            {"PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
             "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100"},
            lambda count, run: signed_requests(count, senders=max(1, count // 3), run=run)),
    Channel("messenger", "/webhooks/messenger",
            {"META_APP_SECRET": META_APP_SECRET, "META_VERIFY_TOKEN": "bench", "META_PAGE_ACCESS_TOKEN": "bench-token"},
            messenger_requests),
    Channel("telegram", "/webhooks/telegram",
            {"TELEGRAM_BOT_TOKEN": "123456:bench-token", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET},
            telegram_requests),
]


@dataclass
class Rates:
    channel: str
    ours: float
    bare: float
    asgi: float
    ok: bool


@dataclass
class Latency:
    database: str
    sent: int
    samples: list[float] = field(default_factory=list)
    missing: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")


def _env(url: str, data_dir: Path, redis_url: str, graph: str = "") -> dict[str, str]:
    env = {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "REDIS_URL": redis_url, "META_GRAPH_BASE_URL": graph}
    for channel in CHANNELS:
        env.update(channel.env)
    return env


def rates(database: str, url: str, count: int, rounds: int, only: set[str] | None = None) -> list[Rates]:
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-"))
    found = []
    for channel in CHANNELS:
        if only and channel.name not in only:
            continue
        ours, bare, asgi = [], [], []
        ok = True
        for round_ in range(rounds):
            requests = channel.requests(count + 200, uuid.uuid4().hex[:8])
            console.print(f"[bold]{database}[/] {channel.name}: round {round_ + 1}/{rounds} …")
            with uvicorn_process("bench.bare_app:app") as port:
                bare.append(asyncio.run(http_rate(port, requests)).rate)
            with uvicorn_process("bench.bare_app:asgi") as port:
                asgi.append(asyncio.run(http_rate(port, requests)).rate)
            with graph_profiles() as graph, \
                    uvicorn_process("web.app:create_app", factory=True, env=_env(url, data_dir, "", graph)) as port:
                result = asyncio.run(http_rate(port, requests))
            ours.append(result.rate)
            ok &= result.errors == 0
            if round_ == 0:
                asyncio.run(_analyze(url))  # as autovacuum would have, once the tables have rows
        found.append(Rates(channel.name, statistics.median(ours), statistics.median(bare), statistics.median(asgi),
                           ok))
    return found


async def _agents(url: str, count: int) -> list[str]:
    """Session cookies of `count` agents, signed in the way the login form does it."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    run = uuid.uuid4().hex[:6]
    tokens = []
    async with transaction(sessions) as session:
        for i in range(count):
            email = f"bench-{run}-{i}@shop.example"
            await agents.create_user(session, email=email, password="bench-password", name=f"Agent {i}",
                                     role=Role.agent)
    for i in range(count):
        async with transaction(sessions) as session:
            signed = await signin.sign_in(session, email=f"bench-{run}-{i}@shop.example", password="bench-password",
                                          client="bench")
            assert signed is not None
            tokens.append(signed[0])
    await engine.dispose()
    return tokens


async def _provider_ids(url: str, message_ids: set[int]) -> dict[int, str]:
    engine = make_engine(url)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(col(Message.id), col(Message.provider_id))
                                         .where(col(Message.id).in_(message_ids)))).all()
    await engine.dispose()
    return {int(row[0] or 0): row[1] or "" for row in rows}


async def _latency_run(database: str, url: str, port: int, tokens: list[str], seconds: float) -> Latency:
    channel = CHANNELS[0]  # WhatsApp, whose MessageSid says which request a message came from
    run = uuid.uuid4().hex[:8]
    count = int(RATE * seconds)
    requests = channel.requests(count, run)
    arrivals: dict[int, list[float]] = {}
    ready = 0
    everyone_ready = asyncio.Event()

    def on_message(at: float, event: dict[str, Any]) -> None:
        nonlocal ready
        if event["kind"] == "live.ready":
            ready += 1
            if ready == len(tokens):
                everyone_ready.set()
        elif event["kind"] == "message.created" and event["data"].get("direction") == "inbound":
            arrivals.setdefault(event["data"]["message_id"], []).append(at)

    sockets = [await wsclient.connect("127.0.0.1", port, "/live", cookie=f"{SESSION_COOKIE}={token}")
               for token in tokens]
    listeners = [asyncio.create_task(wsclient.listen(reader, writer, on_message)) for reader, writer in sockets]
    await asyncio.wait_for(everyone_ready.wait(), 30)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{database}: {count} webhooks at {RATE:.0f}/s, {len(tokens)} agents", total=seconds)

        async def tick() -> None:
            started = time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds:
                progress.update(task, completed=elapsed)
                await asyncio.sleep(0.25)

        ticker = asyncio.create_task(tick())
        sent = await loadgen.run("127.0.0.1", port, requests, connections=16, rate=RATE)
        ticker.cancel()
    await asyncio.sleep(2)  # stragglers
    for (_reader, writer), listener in zip(sockets, listeners, strict=True):
        listener.cancel()
        writer.close()
    by_index = {f"SM{run}{i:010d}": i for i in range(count)}
    provider_ids = await _provider_ids(url, set(arrivals))
    latency = Latency(database, sent.ok)
    for message_id, times in arrivals.items():
        index = by_index.get(provider_ids.get(message_id, ""))
        if index is None:
            continue
        latency.samples += [at - sent.sent_at[index] for at in times]
    latency.missing = sent.ok * len(tokens) - len(latency.samples)
    return latency


def latency(database: str, url: str, redis_url: str, seconds: float) -> Latency:
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-"))
    tokens = asyncio.run(_agents(url, AGENTS))
    with uvicorn_process("web.app:create_app", factory=True, env=_env(url, data_dir, redis_url)) as port:
        # A warm-up second so first-request costs stay out of the figures.
        asyncio.run(_latency_run(database, url, port, tokens[:2], 1.0))
        return asyncio.run(_latency_run(database, url, port, tokens, seconds))


def histogram(samples_ms: list[float], *, width: int = 50) -> list[str]:
    edges = [1, 2, 5, 10, 20, 50, 100, 200, 500, float("inf")]
    counts = [0] * len(edges)
    for value in samples_ms:
        counts[next(i for i, edge in enumerate(edges) if value <= edge)] += 1
    top = max(counts) or 1
    lines, low = [], 0.0
    for edge, n in zip(edges, counts, strict=True):
        label = f"{low:>4g}–{edge:<4g} ms" if edge != float("inf") else f"  > {low:<5g} ms"
        share = 100 * n / max(1, len(samples_ms))
        lines.append(f"{label} {'█' * round(width * n / top):<{width}} {n:>7,} ({share:.1f} %)")
        low = edge
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--channels", default="", help="comma-separated: only these channels' rates (for profiling)")
    parser.add_argument("--no-latency", action="store_true", help="leave out the websocket latency run")
    args = parser.parse_args()
    only = {name.strip() for name in args.channels.split(",") if name.strip()} or None

    http_ceiling = asyncio.run(loadgen.ceiling())
    ws_ceiling = asyncio.run(wsclient.ceiling())
    console.print(f"client ceilings: {http_ceiling:,.0f} requests/s; {ws_ceiling:,.0f} websocket frames/s "
                  f"(the latency run receives {RATE * AGENTS:,.0f} frames/s)")
    databases = [("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ot-bench-')}/bench.db", "")]
    if not args.no_postgres:
        try:
            databases.append(("PostgreSQL + Redis", asyncio.run(_fresh_postgres(args.postgres)), args.redis))
        except Exception as error:  # no server here: the SQLite figures still stand
            console.print(f"[yellow]PostgreSQL skipped: {error}[/]")

    rate_rows: list[tuple[str, Rates]] = []
    latencies: list[Latency] = []
    for database, url, redis_url in databases:
        upgrade(url)
        rate_rows += [(database, r) for r in rates(database, url, args.messages, args.rounds, only)]
        if not args.no_latency:
            latencies.append(latency(database, url, redis_url, args.seconds))

    table = Table(title=f"signed webhooks, {args.messages:,} per run, median of {args.rounds} rounds")
    for column in ("database", "channel", "bare FastAPI req/s", "bare ASGI req/s", "signed webhook msg/s",
                   "ratio to FastAPI (goal ≥ 0.5)", "ratio to ASGI", "all 2xx"):
        table.add_column(column, justify="right")
    for database, r in rate_rows:
        table.add_row(database, r.channel, f"{r.bare:,.0f}", f"{r.asgi:,.0f}", f"{r.ours:,.0f}",
                      f"{r.ours / r.bare:.2f}", f"{r.ours / r.asgi:.2f}", "yes" if r.ok else "NO")
    console.print(table)
    table = Table(title=f"webhook → agent websocket, {RATE:.0f} messages/s for {args.seconds:g} s, {AGENTS} agents")
    for column in ("database", "webhooks", "deliveries", "missing", "p50 ms", "p99 ms", "max ms",
                   f"p99 ≤ {GOAL_P99_MS:g} ms"):
        table.add_column(column, justify="right")
    for lat in latencies:
        table.add_row(lat.database, f"{lat.sent:,}", f"{len(lat.samples):,}", f"{lat.missing:,}",
                      f"{lat.percentile(50):.1f}", f"{lat.percentile(99):.1f}", f"{max(lat.samples) * 1000:.1f}",
                      "yes" if lat.percentile(99) <= GOAL_P99_MS else "NO")
    console.print(table)
    for lat in latencies:
        console.print(f"[bold]{lat.database}[/]: webhook → websocket latency")
        for line in histogram([s * 1000 for s in lat.samples]):
            console.print("  " + line)


if __name__ == "__main__":
    main()
