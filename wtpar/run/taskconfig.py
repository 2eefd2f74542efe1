"""Tasks from `[tasks.*]`: parsed, type-checked, and their graph checked.

Unknown names and cycles are refused before anything runs, naming the tasks (with the
file and line), so a run never stops half-way through on a typo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wtpar.config import Config
from wtpar.model import TaskSpec, When
from wtpar.text import parse_duration

ADHOC_TASK = "cmd"
"""The task name of an ad-hoc command (`wtpar run -- CMD`, `-c BRANCH=CMD`, `wtpar exec`)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KNOWN_KEYS = {
    "cmd",
    "depends_on",
    "after",
    "when",
    "locks",
    "retries",
    "timeout",
    "env",
    "branches",
    "scope",
    "resources",
    "priority",
    "shards",
}
_SCOPES = ("branch", "once")


def parse_tasks(config: Config) -> dict[str, TaskSpec]:
    """The `[tasks.*]` tables as TaskSpecs, checked (types, names, graph); errors show file:line."""
    specs: dict[str, TaskSpec] = {}
    for name, table in config.tasks.items():
        specs[name] = _parse_one(config, name, table)
    _check_graph(config, specs)
    return specs


def _parse_one(config: Config, name: str, table: Any) -> TaskSpec:
    _check_header(config, name, table)
    t = _TaskTable(config, name, table)
    after, when = t.trigger()
    timeout = t.timeout()
    branches, scope = t.placement()
    return TaskSpec(
        name=name,
        cmd=t.command(),
        depends_on=t.names("depends_on"),
        after=after,
        when=when,
        locks=t.names("locks"),
        retries=t.whole("retries", 0, minimum=0, what="a whole number, 0 or more"),
        timeout=timeout,
        env=t.env(),
        branches=branches,
        scope=scope,
        resources=t.resources(),
        priority=t.whole("priority", 0, what="a whole number (higher starts first)"),
        shards=t.whole("shards", 1, minimum=1, maximum=1000, what="a whole number from 1 to 1000"),
    )


def _check_header(config: Config, name: str, table: Any) -> None:
    """The task's name and the keys of its table."""
    header = f"[tasks.{name}]"
    if not _NAME_RE.match(name):
        raise config.error(
            f"task name {name!r}: use letters, digits, '.', '_' and '-'", header, name
        )
    if name == ADHOC_TASK:
        raise config.error(f"task name {ADHOC_TASK!r} is reserved for ad-hoc commands", header)
    if not isinstance(table, dict):
        raise config.error(f"tasks.{name} must be a table", name)
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise config.error(
            f"tasks.{name}: unknown setting {unknown[0]!r}"
            f" (known: {', '.join(sorted(_KNOWN_KEYS))})",
            f"{unknown[0]} ",
            f"{unknown[0]}=",
            header,
        )


class _TaskTable:
    """Reads and checks the settings of one `[tasks.NAME]` table; errors show file:line."""

    def __init__(self, config: Config, name: str, table: dict[str, Any]) -> None:
        self.config = config
        self.name = name
        self.table = table

    def bad(self, key: str, what: str) -> Exception:
        """The error for a bad setting, pointing at its line."""
        return self.config.error(
            f"tasks.{self.name}.{key} {what}", f"{key} ", f"{key}=", f"[tasks.{self.name}]"
        )

    def command(self) -> str:
        cmd = self.table.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            raise self.bad("cmd", "is required and must be a non-empty string (a shell command)")
        return cmd

    def names(self, key: str) -> tuple[str, ...]:
        return _names(self.table.get(key, []), lambda: self.bad(key, _LIST_MSG))

    def trigger(self) -> tuple[str | None, When]:
        """`after` and `when`: the cascade that starts this task."""
        after = self.table.get("after")
        if after is not None and not isinstance(after, str):
            raise self.bad("after", "must be a task name")
        when_text = self.table.get("when", "success")
        if when_text not in {w.value for w in When}:
            raise self.bad("when", "must be one of success, failure, always")
        if "when" in self.table and after is None:
            raise self.bad("when", "needs 'after' (the task whose outcome triggers this one)")
        return after, When(when_text)

    def whole(
        self,
        key: str,
        default: int,
        *,
        what: str,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(key, f"must be {what}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.bad(key, f"must be {what}")
        return value

    def timeout(self) -> float | None:
        if "timeout" not in self.table:
            return None
        try:
            timeout = parse_duration(self.table["timeout"])
        except ValueError as exc:
            raise self.bad("timeout", f"is invalid: {exc}") from None
        if timeout <= 0:
            raise self.bad("timeout", "must be more than zero")
        return timeout

    def env(self) -> tuple[tuple[str, str], ...]:
        env = self.table.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in env.items()
        ):
            raise self.bad("env", "must be a table of strings")
        return tuple((k, _env_text(v)) for k, v in env.items())

    def placement(self) -> tuple[tuple[str, ...] | None, str]:
        """`branches` and `scope`: where the task runs."""
        branches: tuple[str, ...] | None = None
        if "branches" in self.table:
            branches = self.names("branches")
        scope = self.table.get("scope", "branch")
        if scope not in _SCOPES:
            raise self.bad(
                "scope", 'must be "branch" (once per worktree) or "once" (main worktree)'
            )
        if scope == "once" and branches is not None:
            raise self.bad(
                "branches", 'has no meaning with scope = "once" (it runs in the main worktree)'
            )
        return branches, scope

    def resources(self) -> tuple[tuple[str, float], ...]:
        resources = self.table.get("resources", {})
        if not isinstance(resources, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for k, v in resources.items()
        ):
            raise self.bad("resources", "must be a table of positive numbers, e.g. { gpu = 1 }")
        return tuple((k, float(v)) for k, v in resources.items())


_LIST_MSG = "must be a string or a list of strings"


def _names(value: Any, error: Callable[[], Exception]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise error()
    return tuple(value)


def _env_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _check_graph(config: Config, specs: Mapping[str, TaskSpec]) -> None:
    for spec in specs.values():
        header = f"[tasks.{spec.name}]"
        for dep in (*spec.depends_on, *([spec.after] if spec.after else [])):
            if dep not in specs:
                raise config.error(
                    f"task {spec.name!r} refers to unknown task {dep!r}"
                    f" (tasks: {', '.join(sorted(specs)) or 'none'})",
                    header,
                )
            if dep == spec.name:
                raise config.error(f"task {spec.name!r} depends on itself", header)
            if dep == spec.after and specs[dep].shards > 1:
                raise config.error(
                    f"task {spec.name!r}: after = {dep!r} is not possible, {dep!r} runs as "
                    "shards (use depends_on, which waits for every shard)",
                    header,
                )
            if spec.scope == "once" and specs[dep].scope == "branch":
                raise config.error(
                    f"task {spec.name!r} runs once, in the main worktree, so it cannot wait for "
                    f"per-branch task {dep!r}",
                    header,
                )
    cycle = find_cycle(specs)
    if cycle:
        raise config.error("tasks form a cycle: " + " -> ".join(cycle), f"[tasks.{cycle[0]}]")


def find_cycle(specs: Mapping[str, TaskSpec]) -> list[str] | None:
    """A dependency cycle (`depends_on` and `after` edges) as a closed path of names, or None.
    Iterative, so a chain of thousands of tasks cannot exhaust the recursion limit."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(specs):
        if root in state:
            continue
        state[root] = 1
        path = [root]
        edges = [_edges(specs[root])]
        while path:
            dep = next((d for d in edges[-1] if d in specs and state.get(d) != 2), None)
            if dep is None:
                state[path.pop()] = 2
                edges.pop()
            elif state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            else:
                state[dep] = 1
                path.append(dep)
                edges.append(_edges(specs[dep]))
    return None


def _edges(spec: TaskSpec) -> Iterator[str]:
    yield from spec.depends_on
    if spec.after:
        yield spec.after
