"""A real `onethread serve` process the soak tests can kill -9 and start again on the same port."""

import asyncio
import os
import signal
from pathlib import Path

import httpx

from tests.web.test_cli import ONETHREAD, _free_port


class ServerProcess:
    def __init__(self, env: dict[str, str], cwd: Path, *options: str) -> None:
        self.env, self.cwd, self.options = env, cwd, options
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kills = 0
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        # Output to a file: a full pipe nobody reads would stall the server mid-soak.
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = (self.cwd / f"server-{self.port}.log").open("ab")
        self._process = await asyncio.create_subprocess_exec(
            *ONETHREAD, "serve", "--port", str(self.port), *self.options, env=self.env, cwd=self.cwd,
            stdout=log, stderr=log)
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(600):
                if self._process.returncode is not None:
                    raise AssertionError(f"the server exited with {self._process.returncode}: see {log.name}")
                try:
                    if (await client.get("/healthz", timeout=1)).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise AssertionError("the server did not answer /healthz within 60 s")

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, whatever was in flight is cut off."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        await self._process.wait()
        self.kills += 1

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self._process.wait(), 60)


def environment(**settings: str) -> dict[str, str]:
    """This environment without the test runner's own settings, plus the server's."""
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("TEST_", "PYTEST", "DATABASE_URL", "REDIS_URL"))}
    return {**base, **settings}
