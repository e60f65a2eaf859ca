"""Webhooks under kill -9: the server is killed while webhooks stream in, and started again.

    python -m tests.soak [--webhooks 10000] [--kills 3] [--database-url postgresql://…]

What must hold: every message a provider sent is stored exactly once, however often the provider
had to send it again and whenever the server died (a webhook is answered only after its commit).
"""

import asyncio
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from inbox.db import make_engine
from inbox.messages.models import Message
from tests.soak.server import ServerProcess, environment
from tests.soak.webhooks import SETTINGS, deliver, mixed


@dataclass(frozen=True, slots=True)
class Figures:
    sent: int
    stored: int
    lost: int
    duplicated: int
    kills: int
    attempts: int

    def line(self) -> str:
        return ", ".join(f"{name} {value:,}" for name, value in asdict(self).items())


async def run(database_url: str, *, webhooks: int, kills: int, data_dir: Path | None = None,
              run_id: str = "0a1b2c") -> Figures:
    """On a database the migrations made (the server's own start checks them)."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="onethread-soak-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    # Meta's name lookup points at a closed port: it fails at once, and the message is kept without a name.
    server = ServerProcess(environment(**SETTINGS, DATABASE_URL=database_url, DATA_DIR=str(data_dir),
                                       META_GRAPH_BASE_URL="http://127.0.0.1:9", SMTP_LISTEN_PORT="0"), data_dir,
                           "--no-mail", "--no-workers")
    batch = mixed(webhooks, run_id)
    killed_at = [webhooks * (n + 1) // (kills + 1) for n in range(kills)]
    reached = asyncio.Event()
    acknowledged = 0

    def progress(count: int) -> None:
        nonlocal acknowledged
        acknowledged = count
        if killed_at and count >= killed_at[0]:
            reached.set()

    async def killer() -> None:
        while killed_at:
            await reached.wait()
            reached.clear()
            killed_at.pop(0)
            await server.kill()
            await server.start()
            if killed_at and acknowledged >= killed_at[0]:
                reached.set()

    await server.start()
    try:
        kill_task = asyncio.create_task(killer())
        delivery = await deliver(server.port, batch, progress=progress)
        await kill_task
    finally:
        await server.stop()
    kept = await _kept(database_url, {webhook.marker for webhook in batch})
    return Figures(sent=len(batch), stored=sum(1 for marker in kept if kept[marker] >= 1),
                   lost=sum(1 for webhook in batch if kept.get(webhook.marker, 0) == 0),
                   duplicated=sum(count - 1 for count in kept.values() if count > 1), kills=server.kills,
                   attempts=delivery.attempts)


async def _kept(database_url: str, markers: set[str]) -> Counter[str]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(col(Message.text), func.count()).where(col(Message.direction) == "inbound")
                .group_by(col(Message.text)))
            return Counter({text: count for text, count in rows if text in markers})
    finally:
        await engine.dispose()
