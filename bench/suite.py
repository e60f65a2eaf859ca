"""Every figure a buyer asks about, each beside the baseline that sets its limit, in one run:

    python -m bench [--scale 1] [--no-postgres] [--quick] [--no-write]

On SQLite, and on PostgreSQL + Redis when reachable: the dataset (200k customers, 2M messages,
300k orders at scale 1; generated once with a progress bar, then cached), signed-webhook ingest
against a bare FastAPI endpoint, webhook → agent websocket latency, the inbox pages and search,
the memory of a server that served them, cold start, and on PostgreSQL two processes against
one. Servers are separate processes; load comes from raw asyncio clients whose ceilings are
printed first. The table goes to the terminal and, between markers, to docs/benchmarks.md.
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench import channels, ingest, loadgen, ui, wsclient
from bench.dataset import Dataset, postgres_dataset, sqlite_dataset
from bench.servers import free_port, resident_mb, running, uvicorn_process
from inbox.migrate import upgrade

console = Console(width=160)
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench suite: begin -->", "<!-- bench suite: end -->"
GOAL_MEMORY_MB = 300.0
GOAL_COLD_START_S = 2.0
GOAL_TWO_PROCESSES = 1.6


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    database: str
    measured: str
    baseline: str
    goal: str
    met: bool


@dataclass(frozen=True, slots=True)
class Plan:
    scale: float
    messages: int
    rounds: int
    seconds: float
    requests: int


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} × {cpu}, {memory} GiB, Python {platform.python_version()}, "
            f"load average {load:.2f} at the start")


def cold_start(target: list[str], env: dict[str, str], *, tries: int = 3) -> float:
    """Seconds from starting the process to its first 200 on /healthz (median of `tries`)."""
    seconds = []
    for _ in range(tries):
        port = free_port()
        started = time.perf_counter()
        process = subprocess.Popen([*target, "--port", str(port)], env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{target} exited with {process.returncode}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            seconds.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(30)
    return statistics.median(seconds)


def bare_memory_mb() -> float:
    """A bare FastAPI app's resident memory after answering requests: the floor of any such server."""
    with uvicorn_process("bench.bare_app:app") as port:
        asyncio.run(loadgen.run("127.0.0.1", port, [loadgen.build_get("127.0.0.1", "/healthz")] * 2000))
        return resident_mb(running[port])


def pages(database: str, dataset: Dataset, plan: Plan) -> list[Row]:
    memory: list[tuple[float, float]] = []
    figures = ui.measure(database, dataset, plan.requests, before_stop=lambda port: memory.append(
        (resident_mb(running[port]), resident_mb(running[port], "RssAnon"))))
    ui.report(database, dataset, figures)
    rows = [Row(f"{f.what}, server p95", database, f"{f.server_p95:.1f} ms",
                f"the query alone {f.query_p95:.2f} ms", f"≤ {f.goal:.0f} ms", f.server_p95 <= f.goal)
            for f in figures]
    sizes = dataset.sizes
    rows.append(Row(f"resident memory, one process after serving {sizes.customers:,} customers' pages",
                    database, f"{memory[0][0]:.0f} MB, of which its own {memory[0][1]:.0f} MB (the rest: files "
                    "mapped from the page cache)", f"bare FastAPI {bare_memory_mb():.0f} MB",
                    f"≤ {GOAL_MEMORY_MB:.0f} MB", memory[0][0] <= GOAL_MEMORY_MB))
    onethread = [sys.executable, "-m", "web.cli", "serve"]
    ours = cold_start(onethread, {"DATABASE_URL": dataset.url, "DATA_DIR": tempfile.mkdtemp(), "REDIS_URL": ""})
    bare = cold_start([sys.executable, "-m", "uvicorn", "bench.bare_app:app"], {})
    rows.append(Row("cold start to the first 200 on /healthz (`onethread serve`, migrations checked)", database,
                    f"{ours:.2f} s", f"bare FastAPI {bare:.2f} s", f"≤ {GOAL_COLD_START_S:.0f} s",
                    ours <= GOAL_COLD_START_S))
    return rows


def traffic(database: str, url: str, redis_url: str, plan: Plan) -> list[Row]:
    upgrade(url)
    figures = ingest.measure(database, url, plan.messages, plan.rounds)
    ratio = figures.http_ours / figures.http_bare
    rows = [Row("signed WhatsApp webhooks → committed, msg/s", database,
                f"{figures.http_ours:,.0f} ({ratio:.2f}×)",
                f"bare FastAPI {figures.http_bare:,.0f} req/s (bare ASGI {figures.http_asgi:,.0f})",
                "≥ 0.5×", ratio >= 0.5)]
    latency = channels.latency(database, url, redis_url, plan.seconds)
    rows.append(Row(f"webhook → agent websocket, {channels.RATE:.0f} msg/s, {channels.AGENTS} agents", database,
                    f"p50 {latency.percentile(50):.1f} / p99 {latency.percentile(99):.1f} ms "
                    f"({latency.missing} missing)", "client's own time: see the ceilings above",
                    f"p99 ≤ {channels.GOAL_P99_MS:.0f} ms",
                    latency.percentile(99) <= channels.GOAL_P99_MS and latency.missing == 0))
    if not url.startswith("sqlite"):
        one, one_cpu = ingest.processes_rate(url, plan.messages, 1)
        two, two_cpu = ingest.processes_rate(url, plan.messages, 2)
        # Beside the rates, where the CPU went: a second process can only use what the first leaves idle.
        rows.append(Row("two app processes against one: ingest msg/s", database,
                        f"{two:,.0f} ({two / one:.2f}×); {two_cpu}",
                        f"one process {one:,.0f}; {one_cpu}", f"≥ {GOAL_TWO_PROCESSES}×",
                        two / one >= GOAL_TWO_PROCESSES))
    return rows


def render(rows: list[Row], *, plan: Plan, where: str, ceilings: str, started: datetime, seconds: float) -> str:
    lines = [BEGIN, "",
             f"Latest run of `python -m bench --scale {plan.scale:g}`: {started:%Y-%m-%d %H:%M} UTC, "
             f"{seconds / 60:.0f} min, on {where}. {ceilings}", "",
             "| figure | database | measured | baseline | goal | met |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.database} | {r.measured} | {r.baseline} | {r.goal} | {'✔' if r.met else '✘'} |"
              for r in rows]
    lines += ["", END]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{block}\n{body}"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size; 1 = 200k customers")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small dataset and short loads")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()
    plan = (Plan(scale=min(args.scale, 0.01), messages=600, rounds=1, seconds=3, requests=30) if args.quick
            else Plan(scale=args.scale, messages=3000, rounds=2, seconds=20, requests=300))
    where = machine()
    started, began = datetime.now(UTC), time.perf_counter()
    ceilings = (f"Client ceilings: {asyncio.run(loadgen.ceiling()):,.0f} requests/s (HTTP), "
                f"{asyncio.run(wsclient.ceiling()):,.0f} frames/s (websocket).")
    console.print(where)
    console.print(ceilings)

    rows: list[Row] = []
    sqlite_dir = Path(tempfile.mkdtemp(prefix="ot-bench-"))
    rows += pages("SQLite", sqlite_dataset(plan.scale), plan)
    rows += traffic("SQLite", f"sqlite+aiosqlite:///{sqlite_dir}/bench.db", "", plan)
    if not args.no_postgres:
        try:
            traffic_url = asyncio.run(ingest._fresh_postgres(args.postgres))
        except Exception as error:  # no server here: the SQLite figures still stand
            console.print(f"[yellow]PostgreSQL skipped: {error}[/]")
        else:
            pages_url = args.postgres.rsplit("/", 1)[0] + "/bench_ui"
            asyncio.run(_ensure_database(args.postgres, "bench_ui"))
            rows += pages("PostgreSQL", postgres_dataset(plan.scale, pages_url), plan)
            rows += traffic("PostgreSQL + Redis", traffic_url, args.redis, plan)
    shutil.rmtree(sqlite_dir, ignore_errors=True)

    table = Table(title=f"onethread bench, scale {plan.scale:g}: {where}")
    for column in ("figure", "database", "measured", "baseline", "goal", "met"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.figure, r.database, r.measured, r.baseline, r.goal, "[green]✔[/]" if r.met else "[red]✘[/]")
    console.print(table)
    if not args.no_write:
        write_doc(render(rows, plan=plan, where=where, ceilings=ceilings, started=started,
                         seconds=time.perf_counter() - began))
        console.print(f"written to {DOC}")
    missed = [f"{r.database}: {r.figure}" for r in rows if not r.met]
    console.print("every goal met" if not missed else "[yellow]below goal:[/] " + "; ".join(missed))


async def _ensure_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
