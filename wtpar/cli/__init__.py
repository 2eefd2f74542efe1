"""The `wtpar` command line: a click group whose subcommands are imported only when used,
so that `wtpar list` never pays for the dispatcher or the dashboard."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import signal
import sys
from typing import Any

import click

from wtpar import __version__

# name -> (module, attribute, one-line help shown by `wtpar --help`)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "spawn": ("wtpar.cli.worktree_cmds", "spawn", "Create a worktree per branch, in parallel."),
    "list": ("wtpar.cli.worktree_cmds", "list_cmd", "Show every worktree and its state."),
    "path": ("wtpar.cli.worktree_cmds", "path", "Print the worktree path of a branch."),
    "remove": ("wtpar.cli.worktree_cmds", "remove", "Remove worktrees without losing work."),
    "prune": ("wtpar.cli.worktree_cmds", "prune", "Clean up stale or merged worktrees."),
    "claim": ("wtpar.cli.lease_cmds", "claim", "Claim a worktree for an agent, or get a free one."),
    "release": ("wtpar.cli.lease_cmds", "release", "Release a claimed worktree."),
    "wait": ("wtpar.cli.notify_cmds", "wait", "Wait until tasks in worktrees end; their outcome."),
    "pool": ("wtpar.cli.pool_cmds", "pool", "Keep spare worktrees ready: fill, show, drain."),
    "dash": ("wtpar.cli.dash_cmd", "dash", "Open the live dashboard (Textual)."),
    "run": ("wtpar.cli.run_cmds", "run", "Run commands or tasks in many worktrees at once."),
    "exec": ("wtpar.cli.exec_cmd", "exec_cmd", "Run one command in one worktree, via the pool."),
    "tune": ("wtpar.cli.tune_cmd", "tune", "Measure a run at several -j; record the best."),
    "check": ("wtpar.cli.check_cmd", "check", "Tell which branches are ready to merge, and why."),
    "land": ("wtpar.cli.land_cmd", "land", "Test the ready branches together, land what passes."),
    "update": ("wtpar.cli.land_cmd", "update", "Rebase or merge branches onto the base, at once."),
    "env": ("wtpar.cli.env_cmds", "env_cmd", "Print a worktree's ports and variables."),
    "up": ("wtpar.cli.env_cmds", "up", "Start worktrees' services (dev servers, databases)."),
    "down": ("wtpar.cli.env_cmds", "down", "Stop worktrees' services."),
    "ps": ("wtpar.cli.env_cmds", "ps", "List the services wtpar started."),
    "sync": ("wtpar.cli.env_cmds", "sync", "Copy configured ignored files into worktrees again."),
}


SET_UP_LATER = frozenset({"run", "exec"})
"""Commands whose set-up (the plan, the dispatcher and its modules) is done by their
callback: they end wtpar's start-up themselves (start_up_over) as their tasks start."""

EARLY_DISCOVERY = "wtpar.early_discovery"
"""ctx.meta key: (folder, procs.Started), the repository's discovery, started before the
command's modules are imported (LazyGroup.get_command); `services_from` collects it."""


class LazyGroup(click.Group):
    """A group that imports a subcommand's module the first time it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if EARLY_DISCOVERY not in ctx.meta and not ctx.resilient_parsing:
            # Every command works on the repository: find it (one git call) while Python
            # imports the command's modules, 20-40 ms, instead of after them.
            from wtpar.git.repo import start_discovery

            start = ctx.params.get("repo_dir") or "."
            early = start_discovery(start)
            if early is not None:
                ctx.meta[EARLY_DISCOVERY] = (os.path.abspath(start), early)
                ctx.call_on_close(lambda: early.result(check=False))  # reaped if unused
        module = importlib.import_module(entry[0])
        if cmd_name not in SET_UP_LATER:
            start_up_over()
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # The helpers (and the services facade they import) only when something failed:
        # the repository's discovery (get_command) starts before they are imported.
        from wtpar.errors import Interrupted, WtparError

        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            _say(f"wtpar: {exc.message}")
            ctx.exit(exc.exit_code)
        except WtparError as exc:
            _say(f"wtpar: error: {exc.message}")  # control characters escaped (say)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # Our reader went away (`wtpar list | head -1`): stop quietly, as `git log` does.
            from wtpar.cli._common import stdout_gone

            stdout_gone()
            ctx.exit(141)
        except OSError as exc:
            # The file system refused (a file where wtpar keeps a folder, a full disk, no
            # permission): one line naming the file, never a traceback.
            where = f": {exc.filename}" if exc.filename else ""
            _say(f"wtpar: error: {exc.strerror or exc}{where}")
            ctx.exit(1)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in _COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    name="wtpar",
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="wtpar")
@click.option(
    "-C",
    "repo_dir",
    metavar="DIR",
    default=".",
    help="Run as if wtpar was started in DIR (any worktree of the repository).",
)
@click.pass_context
def cli(ctx: click.Context, repo_dir: str) -> None:
    """wtpar: parallel multi-branch development with git worktrees.

    One worktree per branch, one shared process pool for all of them, and a
    merge-readiness verdict per branch.

    \b
      wtpar spawn feature-a feature-b     # two worktrees, in parallel
      wtpar list                          # state of every worktree
      cd "$(wtpar path feature-a)"        # jump into one
      wtpar run -- make test              # in every worktree, through one pool
      wtpar check                         # ready or blocked per branch, and why
      wtpar land                          # test the ready ones together, land what passes
      wtpar dash                          # all of it live, in the terminal
      wtpar remove feature-a              # refuses if work would be lost
    """
    ctx.obj = {"repo_dir": repo_dir}


def start_up_over() -> None:
    """The command is set up (its modules loaded; `run` and `exec`: their plan made too):
    turn the collector on again (wtpar/__main__.py turned it off), with what start-up
    allocated frozen, so that no later collection walks those long-lived objects again (a
    run's plan: the collections its tasks' garbage set off walked 5000 tasks' for 130 ms).
    A process that runs the CLI in-process keeps its collector as it is."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _say(text: str) -> None:
    from wtpar.cli._common import say

    say(text)


def _interrupted(label: str, code: int) -> None:
    with contextlib.suppress(OSError):  # after SIGHUP there may be no terminal left
        click.echo(f"wtpar: interrupted ({label})", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user-facing errors print one message and set the exit code."""
    from wtpar.procs import Signalled, raise_on_termination, terminate_groups

    raise_on_termination()
    # Whatever is left at exit, the operating system frees: the interpreter's own last
    # collections over every object of every module cost `wtpar run` 10-20 ms at each
    # exit. Frozen objects are left out of them; files are still closed and flushed.
    atexit.register(gc.freeze)
    try:
        # Without standalone mode, ctx.exit(code) comes back as the return value.
        code = cli.main(args=argv, prog_name="wtpar", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except (click.exceptions.Abort, KeyboardInterrupt):
        terminate_groups()  # hooks wtpar started (pre_remove, post_create) stop with it
        _interrupted("Ctrl-C", 130)
    except Signalled as exc:
        terminate_groups()
        _interrupted(signal.Signals(exc.signum).name, 128 + exc.signum)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
