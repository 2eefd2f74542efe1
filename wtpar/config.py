"""Per-repository settings from `wtpar.toml`, or `[tool.wtpar]` in pyproject.toml, at the
root of the main worktree. Errors name the file and, where it can be found, the line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wtpar.errors import ConfigError
from wtpar.parsed_toml import parse_toml

DEFAULT_PATH_TEMPLATE = "{repo_parent}/{repo}.worktrees/{branch}"
_TOML_LINE = re.compile(r"line (\d+)")
_KNOWN_TOP = {
    "base",
    "worktrees",
    "tasks",
    "check",
    "run",
    "env",
    "services",
    "dask",
    "notify",
}
_PORT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_PORT_RANGE = (20000, 29999)
TEMPLATE_FIELDS = ("branch", "branch_slug", "repo", "worktree")
PATH_PLACEHOLDERS = ("repo_parent", "repo", "repo_root", "branch")


@dataclass(frozen=True)
class WorktreeConfig:
    """How `spawn` lays out and sets up new worktrees."""

    path_template: str = DEFAULT_PATH_TEMPLATE
    copy: tuple[str, ...] = ()
    post_create: tuple[str, ...] = ()
    submodules: bool | None = None
    pre_remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvConfig:
    """`[env]`: the ports and variables each worktree gets (templates not yet filled in)."""

    ports: tuple[str, ...] = ()
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    vars: tuple[tuple[str, str], ...] = ()
    file: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """One `[services.NAME]`: a long-running command per worktree (a dev server, a database)."""

    name: str
    cmd: str
    ready: str | None = None  # a port name from [env] ports, or an http(s) URL
    env: tuple[tuple[str, str], ...] = ()
    ready_timeout: float = 30.0

    @property
    def ready_port(self) -> str | None:
        """The port name readiness waits for, when `ready` names a port."""
        return self.ready if self.ready and "://" not in self.ready else None


@dataclass(frozen=True)
class Config:
    """Everything wtpar reads from the repository's configuration."""

    source: str | None = None
    text: str = ""
    base: str | None = None
    worktrees: WorktreeConfig = field(default_factory=WorktreeConfig)
    tasks: Mapping[str, Any] = field(default_factory=dict)
    check: Mapping[str, Any] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)
    dask: Mapping[str, Any] = field(default_factory=dict)
    notify: Mapping[str, Any] = field(default_factory=dict)  # [notify], read by notify.py
    env: EnvConfig = field(default_factory=EnvConfig)
    services: tuple[ServiceSpec, ...] = ()

    def error(self, message: str, *needles: str) -> ConfigError:
        """A ConfigError pointing at the first line that mentions any of `needles`."""
        return ConfigError(self.source or "configuration", message, self.line_of(*needles))

    def line_of(self, *needles: str) -> int | None:
        """The 1-based line where one of `needles` first appears in the source text."""
        for needle in needles:
            # TOML's lines end at "\n" alone (`splitlines` also splits inside a string
            # holding U+2028, and counted one line too many after it).
            for number, line in enumerate(self.text.split("\n"), start=1):
                if needle in line:
                    return number
        return None


def load_config(root: str, cache_dir: str | None = None) -> Config:
    """Read `wtpar.toml`, else `[tool.wtpar]` of pyproject.toml, else the defaults; a large
    file's parsed tables are kept in `cache_dir` (parsed_toml.py)."""
    for name, table_path in (("wtpar.toml", ()), ("pyproject.toml", ("tool", "wtpar"))):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            data: Any = parse_toml(text, path, cache_dir)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(path, f"cannot read: {exc}") from None
        except ValueError as exc:  # tomllib.TOMLDecodeError; tomllib is imported when parsing
            raise ConfigError(path, f"invalid TOML: {exc}", _toml_error_line(exc, text)) from None
        for key in table_path:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            continue
        return _parse(path, text, data)
    return Config()


def _toml_error_line(exc: ValueError, text: str) -> int | None:
    # Python 3.11's TOMLDecodeError has no lineno; the message says "line N" or "end of document".
    m = _TOML_LINE.search(str(exc))
    if m:
        return int(m.group(1))
    if "end of document" in str(exc):
        return max(1, len(text.rstrip("\n").split("\n")))
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
    for key in set(wt) - {"path", "copy", "post_create", "submodules", "pre_remove"}:
        raise probe.error(f"unknown setting worktrees.{key}", key)
    template = wt.get("path", DEFAULT_PATH_TEMPLATE)
    if not isinstance(template, str) or "{branch}" not in template:
        raise probe.error("worktrees.path must be a string containing {branch}", "path")
    if template != DEFAULT_PATH_TEMPLATE:  # the default is known to be good
        _check_template(probe, template)
    copy = _str_list(probe, wt.get("copy", []), "copy")
    post_create = _str_list(probe, wt.get("post_create", []), "post_create")
    pre_remove = _str_list(probe, wt.get("pre_remove", []), "pre_remove")
    submodules = wt.get("submodules")
    if submodules is not None and not isinstance(submodules, bool):
        raise probe.error("worktrees.submodules must be true or false", "submodules")
    env = _parse_env(probe, data.get("env", {}))
    sections: dict[str, Mapping[str, Any]] = {}
    for name in ("tasks", "check", "run", "dask", "notify"):
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise probe.error(f"[{name}] must be a table", name)
        sections[name] = value
    return Config(
        source=path,
        text=text,
        base=base,
        worktrees=WorktreeConfig(template, copy, post_create, submodules, pre_remove),
        tasks=sections["tasks"],
        check=sections["check"],
        run=sections["run"],
        dask=sections["dask"],
        notify=sections["notify"],
        env=env,
        services=_parse_services(probe, data.get("services", {}), env),
    )


def _check_template(probe: Config, template: str) -> None:
    """Refuse a path template that would fail when formatted, now rather than at spawn."""
    known = ", ".join("{" + p + "}" for p in PATH_PLACEHOLDERS)
    needles = ("path =", "path=", "path")
    import string  # here: only a configured path template is checked

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


def _str_list(probe: Config, value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise probe.error(f"worktrees.{key} must be a list of strings", key)
    return tuple(value)


def _parse_env(probe: Config, table: Any) -> EnvConfig:
    if not isinstance(table, dict):
        raise probe.error("[env] must be a table", "env")
    for key in sorted(set(table) - {"ports", "port_range", "vars", "file"}):
        raise probe.error(f"unknown setting env.{key} (known: file, port_range, ports, vars)", key)
    ports = table.get("ports", [])
    if not isinstance(ports, list) or not all(
        isinstance(p, str) and _PORT_NAME.match(p) for p in ports
    ):
        raise probe.error('env.ports must be a list of lowercase names like "web"', "ports")
    if len(set(ports)) != len(ports):
        raise probe.error("env.ports names a port twice", "ports")
    port_range = _parse_range(probe, table.get("port_range"))
    if len(ports) > port_range[1] - port_range[0] + 1:
        raise probe.error("env.port_range is smaller than one worktree's ports", "port_range")
    file = table.get("file")
    if file is not None and (
        not isinstance(file, str) or not file or os.path.isabs(file) or ".." in file.split("/")
    ):
        raise probe.error("env.file must be a relative path inside the worktree", "file")
    allowed = (*TEMPLATE_FIELDS, *(f"port_{p}" for p in ports))
    return EnvConfig(tuple(ports), port_range, _templates(probe, table, "vars", allowed), file)


def _parse_range(probe: Config, value: Any) -> tuple[int, int]:
    if value is None:
        return DEFAULT_PORT_RANGE
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value) if isinstance(value, str) else None
    low, high = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not m or not 1024 <= low <= high <= 65535:
        raise probe.error(
            'env.port_range must look like "20000-29999", within 1024-65535', "port_range"
        )
    return low, high


def _templates(
    probe: Config, table: dict[str, Any], key: str, allowed: tuple[str, ...], where: str = "env"
) -> tuple[tuple[str, str], ...]:
    """`key` of `table` as (NAME, template) pairs whose placeholders are all in `allowed`."""
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise probe.error(f"{where}.{key} must be a table of strings", key)
    pairs: list[tuple[str, str]] = []
    for name, text in value.items():
        if not _VAR_NAME.match(name):
            raise probe.error(f"{where}.{key}: {name!r} is not a variable name", name)
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise probe.error(f"{where}.{key}.{name} must be a string", name)
        pairs.append((name, str(text)))
        check_template(probe, str(text), allowed, f"{where}.{key}.{name}", name)
    return tuple(pairs)


def check_template(
    probe: Config, text: str, allowed: tuple[str, ...], what: str, needle: str
) -> None:
    """Refuse a template with a placeholder that is not in `allowed` (or malformed braces)."""
    import string  # here: only configured templates are checked

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise probe.error(
            f"{what}: {exc} (write {{{{ and }}}} for literal braces)", needle
        ) from None
    for name in fields:
        if name not in allowed:
            known = ", ".join("{" + a + "}" for a in allowed)
            raise probe.error(f"{what}: unknown placeholder {{{name}}} (known: {known})", needle)


def _parse_services(probe: Config, table: Any, env: EnvConfig) -> tuple[ServiceSpec, ...]:
    if not isinstance(table, dict):
        raise probe.error("[services] must be a table of [services.NAME] tables", "services")
    allowed = (*TEMPLATE_FIELDS, *(f"port_{p}" for p in env.ports))
    specs: list[ServiceSpec] = []
    for name, body in table.items():
        header = f"[services.{name}]"
        if not _PORT_NAME.match(name) or not isinstance(body, dict):
            raise probe.error(f"{header} needs a lowercase name and a table", header)
        for key in sorted(set(body) - {"cmd", "ready", "env", "ready_timeout"}):
            raise probe.error(
                f"unknown setting services.{name}.{key} (known: cmd, env, ready, ready_timeout)",
                key,
            )
        cmd = body.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            raise probe.error(f"services.{name}.cmd must be a command line", header)
        ready = body.get("ready")
        if ready is not None and not isinstance(ready, str):
            raise probe.error(f"services.{name}.ready must be a port name or a URL", "ready")
        if isinstance(ready, str) and "://" in ready:
            check_template(probe, ready, allowed, f"services.{name}.ready", "ready")
        elif ready is not None and ready not in env.ports:
            known = ", ".join(env.ports) or "none in [env] ports"
            raise probe.error(
                f"services.{name}.ready: {ready!r} is not a port (ports: {known}) nor a URL",
                "ready",
            )
        timeout = body.get("ready_timeout", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise probe.error(f"services.{name}.ready_timeout must be seconds > 0", "ready_timeout")
        pairs = _templates(probe, body, "env", allowed, f"services.{name}")
        specs.append(ServiceSpec(name, cmd, ready, pairs, float(timeout)))
    return tuple(specs)
