"""Waiting for what another task or process commits: the database is polled, the wait is bounded."""

import asyncio
from collections.abc import Awaitable, Callable


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - what is awaited lives in the database
            await asyncio.sleep(0.02)
