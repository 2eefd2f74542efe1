"""Tasks and runs as plain frozen data: specs, keys, outcomes, reports and the events
the dispatcher sends."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RunStatus(enum.Enum):
    """The state of one task in a run."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the task will not change state again."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class SkipKind(enum.Enum):
    """Why a task instance did not run; what the run's verdict and `--failed` make of it."""

    UNCHANGED = "unchanged"  # succeeded before at this commit, clean tree: counts as success
    DEPENDENCY_FAILED = "dependency failed"  # failed, timed out or cancelled: a failure
    NOT_APPLICABLE = "not applicable"  # a dependency does not run on this branch: neither
    NOT_TRIGGERED = "not triggered"  # its `after` task ended as `when` does not ask: neither


class When(enum.Enum):
    """Which outcome of the trigger fires a cascade (`after` + `when`)."""

    SUCCESS = "success"
    FAILURE = "failure"
    ALWAYS = "always"


@dataclass(frozen=True)
class TaskSpec:
    """A named task (from wtpar.toml) or an ad-hoc command (name `cmd`)."""

    name: str
    cmd: str
    depends_on: tuple[str, ...] = ()
    after: str | None = None
    when: When = When.SUCCESS
    locks: tuple[str, ...] = ()
    retries: int = 0
    timeout: float | None = None
    env: tuple[tuple[str, str], ...] = ()
    branches: tuple[str, ...] | None = None
    scope: str = "branch"  # "branch": once per worktree; "once": once, in the main worktree
    resources: tuple[tuple[str, float], ...] = ()  # Dask worker resources, e.g. (("gpu", 1),)
    priority: int = 0  # higher starts first among ready tasks, before the critical path
    shards: int = 1  # instances per worktree, WTPAR_SHARD=1..shards


@dataclass(frozen=True, order=True)
class TaskKey:
    """One task instance: a task in a worktree (branch is the main branch for scope=once)."""

    branch: str
    task: str
    shard: int = 0  # 1..N for a task with `shards = N`, 0 otherwise

    def __str__(self) -> str:
        if self.shard:
            return f"{self.branch}:{self.task}#{self.shard}"
        return f"{self.branch}:{self.task}"


@dataclass(frozen=True)
class TaskRun:
    """What happened to one task instance."""

    key: TaskKey
    command: str
    worktree: str
    status: RunStatus
    exit_code: int | None = None
    started: float | None = None
    ended: float | None = None
    attempts: int = 0
    log_path: str | None = None
    reason: str | None = None
    worker: str | None = None  # the Dask worker that ran the last attempt
    infra_retries: int = 0  # starts again after a lost worker (not attempts)
    skip: SkipKind | None = None  # set when status is SKIPPED

    @property
    def passed(self) -> bool:
        """Succeeded, now or (skipped as unchanged) at this commit before."""
        return self.status is RunStatus.OK or self.skip is SkipKind.UNCHANGED

    @property
    def rerun_wanted(self) -> bool:
        """A failure of the run, which `wtpar run --failed` runs again: failed, timed out,
        cancelled, or skipped because a dependency was one of those."""
        if self.status is RunStatus.SKIPPED:
            return self.skip is SkipKind.DEPENDENCY_FAILED
        return self.status in (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED)

    @property
    def duration(self) -> float | None:
        """Seconds from first start to end."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


@dataclass(frozen=True)
class RunReport:
    """A whole run: every task instance, in order."""

    run_id: str
    started: float
    ended: float
    jobs: int
    tasks: tuple[TaskRun, ...]
    interrupted: bool = False
    signal: str | None = None  # what interrupted it: "SIGINT", "SIGTERM", "SIGHUP"
    jobs_note: str | None = None  # how -j was chosen, when wtpar chose it

    @property
    def ok(self) -> bool:
        """True when no task failed (skips by design, like a cascade, are not failures)."""
        return not self.interrupted and all(
            t.status.finished and not t.rerun_wanted for t in self.tasks
        )


# Events the dispatcher emits, in order, to its subscribers (the CLI and the dashboard).


@dataclass(frozen=True)
class TaskQueued:
    """A task instance joined the run."""

    key: TaskKey
    command: str
    worktree: str


@dataclass(frozen=True)
class TaskStarted:
    """A task instance's process started (attempt counts from 1)."""

    key: TaskKey
    attempt: int
    pid: int | None  # None where the executor cannot tell (a remote worker)
    time: float


@dataclass(frozen=True)
class TaskOutput:
    """One complete line of a task's output (stdout and stderr merged)."""

    key: TaskKey
    line: str
    raw: bytes | None = None  # the task's bytes exactly, newline included; None: wtpar's own


@dataclass(frozen=True)
class TaskFinished:
    """A task instance reached a final state."""

    run: TaskRun


@dataclass(frozen=True)
class RunFinished:
    """The run is over."""

    report: RunReport


RunEvent = TaskQueued | TaskStarted | TaskOutput | TaskFinished | RunFinished
