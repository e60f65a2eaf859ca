"""A network a test can cut: a loopback TCP relay in front of a server.

A browser's offline emulation leaves open websockets alone, so a test of "the connection dropped"
puts this between the browser and the app instead: `cut()` drops every connection through it and
refuses new ones, `restore()` lets them through again, as a phone leaving and finding a network does.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


class Network:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._open: set[asyncio.StreamWriter] = set()
        self.up = True
        self.url = ""

    def cut(self) -> None:
        self.up = False
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        self.up = True

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if not self.up:
            client_writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            client_writer.transport.abort()
            return
        self._open |= {client_writer, server_writer}
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                self._open.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    # One direction ending ends the other: a relay half open would hold the browser's socket forever.
    writer.transport.abort()


@asynccontextmanager
async def relay(target: str) -> AsyncIterator[Network]:
    """A Network in front of `target` (a base URL); its own base URL is `.url`."""
    network = Network(target)
    server = await asyncio.start_server(network._relay, "127.0.0.1", 0)
    network.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield network
    finally:
        network.cut()
        server.close()
        await server.wait_closed()
