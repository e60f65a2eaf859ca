"""Start real server processes for a bench: one uvicorn worker each, on a free loopback port."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
