"""A raw asyncio websocket client: a handshake, then frames read straight off the socket (and, for
the web chat's visitors, a few sent). One Python `websockets` client tops out near 13k frames/s
here, too close to what 50 agents receive at 100 messages/s to tell the server's delay from the
client's; `ceiling()` shows this one's margin.
"""

import asyncio
import base64
import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any

_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


async def connect(host: str, port: int, path: str, *, cookie: str = "",
                  origin: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if cookie:
        head.append(f"Cookie: {cookie}")
    if origin:
        head.append(f"Origin: {origin}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = await reader.readuntil(b"\r\n\r\n")
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(answer.split(b"\r\n", 1)[0].decode())
    return reader, writer


def _masked(opcode: int, payload: bytes) -> bytes:
    # Client frames must be masked (RFC 6455 §5.3).
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        length = bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        length = bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    return bytes([0x80 | opcode]) + length + mask + body


def send_json(writer: asyncio.StreamWriter, frame: dict[str, Any]) -> None:
    writer.write(_masked(_TEXT, json.dumps(frame, separators=(",", ":")).encode()))


async def listen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_message: Callable[[float, dict[str, Any]], None]) -> None:
    """Call on_message(arrival time, decoded JSON) for each text frame until the server closes."""
    while True:
        try:
            first, second = await reader.readexactly(2)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        opcode = first & 0x0F
        if opcode == _TEXT:
            on_message(time.perf_counter(), json.loads(payload))
        elif opcode == _PING:
            writer.write(_masked(_PONG, payload))
        elif opcode == _CLOSE:
            writer.write(_masked(_CLOSE, payload[:2]))
            return


async def ceiling(connections: int = 50, frames_each: int = 4000) -> float:
    """Frames/s these clients read from a loopback server that sends ready-made frames flat out."""
    payload = json.dumps({"id": 1, "kind": "message.created", "thread_id": 1, "customer_id": 1,
                          "data": {"message_id": 1, "direction": "inbound", "channel": "whatsapp"}}).encode()
    frame = bytes([0x81, 126]) + struct.pack("!H", len(payload)) + payload
    close = bytes([0x88, 0])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        for _ in range(frames_each // 100):
            writer.write(frame * 100)
            await writer.drain()
        writer.write(close)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    received = 0

    def count(_at: float, _event: dict[str, Any]) -> None:
        nonlocal received
        received += 1

    started = time.perf_counter()

    async def one() -> None:
        reader, writer = await connect("127.0.0.1", port, "/")
        await listen(reader, writer, count)
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    server.close()
    return received / elapsed
