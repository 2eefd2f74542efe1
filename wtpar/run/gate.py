"""The start gate: at most `limit` attempts in flight, and when several wait, the best
ranked goes first (schedule.py decides the ranks; this only enforces them).

Without it, ready tasks would race for the executor's slots in the order their coroutines
happened to reach them, which is the listed order. Admissions are decided one loop
iteration after a request, so every task made ready by the same event competes.

The limit is read again at each admission when it is a function (a Dask cluster's capacity
changes as workers come and go).

A hold-back check (`[run] max_memory_percent`) can stop new starts while it says why;
running attempts continue, and it is asked again every `recheck` seconds. So that a run
always moves, one attempt may start when none of this run's is in flight.

A holder either awaits its turn (`turn`), or is queued (`queue`) and started by the gate's
`start` callback when its turn comes: thousands of queued items then cost a heap entry
each, not a waiting coroutine each.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

HoldBack = Callable[[], "str | None"]


class Queued(Protocol):
    """An item queued for its turn; once done (cancelled, say) it is dropped unstarted."""

    def done(self) -> bool:
        """True when the item no longer wants its turn."""


class StartGate:
    """Admits up to `limit` holders at once, best rank first."""

    def __init__(
        self,
        limit: int | Callable[[], int],
        hold_back: HoldBack | None = None,
        recheck: float = 0.5,
        on_hold: Callable[[str | None], None] | None = None,
        start: Callable[[Any], None] | None = None,
    ) -> None:
        self._limit = limit
        self.active = 0
        self.holding: str | None = None
        self._hold_back = hold_back
        self._recheck = recheck
        self._on_hold = on_hold
        self._start = start
        self._waiting: list[tuple[Any, int, asyncio.Future[None] | Queued]] = []
        self._seq = itertools.count()
        self._pump_pending = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def limit(self) -> int:
        """How many may hold a place at once, now."""
        return self._limit() if callable(self._limit) else self._limit

    @asynccontextmanager
    async def turn(self, rank: Any) -> AsyncIterator[None]:
        """Wait for this rank's turn, and hold a place for the duration of the block."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiting, (rank, next(self._seq), future))
        self._schedule()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._leave()  # admitted and cancelled in the same iteration
            else:
                future.cancel()
            raise
        try:
            yield
        finally:
            self._leave()

    def queue(self, rank: Any, item: Queued) -> None:
        """Call `start(item)` when this rank's turn comes; the item then holds a place until
        `leave()`."""
        heapq.heappush(self._waiting, (rank, next(self._seq), item))
        self._schedule()

    def leave(self) -> None:
        """Give back the place of an item started by the gate (see `queue`)."""
        self._leave()

    def _leave(self) -> None:
        self.active -= 1
        self._schedule()

    def _schedule(self) -> None:
        if not self._pump_pending:
            self._pump_pending = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_pending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting and self._waiting[0][2].done():
            heapq.heappop(self._waiting)
        reason = None
        limit = self.limit
        if self._waiting and self.active < limit and self._hold_back is not None:
            reason = self._hold_back()
        if reason is None:
            self._set_holding(None)
            while self._waiting and self.active < limit:
                self._admit()
            return
        while self.active == 0 and self._waiting:
            self._admit()  # held back, but nothing of this run runs: one, so the run moves
        self._set_holding(reason if self._waiting else None)
        if self._waiting:
            self._timer = asyncio.get_running_loop().call_later(self._recheck, self._schedule)

    def _admit(self) -> None:
        _, _, entry = heapq.heappop(self._waiting)
        if entry.done():
            return
        self.active += 1
        if isinstance(entry, asyncio.Future):
            entry.set_result(None)
        else:
            assert self._start is not None, "queue() needs a gate made with start="
            self._start(entry)

    def _set_holding(self, reason: str | None) -> None:
        if reason != self.holding:
            self.holding = reason
            if self._on_hold is not None:
                self._on_hold(reason)
