"""Running a dispatcher from synchronous code (the CLI): a new event loop, the progress
ticker, and the signals that interrupt a run (once: stop and terminate; twice: kill)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable

from wtpar.model import RunReport
from wtpar.run.dispatch import Dispatcher


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

    async def main() -> RunReport:
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            presses = [0]

            def interrupted() -> None:
                presses[0] += 1
                if presses[0] == 1:
                    dispatcher.interrupt()
                else:
                    dispatcher.kill_now()
                if on_interrupt is not None:
                    on_interrupt(presses[0])

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, interrupted)
                handled.append(sig)
        ticker = asyncio.create_task(_tick(on_tick, tick_interval)) if on_tick else None
        try:
            return await dispatcher.run()
        finally:
            if ticker is not None:
                ticker.cancel()
            for sig in handled:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


async def _tick(callback: Callable[[], None], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        callback()
