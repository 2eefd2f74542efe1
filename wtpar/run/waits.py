"""Which task instances of a run wait for which, and the order they become ready in.

An instance is ready once every dependency and its trigger (a cascade's `after`) have
finished. Readiness is counted, not awaited: a run of thousands of instances keeps no
coroutine per waiting instance. Handling a ready instance may finish it at once (skipped,
cancelled) and so make others ready: those are handled by the same loop, in order, never by
recursion (a chain of thousands would overflow the stack).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from wtpar.model import TaskKey
from wtpar.run.live import LiveTask


class Waits:
    """The dependents of every instance; `on_ready(live)` is called for each ready one."""

    def __init__(self, lives: Iterable[LiveTask], on_ready: Callable[[LiveTask], None]) -> None:
        self._dependents: dict[TaskKey, list[LiveTask]] = {}
        for live in lives:
            inst = live.instance
            for key in {*inst.deps, *([inst.trigger] if inst.trigger else [])}:
                live.waiting += 1
                self._dependents.setdefault(key, []).append(live)
        self._on_ready = on_ready
        self._queue: deque[LiveTask] | None = None

    def finished(self, key: TaskKey) -> list[LiveTask]:
        """`key` finished: the instances that waited for it and for nothing else now."""
        ready = []
        for live in self._dependents.pop(key, ()):
            live.waiting -= 1
            if not live.waiting:
                ready.append(live)
        return ready

    def ready(self, lives: Iterable[LiveTask]) -> None:
        """Hand these ready instances to `on_ready`, in order, and after them those made
        ready meanwhile (by `on_ready` finishing one)."""
        if self._queue is not None:
            self._queue.extend(lives)  # called from on_ready: the loop below takes them
            return
        self._queue = queue = deque(lives)
        try:
            while queue:
                self._on_ready(queue.popleft())
        finally:
            self._queue = None
