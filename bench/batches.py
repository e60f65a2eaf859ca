"""What one ingest batch costs the writer: CPU and wall time per batch at a few batch sizes, so
the fixed part (the statements, their round trips, the transaction) and the part per message
can be told apart. CPU time, unlike a rate, hardly moves when a neighbour takes the other core.

    python -m bench.batches [--sizes 1,8,32] [--batches 400] [--no-postgres]
                            [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Known senders writing into open cases (the webhook rounds' case): the senders are created by a
warm-up first. Batches go through the ingest writer one after another, each `size` webhooks
submitted together, on a fresh database.
"""

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench.ingest import _analyze, _fresh_postgres, events
from inbox.db import make_engine, make_sessionmaker
from inbox.files import FileStore
from inbox.ingest import IngestConfig
from inbox.ingest_queue import IngestWriter
from inbox.migrate import upgrade
from inbox.realtime import LocalHub

SENDERS = 500
console = Console(width=120)


async def _measure(url: str, size: int, batches: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per batch of `size`."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine, hub=LocalHub())
    config = IngestConfig(region="TR", files=FileStore(Path(tempfile.mkdtemp(prefix="ot-batches-")),
                                                       max_bytes=1 << 20))
    writer = IngestWriter(sessions, config, lanes=1)
    await writer.start()
    try:
        for event in events(SENDERS, senders=SENDERS, run=uuid.uuid4().hex[:8]):  # every sender known
            await writer.submit([event])
        batch = events(size * batches, senders=SENDERS, run=uuid.uuid4().hex[:8])
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(batch), size):
            await asyncio.gather(*(writer.submit([event]) for event in batch[start:start + size]))
        return (time.process_time() - cpu) / batches * 1000, (time.perf_counter() - wall) / batches * 1000
    finally:
        await writer.stop()
        await engine.dispose()


def measure(database: str, url: str, sizes: list[int], batches: int) -> list[tuple[int, float, float]]:
    upgrade(url)
    asyncio.run(_analyze(url))
    return [(size, *asyncio.run(_measure(url, size, batches)))
            for size in track(sizes, description=f"{database}: batch sizes", console=console)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,8,32")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    results = {"SQLite": measure("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ot-batches-')}/b.db",
                                 sizes, args.batches)}
    if not args.no_postgres:
        try:
            url = asyncio.run(_fresh_postgres(args.postgres, "onethread_batches"))
        except (OSError, Exception) as error:  # no server here: SQLite figures still stand
            console.print(f"[yellow]PostgreSQL skipped: {error}[/]")
        else:
            results["PostgreSQL"] = measure("PostgreSQL", url, sizes, args.batches)

    table = Table(title=f"one ingest batch, known senders, {args.batches} batches per size")
    for column in ("database", "messages per batch", "CPU ms per batch", "wall ms per batch", "CPU µs per message"):
        table.add_column(column, justify="right")
    for database, rows in results.items():
        for size, cpu, wall in rows:
            table.add_row(database, str(size), f"{cpu:.2f}", f"{wall:.2f}", f"{cpu / size * 1000:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
