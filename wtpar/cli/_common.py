"""Helpers shared by the command modules: finding the services, JSON, tables, completion."""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from wtpar.services import Services

if TYPE_CHECKING:
    from wtpar.worktrees.environment import EnvView


def services_from(ctx: click.Context) -> Services:
    """The Services for the repository wtpar was started in (cached on the context)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    svc = obj.get("services")
    if svc is None:
        svc = Services.from_cwd(obj.get("repo_dir", "."))
        obj["services"] = svc
        root.obj = obj
    assert isinstance(svc, Services)
    return svc


def echo_json(data: Any) -> None:
    """Print `data` as JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def use_color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def terminal_width() -> int:
    """Columns of the terminal (80 when unknown)."""
    return shutil.get_terminal_size((80, 24)).columns


def complete_worktree_branch(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion: branches that have a worktree."""
    try:
        svc = services_from(ctx)
        names = [wt.branch for wt in svc.worktrees.worktrees() if wt.branch and not wt.is_main]
    except Exception:
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_any_branch(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion: local and remote-tracking branch names."""
    try:
        svc = services_from(ctx)
        out = svc.git.run(
            "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads", "refs/remotes"
        ).stdout
    except Exception:
        return []
    names: dict[str, None] = {}
    for line in out.splitlines():
        if line.endswith("/HEAD"):
            continue
        names[line] = None
        if "/" in line:
            names[line.split("/", 1)[1]] = None
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def env_view_json(view: EnvView) -> dict[str, Any]:
    """A worktree's environment for `list --json`: variables, ports, services."""
    return {
        "env": dict(view.variables),
        "ports": dict(view.ports),
        "services": [
            {
                "service": s.record.service,
                "state": s.state.value,
                "pid": s.record.pid,
                "port": s.record.port,
            }
            for s in view.services
        ],
    }
