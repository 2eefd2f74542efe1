"""Long-running services tied to a worktree (`[services.NAME]`): started detached in their
own session with logs under `<wtpar>/services/`, found again by later wtpar commands from
a record, and stopped as a process group (TERM, then KILL).

A record holds the pid and the process start time (see service_groups.py for why).
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from wtpar import procs
from wtpar.config import ServiceSpec
from wtpar.locks import file_lock, locks_dir
from wtpar.names import unique_component
from wtpar.state import atomic_write_json, read_json
from wtpar.worktrees.probes import log_tail, port_answers, url_answers
from wtpar.worktrees.service_groups import group_members, group_running, wait_gone

if TYPE_CHECKING:
    from wtpar.worktrees.environment import Environments

SERVICES_DIR = "services"
_POLL = 0.05


class ServiceState(enum.Enum):
    """Whether a recorded service still has a process."""

    RUNNING = "running"
    EXITED = "exited"


class StartOutcome(enum.Enum):
    """How `wtpar up` went for one service."""

    READY = "ready"  # its port or URL answered
    STARTED = "started"  # no readiness check configured; it is running
    ALREADY_RUNNING = "already running"
    EXITED = "exited"  # it ended before it was ready
    NOT_READY = "not ready"  # it did not answer in time; wtpar stopped it
    INTERRUPTED = "interrupted"  # wtpar was interrupted while waiting; wtpar stopped it
    PORT_TAKEN = "port taken"  # its port answered before it started: not started


class StopOutcome(enum.Enum):
    """How `wtpar down` went for one service."""

    STOPPED = "stopped"  # ended on SIGTERM
    KILLED = "killed"  # needed SIGKILL
    NOT_RUNNING = "not running"  # only a stale record was left


@dataclass(frozen=True)
class ServiceRecord:
    """One started service, as recorded in `<wtpar>/services/<key>.json`."""

    branch: str
    service: str
    path: str
    cmd: str
    pid: int
    start_time: float  # the process's start time as the OS reports it (psutil)
    started: float  # wall clock, for uptime
    log: str
    port: int | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """A record and whether its processes are alive."""

    record: ServiceRecord
    state: ServiceState

    def uptime(self, now: float) -> float | None:
        """Seconds since the service started, while it runs."""
        return now - self.record.started if self.state is ServiceState.RUNNING else None


@dataclass(frozen=True)
class StartResult:
    """What starting one service did."""

    branch: str
    service: str
    outcome: StartOutcome
    pid: int | None = None
    port: int | None = None
    exit_code: int | None = None
    waited_for: str | None = None
    log: str | None = None
    log_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the service is running."""
        return self.outcome in (
            StartOutcome.READY,
            StartOutcome.STARTED,
            StartOutcome.ALREADY_RUNNING,
        )

    @property
    def why_not(self) -> str:
        """Why the service is not running (said of a result that is not ok)."""
        if self.outcome is StartOutcome.EXITED:
            return f"exited with code {self.exit_code} before it was ready"
        if self.outcome is StartOutcome.PORT_TAKEN:
            return f"port {self.port} answers already (another program uses it): not started"
        if self.outcome is StartOutcome.INTERRUPTED:
            return "interrupted while it started: stopped it"
        return f"{self.waited_for} did not answer in time; stopped it"


@dataclass(frozen=True)
class StopResult:
    """What stopping one service did."""

    branch: str
    service: str
    outcome: StopOutcome
    pid: int


@dataclass(frozen=True)
class Launch:
    """One service to start in one worktree, with everything it needs."""

    spec: ServiceSpec
    branch: str
    path: str
    env: Mapping[str, str]
    port: int | None  # the port its readiness waits for
    ready_url: str | None


def service_key(branch: str, service: str) -> str:
    """The file name stem of one service's record and log (safe for any branch name)."""
    return f"{unique_component(branch)}.{service}"


class ServiceStore:
    """The services of one repository: start, find, stop."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self.dir = os.path.join(wtpar_dir, SERVICES_DIR)
        # Set on Ctrl-C or SIGTERM: waiting stops, and what is not ready yet is stopped.
        self.interrupted = threading.Event()

    def records(self) -> list[ServiceRecord]:
        """Every recorded service (an unreadable record is ignored)."""
        if not os.path.isdir(self.dir):
            return []
        found: list[ServiceRecord] = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".json"):
                with contextlib.suppress(TypeError, ValueError):
                    found.append(ServiceRecord(**read_json(os.path.join(self.dir, name), {})))
        return found

    def statuses(self, branches: set[str] | None = None) -> list[ServiceStatus]:
        """Recorded services (of `branches`, when given) with their state."""
        return [
            ServiceStatus(
                r,
                ServiceState.RUNNING if group_running(r.pid, r.start_time) else ServiceState.EXITED,
            )
            for r in self.records()
            if branches is None or r.branch in branches
        ]

    def start(self, launch: Launch) -> StartResult:
        """Start one service detached, then wait until it is ready, exits or times out."""
        spec = launch.spec
        key = service_key(launch.branch, spec.name)
        with file_lock(os.path.join(locks_dir(self.wtpar_dir), f"svc-{key}.lock")):
            old = read_json(self._record_path(key), None)
            if old:
                with contextlib.suppress(TypeError, ValueError):
                    rec = ServiceRecord(**old)
                    if group_running(rec.pid, rec.start_time):
                        return StartResult(
                            launch.branch,
                            spec.name,
                            StartOutcome.ALREADY_RUNNING,
                            rec.pid,
                            rec.port,
                        )
            if self.interrupted.is_set():
                return StartResult(launch.branch, spec.name, StartOutcome.INTERRUPTED)
            if spec.ready_port and launch.port is not None and port_answers(launch.port):
                # Its readiness would be another program's: it said "ready" while the
                # service itself died on "Address already in use".
                return StartResult(
                    launch.branch, spec.name, StartOutcome.PORT_TAKEN, port=launch.port
                )
            rec, proc, offset = self._launch(launch, key)
            return self._await_ready(spec, rec, proc, launch.ready_url, offset)

    def _launch(
        self, launch: Launch, key: str
    ) -> tuple[ServiceRecord, subprocess.Popen[bytes], int]:
        import psutil

        spec = launch.spec
        os.makedirs(self.dir, exist_ok=True)
        log_path = os.path.join(self.dir, f"{key}.log")
        offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        with open(log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- {stamp} wtpar up: {spec.cmd}\n".encode())
            log.flush()
            # Its own session: no terminal hangup or Ctrl-C reaches it, and the group id
            # (its pid) lets `down` signal every process it started.
            proc = subprocess.Popen(
                ["/bin/sh", "-c", spec.cmd],
                cwd=launch.path,
                env=dict(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        try:
            start_time = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            start_time = time.time()
        rec = ServiceRecord(
            launch.branch,
            spec.name,
            launch.path,
            spec.cmd,
            proc.pid,
            start_time,
            time.time(),
            log_path,
            launch.port,
        )
        # Recorded before waiting, so a Ctrl-C while waiting leaves it findable by `down`.
        atomic_write_json(self._record_path(key), asdict(rec))
        return rec, proc, offset

    def _await_ready(
        self,
        spec: ServiceSpec,
        rec: ServiceRecord,
        proc: subprocess.Popen[bytes],
        ready_url: str | None,
        offset: int,
    ) -> StartResult:
        probe: Callable[[], bool] | None = None
        waited_for = None
        if ready_url:
            probe, waited_for = (lambda: url_answers(ready_url)), ready_url
        elif spec.ready_port and rec.port is not None:
            port = rec.port
            probe, waited_for = (lambda: port_answers(port)), f"port {port}"
        # Without a readiness check, a command that fails at once is still caught.
        deadline = time.monotonic() + (spec.ready_timeout if probe else 0.5)
        while True:
            code = proc.poll()
            if code is not None:
                self.stop(rec)
                return StartResult(
                    rec.branch, rec.service, StartOutcome.EXITED, rec.pid, rec.port, code,
                    waited_for, rec.log, log_tail(rec.log, offset),
                )  # fmt: skip
            if probe is not None and probe():
                outcome = StartOutcome.READY
                break
            if time.monotonic() > deadline:
                if probe is None:
                    outcome = StartOutcome.STARTED
                    break
                self.stop(rec)
                return StartResult(
                    rec.branch, rec.service, StartOutcome.NOT_READY, rec.pid, rec.port, None,
                    waited_for, rec.log, log_tail(rec.log, offset),
                )  # fmt: skip
            if self.interrupted.wait(_POLL):
                self.stop(rec)  # as on the ready timeout: nothing half started is left behind
                return StartResult(
                    rec.branch, rec.service, StartOutcome.INTERRUPTED, rec.pid, rec.port
                )
        return StartResult(rec.branch, rec.service, outcome, rec.pid, rec.port, None, waited_for)

    def stop(self, rec: ServiceRecord, grace: float = 5.0) -> StopResult:
        """Stop a service's process group (TERM, then KILL after `grace`) and forget it."""
        key = service_key(rec.branch, rec.service)
        with file_lock(os.path.join(locks_dir(self.wtpar_dir), f"svc-{key}.lock")):
            outcome = StopOutcome.NOT_RUNNING
            if group_members(rec.pid, rec.start_time):
                outcome = StopOutcome.STOPPED
                procs.signal_group(rec.pid, signal.SIGTERM)
                if not wait_gone(rec.pid, rec.start_time, grace):
                    outcome = StopOutcome.KILLED
                    procs.signal_group(rec.pid, signal.SIGKILL)
                    wait_gone(rec.pid, rec.start_time, 5.0)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._record_path(key))
            return StopResult(rec.branch, rec.service, outcome, rec.pid)

    def _record_path(self, key: str) -> str:
        return os.path.join(self.dir, f"{key}.json")


def start_services(
    store: ServiceStore,
    envs: Environments,
    targets: Sequence[tuple[str, str]],
    names: Sequence[str] = (),
) -> list[StartResult]:
    """Start services `names` (default: all configured) in each (branch, path), in parallel."""
    from wtpar.errors import UsageError
    from wtpar.worktrees.environment import fill

    specs = envs.config.services
    known = {s.name: s for s in specs}
    for name in names:
        if name not in known:
            listed = ", ".join(known) or "none are configured in [services]"
            raise UsageError(f"unknown service {name!r} (services: {listed})")
    chosen = [known[n] for n in dict.fromkeys(names)] if names else list(specs)
    variables = envs.ensure(targets)
    launches: list[Launch] = []
    for branch, path in targets:
        ports = envs.ports_of(branch)
        for spec in chosen:
            env = procs.clean_env(variables[branch])
            env.update(WTPAR_BRANCH=branch, WTPAR_WORKTREE=path, WTPAR_SERVICE=spec.name)
            env.update({k: fill(v, envs.repo, branch, path, ports) for k, v in spec.env})
            port = ports.get(spec.ready_port) if spec.ready_port else None
            url = fill(spec.ready, envs.repo, branch, path, ports) if spec.ready else None
            ready_url = url if url and "://" in url else None
            launches.append(Launch(spec, branch, path, env, port, ready_url))
    if not launches:
        return []
    pool = ThreadPoolExecutor(min(16, len(launches)))
    try:
        futures = [pool.submit(store.start, launch) for launch in launches]
        return [future.result() for future in futures]
    except BaseException:  # Ctrl-C, or SIGTERM / SIGHUP (procs.Signalled)
        store.interrupted.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def stop_services(
    store: ServiceStore, branches: set[str] | None, names: set[str] | None
) -> list[StopResult]:
    """Stop the recorded services of `branches` named `names` (None: any), in parallel."""
    records = [
        r
        for r in store.records()
        if (branches is None or r.branch in branches) and (names is None or r.service in names)
    ]
    if not records:
        return []
    with ThreadPoolExecutor(min(16, len(records))) as pool:
        return list(pool.map(store.stop, records))
