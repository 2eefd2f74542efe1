"""Named task locks held by the Dask scheduler, so they hold across every coordinator.

Each name is a `distributed.Lock` (a one-lease semaphore on the scheduler; a coordinator
that dies loses its leases after the scheduler's lease timeout). Names are taken in sorted
order, like the local locks, so two tasks never deadlock. Acquiring waits in short rounds:
a cancelled wait (Ctrl-C, a dashboard cancel) lets the round in flight finish in the
background and gives back the lease if it was granted, so no lease outlives its task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

PREFIX = "wtpar-lock:"
_ROUND = 2.0  # seconds one acquire request waits on the scheduler


class SchedulerLocks:
    """Named locks on the scheduler of `client`."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._locks: dict[str, Any] = {}

    def _lock(self, name: str) -> Any:
        """One Lock object per name (each refreshes its leases on a timer of its own)."""
        from distributed import Lock

        lock = self._locks.get(name)
        if lock is None:
            lock = Lock(PREFIX + name, scheduler_rpc=self.client.scheduler, loop=self.client.loop)
            self._locks[name] = lock
        return lock

    def close(self) -> None:
        """Stop the lease refresh timers."""
        for lock in self._locks.values():
            callback = getattr(lock, "refresh_callback", None)
            if callback is not None:
                callback.stop()

    async def _acquire(self, lock: Any) -> None:
        while True:
            attempt = asyncio.ensure_future(lock.acquire(timeout=_ROUND))
            try:
                if await asyncio.shield(attempt):
                    return
            except asyncio.CancelledError:
                attempt.add_done_callback(lambda done: _give_back(lock, done))
                raise

    @asynccontextmanager
    async def hold(self, names: Iterable[str]) -> AsyncIterator[None]:
        """Hold every named lock (taken in sorted order) for the duration of the block."""
        held: list[Any] = []
        try:
            for name in sorted(set(names)):
                lock = self._lock(name)
                await self._acquire(lock)
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                await _release(lock)


async def _release(lock: Any) -> None:
    with contextlib.suppress(OSError, RuntimeError):  # the scheduler is gone, with the lease
        await lock.release()


def _give_back(lock: Any, done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is None and done.result():
        asyncio.ensure_future(_release(lock))
