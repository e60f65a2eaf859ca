"""Mail through the SMTP listener end to end, against bare aiosmtpd acceptance in the same run.

    python -m bench.email [--messages 2000] [--connections 8] [--rounds 2] [--no-postgres]

Each mail is sent with smtplib from a second process over several connections, and is answered
250 by the app only once it is committed (parse → ingest writer → commit). The baseline is
aiosmtpd alone answering 250 to every DATA (bench/bare_smtp.py), also in a process of its own.
A third of the mails come from senders new to the inbox, as in bench.ingest.
"""

import argparse
import asyncio
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlmodel import col

from bench.ingest import TEXTS, _fresh_postgres
from bench.servers import free_port, uvicorn_process
from inbox.db import make_engine
from inbox.messages.models import Message
from inbox.migrate import upgrade

console = Console(width=150)
SUPPORT = "destek@acme.example"


def mails(count: int, *, run: str) -> list[bytes]:
    """Distinct mails in Turkish and English, UTF-8 quoted-printable, a third from new senders."""
    senders = max(1, count // 3)
    out = []
    for i in range(count):
        mail = EmailMessage()
        who = i * 7919 % senders
        mail["From"] = f"Müşteri {who} <musteri{who}.{run}@example.net>"
        mail["To"] = SUPPORT
        mail["Subject"] = f"Sipariş #{1000 + i % 500} hakkında"
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = f"<bench-{run}-{i}@example.net>"
        text = TEXTS[i % len(TEXTS)].format(n=1000 + i % 500)
        mail.set_content(text + "\n\nİyi çalışmalar,\nMüşteri", cte="quoted-printable")
        out.append(mail.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    return out


@dataclass(frozen=True, slots=True)
class Sent:
    ok: int
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def send_all(port: int, messages: list[bytes], connections: int) -> Sent:
    """smtplib over `connections` connections, one thread each, every mail answered before the next."""
    shares = [messages[i::connections] for i in range(connections)]
    counts = [[0, 0] for _ in shares]
    start = threading.Barrier(connections + 1)

    def work(index: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo()
            start.wait()
            for raw in shares[index]:
                try:
                    client.sendmail("bench@example.net", [SUPPORT], raw)
                    counts[index][0] += 1
                except smtplib.SMTPException:
                    counts[index][1] += 1

    threads = [threading.Thread(target=work, args=(index,)) for index in range(connections)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return Sent(sum(c[0] for c in counts), sum(c[1] for c in counts), elapsed)


def sender_process(port: int, count: int, connections: int, run: str) -> Sent:
    """The mails built and sent by a second Python process, so the client never shares a CPU's
    interpreter with the server it measures."""
    done = subprocess.run([sys.executable, "-m", "bench.email", "--send", str(port), str(count), str(connections),
                           run], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Sent(figures["ok"], figures["errors"], figures["seconds"])


def _listening(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(3) == b"220":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered SMTP on port {port} in {within:.0f} s")
        time.sleep(0.1)


@contextmanager
def bare_smtp() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.bare_smtp", str(port)])
    try:
        _listening(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@dataclass(frozen=True, slots=True)
class Figures:
    database: str
    bare: float
    ours: float
    stored_ok: bool


async def _count_inbound(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(Message).where(
                col(Message.channel) == "email", col(Message.direction) == "inbound"))).scalar_one())
    finally:
        await engine.dispose()


def measure(database: str, url: str, count: int, connections: int, rounds: int) -> Figures:
    upgrade(url)
    data_dir = Path(tempfile.mkdtemp(prefix="onethread-bench-"))
    ours, bare = [], []
    stored_ok = True
    for round_ in range(rounds):
        run = uuid.uuid4().hex[:8]
        console.print(f"[bold]{database}[/]: round {round_ + 1}/{rounds}: bare aiosmtpd …")
        with bare_smtp() as port:
            accepted = sender_process(port, count, connections, run + "b")
        bare.append(accepted.rate)
        console.print(f"[bold]{database}[/]: round {round_ + 1}/{rounds}: SMTP → ingest → commit → 250 …")
        smtp_port = free_port()
        env = {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "REDIS_URL": "", "SUPPORT_ADDRESSES": SUPPORT,
               "SMTP_LISTEN_PORT": str(smtp_port)}
        before = asyncio.run(_count_inbound(url))
        with uvicorn_process("web.app:create_app", factory=True, env=env):
            # /healthz answers once the lifespan has run, and the listener starts inside it.
            _listening(smtp_port)
            kept = sender_process(smtp_port, count, connections, run)
        ours.append(kept.rate)
        stored = asyncio.run(_count_inbound(url)) - before
        stored_ok &= kept.errors == 0 and stored == count
    return Figures(database, statistics.median(bare), statistics.median(ours), stored_ok)


def main() -> None:
    if sys.argv[1:2] == ["--send"]:
        port, count, connections, run = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        sent = send_all(port, mails(count, run=run), connections)
        print(json.dumps({"ok": sent.ok, "errors": sent.errors, "seconds": sent.seconds}))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    figures = [measure("SQLite", f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ot-bench-')}/bench.db",
                       args.messages, args.connections, args.rounds)]
    if not args.no_postgres:
        try:
            url = asyncio.run(_fresh_postgres(args.postgres))
        except Exception as error:  # no server here: the SQLite figures still stand
            console.print(f"[yellow]PostgreSQL skipped: {error}[/]")
        else:
            figures.append(measure("PostgreSQL", url, args.messages, args.connections, args.rounds))

    table = Table(title=f"email over SMTP, {args.messages:,} mails per run over {args.connections} connections, "
                        f"median of {args.rounds} rounds")
    for column in ("database", "bare aiosmtpd mails/s", "listener → commit → 250 mails/s", "ratio",
                   "all stored once"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(f.database, f"{f.bare:,.0f}", f"{f.ours:,.0f}", f"{f.ours / f.bare:.2f}" if f.bare else "–",
                      "yes" if f.stored_ok else "NO")
    console.print(table)


if __name__ == "__main__":
    main()
