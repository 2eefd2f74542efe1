"""Tasks from `[tasks.*]`: parsed, type-checked, and their graph checked.

Unknown names and cycles are refused before anything runs, naming the tasks (with the
file and line), so a run never stops half-way through on a typo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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

    def bad(key: str, what: str) -> Exception:
        return config.error(f"tasks.{name}.{key} {what}", f"{key} ", f"{key}=", header)

    cmd = table.get("cmd")
    if not isinstance(cmd, str) or not cmd.strip():
        raise bad("cmd", "is required and must be a non-empty string (a shell command)")
    depends_on = _names(table.get("depends_on", []), lambda: bad("depends_on", _LIST_MSG))
    after = table.get("after")
    if after is not None and not isinstance(after, str):
        raise bad("after", "must be a task name")
    when_text = table.get("when", "success")
    if when_text not in {w.value for w in When}:
        raise bad("when", "must be one of success, failure, always")
    if "when" in table and after is None:
        raise bad("when", "needs 'after' (the task whose outcome triggers this one)")
    locks = _names(table.get("locks", []), lambda: bad("locks", _LIST_MSG))
    retries = table.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise bad("retries", "must be a whole number, 0 or more")
    timeout: float | None = None
    if "timeout" in table:
        try:
            timeout = parse_duration(table["timeout"])
        except ValueError as exc:
            raise bad("timeout", f"is invalid: {exc}") from None
        if timeout <= 0:
            raise bad("timeout", "must be more than zero")
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in env.items()
    ):
        raise bad("env", "must be a table of strings")
    branches: tuple[str, ...] | None = None
    if "branches" in table:
        branches = _names(table["branches"], lambda: bad("branches", _LIST_MSG))
    scope = table.get("scope", "branch")
    if scope not in _SCOPES:
        raise bad("scope", 'must be "branch" (once per worktree) or "once" (main worktree)')
    if scope == "once" and branches is not None:
        raise bad("branches", 'has no meaning with scope = "once" (it runs in the main worktree)')
    resources = table.get("resources", {})
    if not isinstance(resources, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        for k, v in resources.items()
    ):
        raise bad("resources", "must be a table of positive numbers, e.g. { gpu = 1 }")
    priority = table.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise bad("priority", "must be a whole number (higher starts first)")
    shards = table.get("shards", 1)
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 1000:
        raise bad("shards", "must be a whole number from 1 to 1000")
    return TaskSpec(
        name=name,
        cmd=cmd,
        depends_on=depends_on,
        after=after,
        when=When(when_text),
        locks=locks,
        retries=retries,
        timeout=timeout,
        env=tuple((k, _env_text(v)) for k, v in env.items()),
        branches=branches,
        scope=scope,
        resources=tuple((k, float(v)) for k, v in resources.items()),
        priority=priority,
        shards=shards,
    )


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
    """A dependency cycle (`depends_on` and `after` edges) as a closed path of names, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        spec = specs[name]
        for dep in (*spec.depends_on, *([spec.after] if spec.after else [])):
            if dep not in specs:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(specs):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None
