"""The domain as plain frozen data, shared by the core, the CLI and the dashboard."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wtpar.text import ahead_behind_text, human_size, plural


@dataclass(frozen=True)
class Worktree:
    """One entry of `git worktree list`."""

    path: str
    head: str | None
    branch: str | None
    is_main: bool = False
    bare: bool = False
    detached: bool = False
    locked: bool = False
    locked_reason: str | None = None
    prunable: bool = False
    prunable_reason: str | None = None


@dataclass(frozen=True)
class StatusCounts:
    """Uncommitted state of one working tree, from `git status --porcelain=v2`."""

    staged: int
    modified: int
    untracked: int
    conflicted: int = 0

    @property
    def dirty(self) -> bool:
        """True when anything would be lost by deleting the working tree."""
        return bool(self.staged or self.modified or self.untracked or self.conflicted)

    def _nonzero(self) -> list[tuple[int, str, str]]:
        kinds = (
            (self.staged, "+", "staged"),
            (self.modified, "~", "modified"),
            (self.untracked, "?", "untracked"),
            (self.conflicted, "!", "conflicted"),
        )
        return [kind for kind in kinds if kind[0]]

    def marks(self) -> str:
        """`clean`, or `+staged ~modified ?untracked !conflicted` counts, for tables."""
        return " ".join(f"{mark}{n}" for n, mark, _ in self._nonzero()) or "clean"

    def words(self) -> str:
        """`clean`, or `2 modified, 1 untracked`, for messages."""
        return ", ".join(f"{n} {word}" for n, _, word in self._nonzero()) or "clean"


@dataclass(frozen=True)
class BranchTracking:
    """A local branch against its upstream, and the time of its last commit."""

    upstream: str | None = None
    ahead: int | None = None  # None without an upstream (or when it is gone)
    behind: int | None = None
    gone: bool = False
    committed: int = 0  # committer time, seconds since the epoch (0: unknown)


@dataclass(frozen=True)
class WorktreeRecord:
    """What wtpar remembers about a worktree it created (state.json)."""

    branch: str
    path: str
    base_ref: str | None
    base_sha: str | None
    created: float
    populated: bool = True  # False from `worktree add` until the checkout has finished


@dataclass(frozen=True)
class BranchStatus:
    """Everything `wtpar list` shows about one worktree."""

    worktree: Worktree
    status: StatusCounts | None
    base: str | None
    ahead: int | None
    behind: int | None
    upstream: str | None
    upstream_ahead: int | None
    upstream_behind: int | None
    upstream_gone: bool
    last_commit_time: int | None
    operation: str | None
    record: WorktreeRecord | None

    def changes_text(self) -> str:
        """The working tree's changes as marks; `?` when its status could not be read."""
        return self.status.marks() if self.status is not None else "?"

    def base_text(self) -> str:
        """`↑ahead ↓behind` against the base, `-` when unknown."""
        return ahead_behind_text(self.ahead, self.behind)

    def upstream_text(self) -> str:
        """`↑ahead ↓behind` against the upstream, `none` or `gone`."""
        if self.upstream_gone:
            return "gone"
        if not self.upstream:
            return "none"
        return ahead_behind_text(self.upstream_ahead, self.upstream_behind)


class SpawnOutcome(enum.Enum):
    """What `spawn` did for one branch."""

    CREATED = "created"
    COMPLETED = "completed"  # an earlier spawn died before its checkout finished
    EXISTS = "exists"
    FAILED = "failed"


@dataclass(frozen=True)
class SpawnResult:
    """The result of spawning one branch's worktree."""

    branch: str
    outcome: SpawnOutcome
    path: str | None
    how: str | None = None
    base_ref: str | None = None
    base_sha: str | None = None
    error: str | None = None
    setup_errors: tuple[str, ...] = ()
    from_spare: bool = False  # a warm-pool spare became this worktree


@dataclass(frozen=True)
class IgnoredFiles:
    """The ignored files (git's disposable build output) a removal deleted."""

    files: int = 0
    size: int = 0
    complete: bool = True  # False: counting stopped early, these are lower bounds

    def text(self) -> str:
        """`also 3 ignored files, 120 MB`, or empty when there are none."""
        if not self.files:
            return ""
        bound = "" if self.complete else "at least "
        return f"also {bound}{plural(self.files, 'ignored file')}, {human_size(self.size)}"


@dataclass(frozen=True)
class RemoveResult:
    """The result of removing one branch's worktree."""

    branch: str
    removed: bool
    path: str | None
    branch_deleted: bool = False
    message: str | None = None
    error: str | None = None
    ignored: IgnoredFiles = IgnoredFiles()
    stopped: tuple[str, ...] = ()  # `task test (pid 123)`: stopped by --force


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed (or would remove, on a dry run)."""

    stale: tuple[str, ...] = field(default_factory=tuple)
    merged: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    dry_run: bool = False
    ignored: tuple[tuple[str, IgnoredFiles], ...] = ()  # per merged branch removed


# -- tasks and runs (the dispatcher) -------------------------------------------------------


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


# -- merge readiness (`wtpar check`) --------------------------------------------------------


class Verdict(enum.Enum):
    """Whether a branch may be merged now."""

    READY = "ready"
    BLOCKED = "blocked"
    MERGED = "merged"  # its work is already in the base: nothing to merge


@dataclass(frozen=True)
class Reason:
    """One finding about a branch: `blocking` ones make it blocked, the others are warnings."""

    code: str
    message: str
    blocking: bool


@dataclass(frozen=True)
class Readiness:
    """The verdict on one branch, with every reason behind it."""

    branch: str
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()

    @property
    def ready(self) -> bool:
        """True when nothing blocks the merge and there is something to merge."""
        return self.verdict is Verdict.READY

    @property
    def blocked(self) -> bool:
        """True when a reason blocks the merge."""
        return self.verdict is Verdict.BLOCKED

    @property
    def blocking(self) -> tuple[Reason, ...]:
        """The reasons that block the merge."""
        return tuple(r for r in self.reasons if r.blocking)

    @property
    def warnings(self) -> tuple[Reason, ...]:
        """The reasons worth knowing that do not block."""
        return tuple(r for r in self.reasons if not r.blocking)
