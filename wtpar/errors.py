"""User-facing errors: the CLI prints the message, no traceback, and exits with `exit_code`."""

from __future__ import annotations

import signal


class WtparError(Exception):
    """An error whose message is meant for the user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(WtparError):
    """Bad input: a wrong argument, an unknown branch, an invalid name."""

    exit_code = 2


class NotARepositoryError(UsageError):
    """wtpar was started outside a git repository, or in a bare one."""


class ConfigError(UsageError):
    """wtpar.toml or [tool.wtpar] cannot be read or is invalid."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class CommandError(WtparError):
    """A subprocess (usually git) failed; the message shows the command, exit code and output."""

    def __init__(self, args: list[str], returncode: int, output: str) -> None:
        shown = " ".join(args)
        body = (
            "\n".join("    " + line for line in output.rstrip().splitlines()) or "    (no output)"
        )
        super().__init__(f"command failed (exit {returncode}): {shown}\n{body}")
        self.args_list = args
        self.returncode = returncode
        self.output = output


class GitVersionError(WtparError):
    """The installed git is too old for the requested operation."""

    exit_code = 2


class Interrupted(WtparError):
    """A signal stopped the command: Ctrl-C (SIGINT), SIGTERM, or SIGHUP (the terminal
    closed). The exit status is 128 + the signal's number: 130, 143, 129."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(f"interrupted ({signal_label(signal_name)})")
        self.exit_code = 128 + signal.Signals[signal_name].value
        self.signal_name = signal_name


def signal_label(signal_name: str) -> str:
    """How a signal is named to the user: `Ctrl-C` for SIGINT, else its name."""
    return "Ctrl-C" if signal_name == "SIGINT" else signal_name


class StateFileError(UsageError):
    """wtpar's state file is damaged or from a newer wtpar: say which file and the way out."""

    def __init__(self, path: str, problem: str, newer: bool = False) -> None:
        from wtpar.text import shell_word  # only when a state file is damaged

        way_out = (
            "upgrade wtpar, or move the file away"
            if newer
            else f"move it away (mv {shell_word(path)} {shell_word(path + '.bad')})"
        )
        super().__init__(
            f"{path}: {problem}; {way_out}: the worktrees stay, wtpar forgets only the "
            "bases it recorded when spawning them"
        )
        self.path = path
