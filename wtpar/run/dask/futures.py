"""The coordinator's Dask futures: what a future's end means for the attempt, and when a
read future is released.

Each future is dropped once its attempt's result is read: Dask re-runs a finished task
whose future is still held when the worker holding its result dies. The release is a
message to the scheduler on the client's batched stream; sent alone, just before the
dispatcher submits the next task, it holds that submission back for the stream's batching
interval (10 ms), and the scheduler's message to the worker for its own (5 ms). So a read
future is released together with the next submission, which the dispatcher makes within a
few turns of the event loop when a task is waiting for the slot, or after RELEASE_AFTER_TURNS
turns when none is (a turn is not a wait: the release still goes out at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from concurrent.futures import CancelledError as FutureCancelled
from typing import Any

from wtpar.run.dask.protocol import RemoteResult
from wtpar.run.executor import AttemptResult, Ending

RELEASE_AFTER_TURNS = 10


class ReadFutures:
    """Futures whose results were read, until they are released."""

    def __init__(self) -> None:
        self._read: list[Any] = []
        self._turns = 0  # loop turns left before they are released without a submission
        self._counting = False

    def retire(self, future: Any) -> None:
        """Release `future` with the next submission, or after a few turns of the loop."""
        self._read.append(future)
        self._turns = RELEASE_AFTER_TURNS
        if not self._counting:
            self._counting = True
            asyncio.get_running_loop().call_soon(self._count_down)

    def release(self) -> None:
        """Release them now (right after a submission, or before disconnecting)."""
        read, self._read = self._read, []
        for future in read:
            future.release()

    def _count_down(self) -> None:
        self._turns -= 1
        if self._read and self._turns > 0:
            asyncio.get_running_loop().call_soon(self._count_down)
            return
        self._counting = False
        self.release()


def cancel(future: Any) -> None:
    """Take the future's task off the cluster. With an asynchronous client, `cancel()` only
    returns the coroutine that does it: it is scheduled here, or nothing would happen."""
    outcome = future.cancel()
    if inspect.isawaitable(outcome):
        asyncio.ensure_future(outcome)


def settled(future: Any) -> asyncio.Future[None]:
    """Done once the Dask future is finished, erred or cancelled (or released), without
    fetching its result from the worker as awaiting the future would."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def mark() -> None:
        if not done.done():
            done.set_result(None)

    def on_done(_: Any) -> None:  # on Dask's callback thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(mark)

    future.add_done_callback(on_done)
    return done


async def future_result(future: Any) -> RemoteResult:
    """The result of a Dask future (as an awaitable asyncio can wait for with others)."""
    result: RemoteResult = await future
    return result


def result_of(waiter: asyncio.Future[RemoteResult], lost: int) -> RemoteResult | AttemptResult:
    """The runner's result from a finished `future_result`, or what its error means for the
    attempt (`lost`: the workers that died while the task was on them)."""
    from distributed.scheduler import KilledWorker

    try:
        return waiter.result()
    except FutureCancelled:
        return AttemptResult(Ending.CANCELLED, None, None, None)
    except KilledWorker:
        return AttemptResult(
            Ending.NOT_STARTED,
            None,
            "the workers running it kept dying (see the scheduler's allowed-failures)",
            None,
            infra_retries=lost,
        )
    except Exception as exc:  # noqa: BLE001 - whatever Dask raises fails this task only
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return AttemptResult(
            Ending.NOT_STARTED, None, f"dask: {type(exc).__name__}: {detail}".rstrip(": ")
        )
