"""A sliding-window limit kept in this process: what one visitor may do per minute.

Per process on purpose: it paces a chatty browser, whose socket lives in one process. What must hold
across processes (new anonymous visitors per address) is counted in the database instead.
"""

import time
from collections import deque
from collections.abc import Callable


class Window:
    def __init__(self, limit: int, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._seen: dict[object, deque[float]] = {}

    def allow(self, key: object, *, limit: int | None = None) -> bool:
        """Count one more for `key` if that stays within the limit; False (and nothing counted) if not."""
        now = self._clock()
        recent = self._seen.setdefault(key, deque())
        while recent and recent[0] <= now - self.seconds:
            recent.popleft()
        if len(recent) >= (limit or self.limit):
            return False
        recent.append(now)
        if len(self._seen) > 10_000:
            self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for key in [key for key, times in self._seen.items() if not times or times[-1] <= now - self.seconds]:
            del self._seen[key]
