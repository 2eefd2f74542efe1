"""Each worktree's environment: its allocated ports and the `[env] vars` templated for it.

Every command wtpar starts in a worktree (post_create, tasks, services, hooks) gets these
variables, `wtpar env` prints them, and `[env] file` writes them into the worktree when
the file is git-ignored (a tracked file would put one worktree's ports into a commit).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wtpar import procs
from wtpar.config import Config
from wtpar.git import RepoPaths
from wtpar.locks import repo_lock
from wtpar.model import Worktree
from wtpar.state import atomic_write_text
from wtpar.worktrees.ports import PortRegistry, Ports

if TYPE_CHECKING:
    from wtpar.worktrees.devservices import ServiceStatus

_SLUG = re.compile(r"[^a-z0-9_-]+")
Variables = dict[str, str]


def branch_slug(branch: str) -> str:
    """A branch name usable in database, container and project names: `Feature/A` -> `feature-a`."""
    return _SLUG.sub("-", branch.lower()).strip("-") or "branch"


def port_variable(name: str) -> str:
    """The variable holding port `name`: `web` -> `WTPAR_PORT_WEB`."""
    return f"WTPAR_PORT_{name.upper()}"


def render_variables(
    config: Config, repo: str, branch: str, path: str, ports: Mapping[str, int]
) -> Variables:
    """The variables of one worktree: `WTPAR_PORT_<NAME>`, `WTPAR_PORT` (the first), vars."""
    names = config.env.ports
    result: Variables = {port_variable(n): str(ports[n]) for n in names if n in ports}
    if names and names[0] in ports:
        result["WTPAR_PORT"] = str(ports[names[0]])
    result.update({name: fill(text, repo, branch, path, ports) for name, text in config.env.vars})
    return result


def fill(text: str, repo: str, branch: str, path: str, ports: Mapping[str, int]) -> str:
    """`text` with {branch}, {branch_slug}, {repo}, {worktree} and {port_NAME} filled in."""
    fields = {"branch": branch, "branch_slug": branch_slug(branch), "repo": repo, "worktree": path}
    fields.update({f"port_{n}": str(p) for n, p in ports.items()})
    # Config parsing checked the placeholders; a port not allocated yet renders empty.
    return text.format_map(_Blank(fields))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def export_lines(variables: Mapping[str, str]) -> str:
    """`export NAME=value` lines a POSIX shell can `eval`."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in variables.items())


def dotenv_text(variables: Mapping[str, str]) -> str:
    """`NAME=value` lines, quoted the way dotenv readers and docker compose accept."""
    header = "# Written by wtpar from [env]; wtpar rewrites it, edit wtpar.toml instead.\n"
    return header + "".join(f"{k}={shlex.quote(v)}\n" for k, v in variables.items())


@dataclass(frozen=True)
class EnvView:
    """What `list` and the dashboard show of one worktree's environment."""

    variables: Mapping[str, str]
    ports: Mapping[str, int]
    services: tuple[ServiceStatus, ...]  # from devservices

    def ports_text(self) -> str:
        """`web:20000 db:20001`, or `-`."""
        return " ".join(f"{n}:{p}" for n, p in self.ports.items()) or "-"

    def services_text(self) -> str:
        """`web:running api:exited`, or `-`."""
        return " ".join(f"{s.record.service}:{s.state.value}" for s in self.services) or "-"


class Environments:
    """The environments of one repository's worktrees."""

    def __init__(self, paths: RepoPaths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self.registry = PortRegistry(paths.wtpar_dir)
        self.repo = os.path.basename(paths.root)

    @property
    def configured(self) -> bool:
        """True when `[env]` asks for ports or variables."""
        return bool(self.config.env.ports or self.config.env.vars)

    def ensure(self, targets: Sequence[tuple[str, str]]) -> dict[str, Variables]:
        """Variables for each (branch, path), first allocating any port a branch lacks."""
        held = self.registry.all()
        names = self.config.env.ports
        lacking = [b for b, _ in targets if set(held.get(b, {})) != set(names)]
        if lacking and names:
            with repo_lock(self.paths.wtpar_dir):
                held.update(self.allocate(lacking))
        return {b: self.variables(b, p, held.get(b, {})) for b, p in targets}

    def allocate(self, branches: Sequence[str]) -> dict[str, Ports]:
        """Allocate ports for `branches`; the caller holds the repository lock."""
        env = self.config.env
        if not env.ports:
            return {}
        return self.registry.allocate(branches, env.ports, env.port_range)

    def current(self, branch: str, path: str) -> Variables:
        """Variables from what is already allocated, without taking any lock."""
        return self.variables(branch, path, self.registry.all().get(branch, {}))

    def ports_of(self, branch: str) -> Ports:
        """The ports `branch` holds (empty when none)."""
        return self.registry.all().get(branch, {})

    def variables(self, branch: str, path: str, ports: Mapping[str, int]) -> Variables:
        """Variables for one worktree given its ports."""
        return render_variables(self.config, self.repo, branch, path, ports)

    def views(
        self, worktrees: Sequence[Worktree], statuses: Sequence[ServiceStatus]
    ) -> dict[str, EnvView]:
        """Each worktree's variables, ports (in the configured order) and services, by path."""
        by_branch: dict[str, list[ServiceStatus]] = {}
        for status in statuses:
            by_branch.setdefault(status.record.branch, []).append(status)
        held = self.registry.all()
        order = {n: i for i, n in enumerate(self.config.env.ports)}
        views: dict[str, EnvView] = {}
        for wt in worktrees:
            name = wt.branch or ""
            ports = dict(sorted(held.get(name, {}).items(), key=lambda kv: order.get(kv[0], 99)))
            variables = self.variables(name, wt.path, ports) if wt.branch else {}
            views[wt.path] = EnvView(variables, ports, tuple(by_branch.get(name, ())))
        return views

    def release(self, branches: Sequence[str]) -> None:
        """Free the ports of removed worktrees; the caller holds the repository lock."""
        self.registry.free(branches)

    def write_file(self, path: str, variables: Mapping[str, str]) -> str | None:
        """Write `[env] file` into the worktree at `path`; an error message when refused."""
        name = self.config.env.file
        if not name:
            return None
        ignored = procs.run(["git", "check-ignore", "-q", "--", name], cwd=path, check=False)
        if ignored.returncode != 0:
            return (
                f"env.file {name} is not ignored by git in {path}; not written "
                "(add it to .gitignore: it holds this worktree's ports)"
            )
        atomic_write_text(os.path.join(path, name), dotenv_text(variables))
        return None
