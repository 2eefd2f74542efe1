"""Dispatcher runs started from the dashboard, driven inside the app's own event loop."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from wtpar.errors import WtparError
from wtpar.model import RunEvent, TaskKey
from wtpar.run.plan import RunRequest
from wtpar.services import Services

if TYPE_CHECKING:  # the dispatcher loads with the first run, not with the dashboard
    from wtpar.run.dispatch import Dispatcher

StartWorker = Callable[[Coroutine[Any, Any, None]], object]


class RunController:
    """Starts runs for the dashboard and cancels them; events go to `on_event`."""

    def __init__(
        self,
        services: Services,
        jobs: int,
        on_event: Callable[[RunEvent], None],
        start_worker: StartWorker,
    ) -> None:
        self.services = services
        self.jobs = jobs
        self.on_event = on_event
        self.start_worker = start_worker
        self.dispatchers: list[Dispatcher] = []
        self.on_note: Callable[[str], None] | None = None  # warnings and a run's own errors
        self._task_names: list[str] | None = None

    def task_names(self) -> list[str]:
        """Names of the tasks configured for this repository (none if the config is bad)."""
        if self._task_names is None:
            try:
                self._task_names = list(self.services.load_tasks())
            except WtparError:
                self._task_names = []
        return self._task_names

    def request_for(self, branches: Iterable[str], text: str) -> RunRequest:
        """Named tasks when every word names one, else `text` as a shell command."""
        words = text.split()
        known = set(self.task_names())
        if words and all(word in known for word in words):
            return RunRequest(task_names=tuple(words), branches=tuple(branches), jobs=self.jobs)
        return RunRequest(command=text, branches=tuple(branches), jobs=self.jobs)

    def rerun_requests(
        self, keys: Iterable[TaskKey], commands: dict[TaskKey, str]
    ) -> list[RunRequest]:
        """Requests that run these task instances again: named tasks per task, ad-hoc per branch."""
        known = set(self.task_names())
        by_task: dict[str, list[str]] = {}
        adhoc: list[tuple[str, str]] = []
        for key in keys:
            if key.task in known:
                by_task.setdefault(key.task, []).append(key.branch)
            elif commands.get(key):
                adhoc.append((key.branch, commands[key]))
        requests = [
            RunRequest(task_names=(task,), branches=tuple(branches), jobs=self.jobs)
            for task, branches in by_task.items()
        ]
        if adhoc:
            requests.append(
                RunRequest(
                    per_branch=tuple(adhoc),
                    branches=tuple(b for b, _ in adhoc),
                    jobs=self.jobs,
                )
            )
        return requests

    def start(self, request: RunRequest) -> None:
        """Plan the run (errors raise WtparError at once) and drive it in the background."""
        dispatcher = self.services.make_dispatcher(request, on_note=self.on_note)
        dispatcher.subscribe(self.on_event)
        self.dispatchers.append(dispatcher)
        self.start_worker(self._drive(dispatcher))

    async def _drive(self, dispatcher: Dispatcher) -> None:
        try:
            await dispatcher.run()
        except WtparError as exc:  # a Dask scheduler that cannot be reached, say
            if self.on_note is None:
                raise
            self.on_note(exc.message)
        finally:
            self.dispatchers.remove(dispatcher)

    def where(self) -> str | None:
        """Where runs go when not on this machine's pool (the footer's text), else None."""
        for dispatcher in reversed(self.dispatchers):
            executor = dispatcher.executor
            if executor is not None and executor.name != "local":
                return executor.describe()
        if self.services.backend == "dask":
            return f"dask: {self.services.scheduler or 'a LocalCluster for each run'}"
        return None

    @property
    def busy(self) -> bool:
        """True while any run is in progress."""
        return bool(self.dispatchers)

    def eta(self, now: float) -> float | None:
        """Seconds until the runs in progress end, from the tasks' history; None when idle."""
        return max((d.eta(now) for d in self.dispatchers), default=None)

    def cancel(self, keys: Iterable[TaskKey]) -> None:
        """Cancel these task instances wherever they are queued or running."""
        wanted = list(keys)
        for dispatcher in list(self.dispatchers):
            for key in wanted:
                dispatcher.cancel(key)

    def cancel_all(self) -> None:
        """Cancel every queued and running task of every run."""
        for dispatcher in list(self.dispatchers):
            dispatcher.cancel_all()
