"""Running a dispatcher from synchronous code (the CLI): a new event loop, the progress
ticker, and the signals that interrupt a run (once: stop and terminate; twice: kill):
Ctrl-C, SIGTERM and SIGHUP alike, each reported as itself."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from wtpar.model import RunReport
from wtpar.run.dispatch import Dispatcher

_T = TypeVar("_T")

INTERRUPTING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that interrupt a run: Ctrl-C, `kill`, and the terminal closing."""


def run_sync(
    dispatcher: Dispatcher,
    on_tick: Callable[[], None] | None = None,
    tick_interval: float = 0.25,
    on_interrupt: Callable[[int, str], None] | None = None,
) -> RunReport:
    """Run a dispatcher on a new event loop, blocking. A first SIGINT, SIGTERM or SIGHUP
    interrupts it (running tasks terminated, partial report, `report.signal`), a second
    kills every task at once. `on_tick` is called every `tick_interval` seconds (the CLI's
    progress line), `on_interrupt` with the number of signals so far and the signal's name."""

    def interrupted(presses: int, signal_name: str) -> None:
        if presses == 1:
            dispatcher.interrupt(signal_name)
        else:
            dispatcher.kill_now(signal_name)
        if on_interrupt is not None:
            on_interrupt(presses, signal_name)

    async def main() -> RunReport:
        ticker = asyncio.create_task(_tick(on_tick, tick_interval)) if on_tick else None
        try:
            return await dispatcher.run()
        finally:
            if ticker is not None:
                ticker.cancel()

    return run_with_signals(main, interrupted)


def run_with_signals(
    main: Callable[[], Awaitable[_T]], on_signal: Callable[[int, str], None]
) -> _T:
    """Run `main()` on a new event loop, blocking; each SIGINT, SIGTERM or SIGHUP calls
    `on_signal(signals so far, its name)` on the loop (handled only on the main thread)."""

    # The result is handed over here, not returned by the loop's main task: as asyncio.run
    # ends it asks for SIGINT's handler, and `signal.getsignal` builds (and drops) a message
    # holding the repr of its own handler, which holds the task, which holds its result: for
    # a run of 5000 tasks, the repr of the whole report, twice (1.4 MB and 15 ms each).
    results: list[_T] = []

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            presses = [0]

            def interrupted(sig: signal.Signals) -> None:
                presses[0] += 1
                on_signal(presses[0], sig.name)

            for sig in INTERRUPTING:
                previous[sig] = signal.getsignal(sig)
                loop.add_signal_handler(sig, interrupted, sig)
        try:
            results.append(await main())
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                signal.signal(sig, handler)  # asyncio would leave the default behind

    asyncio.run(guarded())
    return results[0]


async def _tick(callback: Callable[[], None], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        callback()
