"""Start real server processes for a bench: one uvicorn worker each, on a free loopback port."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# port → pid of each server running now, for figures read off the process (memory).
running: dict[int, int] = {}


def resident_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident set size (Linux), or one part of it: RssAnon is the memory the
    process itself holds; RssFile is files mapped from the OS page cache (libraries, and SQLite's
    memory-mapped database), which the kernel takes back under pressure."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no {field} for process {pid}")


@contextmanager
def uvicorn_process(target: str, *, env: dict[str, str] | None = None, factory: bool = False,
                    port: int | None = None) -> Iterator[int]:
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log"]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env={**os.environ, **(env or {})})
    running[port] = process.pid
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not answer /healthz in 30 s")
            time.sleep(0.1)
        yield port
    finally:
        running.pop(port, None)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """Seconds of CPU the process has used, user and system."""
    # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): user and system ticks.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):  # a process that ended meanwhile
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def _machine_busy() -> tuple[float, float]:
    # /proc/stat's first line: user nice system idle iowait irq softirq steal …, in ticks.
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / _TICK, sum(ticks) / _TICK


@dataclass
class CpuShare:
    """Where the machine's CPU went during a measurement, in cores: which part of the run ran out of it."""

    cores: int
    busy: float = 0.0  # of all cores, 0–1
    servers: float = 0.0
    postgres: float = 0.0
    bench: float = 0.0  # this process: the load generator

    def __str__(self) -> str:
        return (f"CPU {self.busy:.0%} busy on {self.cores} cores: app {self.servers:.2f}, "
                f"PostgreSQL {self.postgres:.2f}, load generator {self.bench:.2f} cores")


@contextmanager
def cpu_share(server_pids: list[int]) -> Iterator[CpuShare]:
    """Measures the CPU the servers, PostgreSQL's processes and this one use while the block runs."""
    share = CpuShare(os.cpu_count() or 1)

    def sample() -> tuple[float, float, float, float, float]:
        postgres = 0.0
        for pid in _named("postgres"):
            with suppress(OSError):  # a backend that ended meanwhile
                postgres += cpu_of(pid)
        busy, total = _machine_busy()
        return busy, total, sum(cpu_of(pid) for pid in server_pids), postgres, cpu_of(os.getpid())

    started, wall = sample(), time.perf_counter()
    yield share
    ended, seconds = sample(), time.perf_counter() - wall
    share.busy = (ended[0] - started[0]) / max(ended[1] - started[1], 1e-9)
    # A PostgreSQL backend that ended meanwhile drops out of the sum: never below zero.
    share.servers, share.postgres, share.bench = (max(end - start, 0.0) / seconds
                                                   for start, end in zip(started[2:], ended[2:], strict=True))
