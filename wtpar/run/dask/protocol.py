"""What the coordinator and the worker-side runner send each other.

A task attempt travels to a worker as a `RemoteAttempt` (pickled with the submitted
function) and comes back as a `RemoteResult`. While it runs, the runner publishes small
messages on the run's event topic: one `start` per process it starts (a second one for the
same attempt means a lost worker's task started again elsewhere), `out` chunks of output
and `note`s (wtpar's own lines, a timeout).
The result says how many messages its runner sent, so the coordinator can wait for the last
output chunk before it reports the end of the task.
"""

from __future__ import annotations

from dataclasses import dataclass

from wtpar.run.executor import Ending

START = "start"
OUTPUT = "out"
NOTE = "note"  # a line of wtpar's own for the task's log (a timeout)
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


@dataclass(frozen=True)
class RemoteResult:
    """How an attempt ended on a worker."""

    ending: Ending
    exit_code: int | None
    detail: str | None
    worker: str
    epoch: str  # one runner invocation (a rescheduled attempt gets a new one)
    messages: int  # how many topic messages that invocation published


def cancel_event(token: str, kill: bool = False) -> str:
    """The name of the distributed.Event that asks an attempt to stop (TERM, or KILL now)."""
    return f"wtpar-{'kill' if kill else 'term'}-{token}"
