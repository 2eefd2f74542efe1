"""What the coordinator and the worker-side runner send each other.

A task attempt travels to a worker as a `RemoteAttempt` (pickled with the submitted
function) and comes back as a `RemoteResult`. While it runs, the runner publishes small
messages on the run's event topic: one `start` per process it starts (a second one for the
same attempt means a lost worker's task started again elsewhere), `out` chunks of output
and `note`s (wtpar's own lines, a timeout), and last an `end` that carries the result.

The `end` message is how the coordinator learns the result first: it travels behind the
output on the same ordered streams (worker to scheduler to client) and needs no further
request, where reading the future's result waits for the scheduler to hear of the task's
end and then fetches the result from the worker. The future's result is still the answer
when the task fails in Dask itself; it says how many messages its runner sent, so the
coordinator can wait for the last output chunk before it reports the end of the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wtpar.run.executor import Ending

START = "start"
OUTPUT = "out"
NOTE = "note"  # a line of wtpar's own for the task's log (a timeout)
END = "end"  # the result, after every other message of the runner
KEEP_WORKTREES = 16  # default of `[dask] cache_worktrees`: per repository on each worker
CHUNK_BYTES = 8192  # bounded chunks: the scheduler keeps a topic's recent events in memory


@dataclass(frozen=True)
class RemoteAttempt:
    """One attempt of one task, as a worker needs it."""

    token: str  # unique per attempt: names its cancel events and routes its messages
    topic: str
    command: str
    source: str  # where the worker fetches the commit from: a URL or a path
    ref: str  # the ref there that holds the commit
    commit: str
    subdir: str  # the task's directory, relative to the worktree root
    env: tuple[tuple[str, str], ...]  # what the task sets, over the worker's own environment
    timeout: float | None
    grace: float
    drain: float = 0.25
    keep_worktrees: int = KEEP_WORKTREES  # the worker's cache of worktrees per repository


@dataclass(frozen=True)
class RemoteResult:
    """How an attempt ended on a worker."""

    ending: Ending
    exit_code: int | None
    detail: str | None
    worker: str
    epoch: str  # one runner invocation (a rescheduled attempt gets a new one)
    messages: int  # how many topic messages that invocation published
    resources: tuple[tuple[str, float], ...] = ()  # the worker's (`dask worker --resources`)


def cancel_event(token: str, kill: bool = False) -> str:
    """The name of the distributed.Event that asks an attempt to stop (TERM, or KILL now)."""
    return f"wtpar-{'kill' if kill else 'term'}-{token}"


def end_message(result: RemoteResult) -> dict[str, object]:
    """The `end` message that carries `result` (plain values: topics take msgpack)."""
    return {
        "kind": END,
        "ending": result.ending.value,
        "exit_code": result.exit_code,
        "detail": result.detail,
        "worker": result.worker,
        "messages": result.messages,
        "resources": dict(result.resources),
    }


def end_result(message: Mapping[str, Any]) -> RemoteResult:
    """The result an `end` message carries."""
    return RemoteResult(
        Ending(message["ending"]),
        message["exit_code"],
        message["detail"],
        message["worker"],
        message["epoch"],
        message["messages"],
        tuple(sorted(message["resources"].items())),
    )
