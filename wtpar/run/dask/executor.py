"""The Dask executor: the dispatcher's attempts run on a Dask cluster's workers.

The dispatcher keeps the graph and every policy (dependencies, retries, cascades, events,
logs, reports); this runs one attempt at a time, as the local executor does, but elsewhere:

- the worktree's exact state becomes a commit (`snapshot`), published for the workers;
- `run_attempt` is submitted with the task's resources, preferring the worker that last
  ran that commit (its worktree is already checked out there) among those with the
  resources (affinity.py);
- output arrives as chunks on the repository's event topic, routed by attempt token to the
  attempt's sink, and the result behind it (the `end` message: no fetch from the worker);
- without `-j`, the dispatcher may start as many attempts as the cluster has threads, and
  as many again, which wait at the scheduler (`start_limit`): a worker whose task ends
  starts the next at once instead of waiting for this coordinator to hear of it;
- terminate and kill set the attempt's cancel events (the runner stops the process group);
  an attempt not started yet is taken off the cluster;
- each future is dropped once its result is read (futures.py: with the next submission):
  Dask re-runs finished tasks whose futures are still held when a worker dies. A task
  whose worker died mid-run is started again elsewhere by Dask; the scheduler's
  `remove-worker` event, which lists the tasks the worker had, counts an infrastructure
  retry, not an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from wtpar.model import TaskKey
from wtpar.names import hash_stable
from wtpar.run.dask import protocol
from wtpar.run.dask.affinity import Affinity
from wtpar.run.dask.connect import Connection, connect
from wtpar.run.dask.futures import ReadFutures, cancel, future_result, result_of, settled
from wtpar.run.dask.locks import SchedulerLocks
from wtpar.run.dask.protocol import RemoteAttempt, RemoteResult, cancel_event, end_result
from wtpar.run.dask.runner import run_attempt
from wtpar.run.dask.settings import DaskSettings
from wtpar.run.dask.snapshot import Snapshot, publish, run_ref, snapshot, unpublish
from wtpar.run.executor import Attempt, AttemptResult, AttemptSink, Executor

_LAST_CHUNK_WAIT = 2.0  # bound on waiting for the `end` message once the future has ended
_SCHEDULER_TOPIC = "all"  # where the scheduler says a worker was removed, with its tasks


@dataclass(eq=False)
class _Route:
    """Where one attempt's messages go, and how it ended (its first `end` message)."""

    sink: AttemptSink
    ended: asyncio.Future[RemoteResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    starts: int = 0
    lost: int = 0  # workers that died while the task was on them


@dataclass(eq=False)
class _Remote:
    """The attempt of a task instance running now."""

    token: str
    route: _Route
    future: Any = None
    flags: set[bool] = field(default_factory=set)  # the cancel events set: False term, True kill


class DaskExecutor(Executor):
    """Runs attempts on the workers of a Dask cluster (or of a LocalCluster for the run)."""

    name = "dask"

    def __init__(
        self,
        settings: DaskSettings,
        repo_root: str,
        common_dir: str,
        run_id: str,
        *,
        jobs: int | None = None,
        local_workers: int = 1,
        grace: float = 5.0,
        drain: float = 0.25,
        on_note: Callable[[str], None] = lambda text: None,
        worktrees: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.repo_root = repo_root
        self.run_id = run_id
        self.source = settings.repo or common_dir
        self.topic = f"wtpar-output-{hash_stable(self.source):08x}"
        self.grace = grace
        self.drain = drain
        self.on_note = on_note
        self._local_workers = local_workers
        self._worktrees = tuple(dict.fromkeys(worktrees))  # snapshot while connecting
        self._cap = jobs
        self._conn: Connection | None = None
        self._locks: SchedulerLocks | None = None
        self._snapshots: dict[str, asyncio.Future[Snapshot]] = {}
        self._published: list[str] = []
        self._affinity = Affinity()
        self._routes: dict[str, _Route] = {}
        self._keys: dict[str, str] = {}  # Dask key -> attempt token
        self._running: dict[TaskKey, _Remote] = {}
        self._read = ReadFutures()

    # -- set-up and tear-down ----------------------------------------------------------------

    async def start(self) -> None:
        """Connect (DaskConnectError, exit 2, when the cluster cannot be used), while the
        run's worktrees are snapshotted and published."""
        if self._conn is not None:
            return
        for path in self._worktrees:
            self._snapshot_soon(path)
        self._conn = await connect(self.settings, self._local_workers)
        for note in self._conn.notes:
            self.on_note(note)
        self._locks = SchedulerLocks(self._conn.client)
        self._conn.client.subscribe_topic(self.topic, self._on_message)
        self._conn.client.subscribe_topic(_SCHEDULER_TOPIC, self._on_scheduler_event)

    async def aclose(self) -> None:
        """Delete the published run refs and disconnect (and stop a LocalCluster)."""
        # Snapshots still being published (a run that ended early) are published first.
        await asyncio.gather(*self._snapshots.values(), return_exceptions=True)
        ending = []
        if self._published:
            commits, self._published = self._published, []
            repo, target = self.repo_root, self.settings.repo
            ending.append(asyncio.to_thread(unpublish, repo, target, self.run_id, commits))
        self._read.release()
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._locks is not None:
                self._locks.close()
            conn.client.unsubscribe_topic(self.topic)
            conn.client.unsubscribe_topic(_SCHEDULER_TOPIC)
            ending.append(conn.close())
        await asyncio.gather(*ending)

    def describe(self) -> str:
        """The footer text: the cluster's workers and threads."""
        if self._conn is None:
            return "dask: not connected"
        info = self._conn.client.scheduler_info()
        workers, threads = info.get("n_workers", 0), info.get("total_threads", 0)
        where = "LocalCluster" if self._conn.cluster is not None else self._conn.address
        return f"dask {where}: {_count(workers, 'worker')}, {_count(threads, 'thread')}"

    # -- the pool ----------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """No slots of its own: the dispatcher's start limit (`start_limit`) is the cap."""
        yield

    def start_limit(self, jobs: int) -> int:
        """`-j` when given. Else the cluster's threads, and as many again queued at the
        scheduler: a worker whose task ends starts the next one at once, without a round
        trip to this coordinator (`jobs`, this machine's CPUs, while it has fewer)."""
        if self._cap is not None:
            return self._cap
        if self._conn is None:
            return jobs
        threads = int(self._conn.client.scheduler_info().get("total_threads", 0))
        return max(2 * threads, jobs)

    @asynccontextmanager
    async def hold(self, locks: Sequence[str]) -> AsyncIterator[None]:
        """Named locks held by the scheduler (shared by every coordinator)."""
        names = list(locks)
        if not names:
            yield
            return
        async with self._client_locks().hold(names):
            yield

    def _client_locks(self) -> SchedulerLocks:
        if self._locks is None:
            raise RuntimeError("DaskExecutor.start() was not awaited")
        return self._locks

    # -- one attempt -------------------------------------------------------------------------

    async def execute(self, attempt: Attempt, sink: AttemptSink) -> AttemptResult:
        """Run one attempt on a worker; its output reaches `sink` as it comes."""
        await self.start()
        assert self._conn is not None
        snap = await self._snapshot(attempt.cwd)
        token = uuid.uuid4().hex
        route = _Route(sink)
        remote = _Remote(token, route)
        job = RemoteAttempt(
            token=token,
            topic=self.topic,
            command=attempt.command,
            source=self.source,
            ref=run_ref(self.run_id, snap.commit),
            commit=snap.commit,
            subdir=_relative(attempt.cwd, snap.top),
            env=_task_env(attempt.env),
            timeout=attempt.timeout,
            grace=self.grace,
            drain=self.drain,
            keep_worktrees=self.settings.cache_worktrees,
        )
        workers = int(self._conn.client.scheduler_info().get("n_workers", 0))
        preferred = self._affinity.prefer(snap.commit, attempt.resources, workers)
        dask_key = f"wtpar-{attempt.key.task}-{token}"
        self._routes[token] = route
        self._keys[dask_key] = token
        self._running[attempt.key] = remote
        try:
            remote.future = self._conn.client.submit(
                run_attempt,
                job,
                key=dask_key,
                pure=False,
                resources=dict(attempt.resources) or None,
                **({"workers": preferred, "allow_other_workers": True} if preferred else {}),
            )
            self._read.release()  # with this submission: see futures.py
            result = await self._outcome(remote)
            if isinstance(result, AttemptResult):
                return result
            self._affinity.ran(snap.commit, result.worker, dict(result.resources))
            return AttemptResult(
                result.ending,
                result.exit_code,
                result.detail,
                result.worker,
                infra_retries=route.lost,
            )
        finally:
            if remote.future is not None:
                self._read.retire(remote.future)
                remote.future = None
            del self._running[attempt.key]
            del self._routes[token]
            del self._keys[dask_key]
            await self._clear_flags(remote)

    async def _outcome(self, remote: _Remote) -> RemoteResult | AttemptResult:
        """The runner's `end` message; what the future says when Dask ended the task (an
        error, a cancel); its result, fetched from the worker, only when neither came."""
        ended = remote.route.ended
        try:
            either: set[asyncio.Future[Any]] = {settled(remote.future), ended}
            await asyncio.wait(either, return_when=FIRST_COMPLETED)
            if not ended.done() and remote.future.status == "finished":
                # The `end` message travels ahead of the future's news: it is due now.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(ended), _LAST_CHUNK_WAIT)
            if ended.done():
                return ended.result()
            fetched = asyncio.ensure_future(future_result(remote.future))
            await asyncio.wait({fetched})
        except asyncio.CancelledError:
            # The dispatcher itself is cancelled (a quitting dashboard): stop the process.
            self._flag(remote, kill=False)
            self._flag(remote, kill=True)
            cancel(remote.future)
            raise
        return result_of(fetched, remote.route.lost)

    def _on_message(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        route = self._routes.get(message.get("token", ""))
        if route is None:
            return  # another run's, or a late chunk of an attempt already reported
        if message["kind"] == protocol.START:
            route.starts += 1
            route.sink.started(message.get("pid"), message.get("worker"))
        elif message["kind"] == protocol.OUTPUT:
            route.sink.output(message["data"])
        elif message["kind"] == protocol.NOTE:
            route.sink.note(message["text"])
        elif message["kind"] == protocol.END and not route.ended.done():
            route.ended.set_result(end_result(message))

    def _on_scheduler_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker left: the tasks it had run again elsewhere (infrastructure retries)."""
        message = event[1]
        if not isinstance(message, dict) or message.get("action") != "remove-worker":
            return
        self._affinity.forget(str(message.get("worker")))
        for key in message.get("processing-tasks") or ():
            route = self._routes.get(self._keys.get(str(key), ""))
            if route is not None:
                route.lost += 1
                route.sink.note(
                    f"worker {message.get('worker')} was lost while it had this task; "
                    "Dask runs it again on another worker"
                )

    # -- cancelling ----------------------------------------------------------------------------

    def terminate(self, key: TaskKey) -> None:
        """SIGTERM to the task's process group on its worker (SIGKILL after the grace period);
        a task not started yet is taken off the cluster."""
        remote = self._running.get(key)
        if remote is not None:
            self._flag(remote, kill=False)
            self._unqueue(remote)

    def kill(self, key: TaskKey) -> None:
        """SIGKILL to the task's process group on its worker, now (a task not started yet is
        taken off the cluster)."""
        remote = self._running.get(key)
        if remote is not None:
            self._flag(remote, kill=False)
            self._flag(remote, kill=True)
            self._unqueue(remote)

    def _unqueue(self, remote: _Remote) -> None:
        if remote.route.starts == 0 and remote.future is not None:
            cancel(remote.future)

    def _flag(self, remote: _Remote, kill: bool) -> None:
        if kill in remote.flags or self._conn is None:
            return
        from distributed import Event

        remote.flags.add(kill)
        event = Event(cancel_event(remote.token, kill), client=self._conn.client)
        asyncio.ensure_future(event.set())

    async def _clear_flags(self, remote: _Remote) -> None:
        """Forget the cancel events on the scheduler (an event set stays until cleared)."""
        if not remote.flags or self._conn is None:
            return
        from distributed import Event

        for kill in remote.flags:
            try:
                await Event(cancel_event(remote.token, kill), client=self._conn.client).clear()
            except OSError:
                return

    # -- the exact content ---------------------------------------------------------------------

    async def _snapshot(self, cwd: str) -> Snapshot:
        """The worktree's state as a commit, published once per run (shared by its tasks)."""
        return await asyncio.shield(self._snapshot_soon(cwd))

    def _snapshot_soon(self, cwd: str) -> asyncio.Future[Snapshot]:
        pending = self._snapshots.get(cwd)
        if pending is None:
            pending = asyncio.ensure_future(self._make_snapshot(cwd))
            self._snapshots[cwd] = pending
        return pending

    async def _make_snapshot(self, cwd: str) -> Snapshot:
        snap = await asyncio.to_thread(snapshot, cwd, self.settings.uncommitted)
        if snap.commit not in self._published:
            self._published.append(snap.commit)
            await asyncio.to_thread(
                publish, self.repo_root, self.settings.repo, self.run_id, [snap.commit]
            )
        return snap


def _task_env(env: Any) -> tuple[tuple[str, str], ...]:
    """What the task sets over this machine's environment: only that goes to the worker,
    whose own PATH, HOME and the rest stay as they are."""
    return tuple((k, v) for k, v in env.items() if os.environ.get(k) != v)


def _relative(cwd: str, top: str) -> str:
    rel = os.path.relpath(os.path.realpath(cwd), os.path.realpath(top))
    return "" if rel == "." else rel


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
