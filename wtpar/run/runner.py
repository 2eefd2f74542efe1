"""Running a dispatcher from synchronous code (the CLI): a new event loop, the progress
ticker, and the signals that interrupt a run (once: stop and terminate; twice: kill)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from wtpar.model import RunReport
from wtpar.run.dispatch import Dispatcher

_T = TypeVar("_T")


def run_sync(
    dispatcher: Dispatcher,
    on_tick: Callable[[], None] | None = None,
    tick_interval: float = 0.25,
    on_interrupt: Callable[[int], None] | None = None,
) -> RunReport:
    """Run a dispatcher on a new event loop, blocking; Ctrl-C once interrupts it (partial
    report, `report.interrupted`), twice kills every task at once. `on_tick` is called
    every `tick_interval` seconds (the CLI's progress line), `on_interrupt` with the number
    of Ctrl-C presses so far."""

    def interrupted(presses: int) -> None:
        if presses == 1:
            dispatcher.interrupt()
        else:
            dispatcher.kill_now()
        if on_interrupt is not None:
            on_interrupt(presses)

    async def main() -> RunReport:
        ticker = asyncio.create_task(_tick(on_tick, tick_interval)) if on_tick else None
        try:
            return await dispatcher.run()
        finally:
            if ticker is not None:
                ticker.cancel()

    return run_with_signals(main, interrupted)


def run_with_signals(main: Callable[[], Awaitable[_T]], on_signal: Callable[[int], None]) -> _T:
    """Run `main()` on a new event loop, blocking; each SIGINT or SIGTERM calls
    `on_signal(presses so far)` on the loop (handled only on the main thread)."""

    async def guarded() -> _T:
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            presses = [0]

            def interrupted() -> None:
                presses[0] += 1
                on_signal(presses[0])

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, interrupted)
                handled.append(sig)
        try:
            return await main()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


async def _tick(callback: Callable[[], None], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        callback()
