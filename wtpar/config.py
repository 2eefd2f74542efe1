"""Per-repository settings from `wtpar.toml`, or `[tool.wtpar]` in pyproject.toml, at the
root of the main worktree. Errors name the file and, where it can be found, the line."""

from __future__ import annotations

import os
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wtpar.errors import ConfigError

DEFAULT_PATH_TEMPLATE = "{repo_parent}/{repo}.worktrees/{branch}"
_TOML_LINE = re.compile(r"line (\d+)")
_KNOWN_TOP = {"base", "worktrees", "tasks", "check", "run"}
PATH_PLACEHOLDERS = ("repo_parent", "repo", "repo_root", "branch")
OUTPUT_MODES = ("stream", "grouped", "failures", "quiet")
"""How `wtpar run` shows output (`--output`, `[run] output`)."""


@dataclass(frozen=True)
class WorktreeConfig:
    """How `spawn` lays out and sets up new worktrees."""

    path_template: str = DEFAULT_PATH_TEMPLATE
    copy: tuple[str, ...] = ()
    post_create: tuple[str, ...] = ()
    submodules: bool | None = None


@dataclass(frozen=True)
class RunSettings:
    """`[run]`: defaults for `wtpar run` that its options override."""

    jobs: int | None = None
    output: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything wtpar reads from the repository's configuration."""

    source: str | None = None
    text: str = ""
    base: str | None = None
    worktrees: WorktreeConfig = field(default_factory=WorktreeConfig)
    tasks: Mapping[str, Any] = field(default_factory=dict)
    check: Mapping[str, Any] = field(default_factory=dict)
    run: RunSettings = field(default_factory=RunSettings)

    def error(self, message: str, *needles: str) -> ConfigError:
        """A ConfigError pointing at the first line that mentions any of `needles`."""
        return ConfigError(self.source or "configuration", message, self.line_of(*needles))

    def line_of(self, *needles: str) -> int | None:
        """The 1-based line where one of `needles` first appears in the source text."""
        for needle in needles:
            for number, line in enumerate(self.text.splitlines(), start=1):
                if needle in line:
                    return number
        return None


def load_config(root: str) -> Config:
    """Read `wtpar.toml`, else `[tool.wtpar]` of pyproject.toml, else the defaults."""
    for name, table_path in (("wtpar.toml", ()), ("pyproject.toml", ("tool", "wtpar"))):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            data: Any = tomllib.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(path, f"cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(path, f"invalid TOML: {exc}", _toml_error_line(exc, text)) from None
        for key in table_path:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            continue
        return _parse(path, text, data)
    return Config()


def _toml_error_line(exc: tomllib.TOMLDecodeError, text: str) -> int | None:
    # Python 3.11's TOMLDecodeError has no lineno; the message says "line N" or "end of document".
    m = _TOML_LINE.search(str(exc))
    if m:
        return int(m.group(1))
    if "end of document" in str(exc):
        return max(1, len(text.splitlines()))
    return None


def _parse(path: str, text: str, data: Any) -> Config:
    probe = Config(source=path, text=text)
    if not isinstance(data, dict):
        raise probe.error("[tool.wtpar] must be a table", "tool.wtpar")
    unknown = sorted(set(data) - _KNOWN_TOP)
    if unknown:
        raise probe.error(
            f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KNOWN_TOP))})", unknown[0]
        )
    base = data.get("base")
    if base is not None and not isinstance(base, str):
        raise probe.error("'base' must be a string", "base")
    wt = data.get("worktrees", {})
    if not isinstance(wt, dict):
        raise probe.error("[worktrees] must be a table", "worktrees")
    for key in set(wt) - {"path", "copy", "post_create", "submodules"}:
        raise probe.error(f"unknown setting worktrees.{key}", key)
    template = wt.get("path", DEFAULT_PATH_TEMPLATE)
    if not isinstance(template, str) or "{branch}" not in template:
        raise probe.error("worktrees.path must be a string containing {branch}", "path")
    _check_template(probe, template)
    copy = _str_list(probe, wt.get("copy", []), "copy")
    post_create = _str_list(probe, wt.get("post_create", []), "post_create")
    submodules = wt.get("submodules")
    if submodules is not None and not isinstance(submodules, bool):
        raise probe.error("worktrees.submodules must be true or false", "submodules")
    sections: dict[str, Mapping[str, Any]] = {}
    for name in ("tasks", "check"):
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise probe.error(f"[{name}] must be a table", name)
        sections[name] = value
    return Config(
        source=path,
        text=text,
        base=base,
        worktrees=WorktreeConfig(template, copy, post_create, submodules),
        tasks=sections["tasks"],
        check=sections["check"],
        run=_run_settings(probe, data.get("run", {})),
    )


def _check_template(probe: Config, template: str) -> None:
    """Refuse a path template that would fail when formatted, now rather than at spawn."""
    known = ", ".join("{" + p + "}" for p in PATH_PLACEHOLDERS)
    needles = ("path =", "path=", "path")
    try:
        fields = [f for _, f, spec, _ in string.Formatter().parse(template) if f is not None]
        for name in fields:
            if name not in PATH_PLACEHOLDERS:
                raise probe.error(
                    f"unknown placeholder {{{name}}} in worktrees.path (known: {known})", *needles
                )
        template.format(**{p: "x" for p in PATH_PLACEHOLDERS})
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise probe.error(
            f"worktrees.path is not a valid template ({exc}; placeholders: {known})", *needles
        ) from None


def _run_settings(probe: Config, table: Any) -> RunSettings:
    if not isinstance(table, dict):
        raise probe.error("[run] must be a table", "[run]", "run")
    for key in sorted(table):
        if key not in ("jobs", "output"):
            raise probe.error(
                f"unknown setting run.{key} (known: jobs, output)", f"{key} =", f"{key}="
            )
    jobs = table.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise probe.error("run.jobs must be a whole number, 1 or more", "jobs")
    output = table.get("output")
    if output is not None and output not in OUTPUT_MODES:
        raise probe.error(f"run.output must be one of {', '.join(OUTPUT_MODES)}", "output")
    return RunSettings(jobs, output)


def _str_list(probe: Config, value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise probe.error(f"worktrees.{key} must be a list of strings", key)
    return tuple(value)
