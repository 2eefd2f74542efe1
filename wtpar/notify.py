"""Telling someone that work finished: `--notify` on `run` and `check` (and `[notify]` in the
configuration) runs the configured command with the outcome in its environment, or
`notify-send` where it exists. (The terminal bell is the command line's part.)"""

from __future__ import annotations

import enum
import shutil
from dataclasses import dataclass

from wtpar import procs
from wtpar.config import Config
from wtpar.errors import CommandError

NOTIFY_TIMEOUT = 30.0


class NotifyOutcome(enum.Enum):
    """How the work that is being announced ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    INTERRUPTED = "interrupted"

    @classmethod
    def of(cls, ok: bool, interrupted: bool = False) -> NotifyOutcome:
        """The outcome of a command that succeeded (`ok`), failed, or was interrupted."""
        if interrupted:
            return cls.INTERRUPTED
        return cls.SUCCESS if ok else cls.FAILURE


@dataclass(frozen=True)
class Notification:
    """What finished (`run`, `check`), how, and a one-line summary."""

    what: str
    outcome: NotifyOutcome
    summary: str

    @property
    def title(self) -> str:
        """`wtpar run: failure`."""
        return f"wtpar {self.what}: {self.outcome.value}"


class NotifyVia(enum.Enum):
    """Which way a notification went out."""

    COMMAND = "command"  # the configured [notify] command
    NOTIFY_SEND = "notify-send"  # the desktop's notifications
    NOTHING = "nothing"  # neither is available: only the terminal bell is left


@dataclass(frozen=True)
class Sent:
    """How a notification went out, and the error when its command failed."""

    via: NotifyVia
    error: str | None = None


def notify_command(config: Config) -> str | None:
    """`[notify] command`, checked."""
    command = config.notify.get("command")
    unknown = sorted(set(config.notify) - {"command"})
    if unknown:
        raise config.error(f"unknown setting notify.{unknown[0]} (known: command)", unknown[0])
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise config.error("notify.command must be a non-empty string", "command")
    return command


def send(config: Config, note: Notification, cwd: str) -> Sent:
    """Run `[notify] command` with WTPAR_OUTCOME, WTPAR_SUMMARY and WTPAR_COMMAND set, else
    `notify-send` when it is installed. Never raises for a failing notifier."""
    command = notify_command(config)
    env = procs.clean_env(
        {
            "WTPAR_OUTCOME": note.outcome.value,
            "WTPAR_SUMMARY": note.summary,
            "WTPAR_COMMAND": note.what,
        }
    )
    if command is not None:
        return Sent(NotifyVia.COMMAND, _run([command], cwd, env, shell=True))
    notify_send = shutil.which("notify-send")
    if notify_send is not None:
        return Sent(NotifyVia.NOTIFY_SEND, _run([notify_send, note.title, note.summary], cwd, env))
    return Sent(NotifyVia.NOTHING)


def _run(args: list[str], cwd: str, env: dict[str, str], shell: bool = False) -> str | None:
    argv = ["/bin/sh", "-c", args[0]] if shell else args
    try:
        result = procs.run(argv, cwd=cwd, env=env, check=False, timeout=NOTIFY_TIMEOUT)
    except CommandError as exc:
        if exc.returncode == 124:
            return f"notify command `{args[0]}` took over {NOTIFY_TIMEOUT:.0f}s and was stopped"
        return f"notify command `{args[0]}` could not start: {exc.output}"
    if result.returncode != 0:
        last = ((result.stdout + result.stderr).strip().splitlines() or ["(no output)"])[-1]
        return f"notify command `{args[0]}` exited {result.returncode}: {last}"
    return None
