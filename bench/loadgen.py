"""A raw asyncio HTTP/1.1 load generator: pre-built request bytes over keep-alive connections.

httpx tops out near 200–300 requests/s here, far below the endpoints we measure, so it would
measure itself. This client does one write and one framed read per request and nothing else;
`ceiling()` measures it against a server that does no work, to show it is not the limit.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Result:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    # When each request went out (perf_counter), by its index in the list given to run().
    sent_at: dict[int, float] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def build_post(host: str, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_get(host: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and the head of one response whose body is framed by Content-Length; the body is read past."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status, head


async def run(host: str, port: int, requests: Sequence[bytes], *, connections: int = 32,
              rate: float | None = None) -> Result:
    """Send every request once; open-loop at `rate` per second when given, else as fast as answered."""
    result = Result()
    cursor = iter(range(len(requests)))
    started = time.perf_counter()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in cursor:
                if rate:
                    due = started + index / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                sent_at = result.sent_at[index] = time.perf_counter()
                writer.write(requests[index])
                result.sent += 1
                status, _head = await read_response(reader)
                result.latencies.append(time.perf_counter() - sent_at)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    result.ok += 1
                else:
                    result.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result


async def ceiling(count: int = 60_000, connections: int = 32) -> float:
    """Requests/s this client reaches against a loopback server that answers instantly."""
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(response)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    body = b"x" * 600
    requests = [build_post("127.0.0.1", "/", body, "application/x-www-form-urlencoded")] * count
    try:
        result = await run("127.0.0.1", port, requests, connections=connections)
    finally:
        server.close()
    return result.rate
