"""`wtpar exec`'s output: the command's bytes exactly as it wrote them, so that
`wtpar exec b -- cat image.png > copy.png` copies the file (binary, CRLF and a last line
without a newline kept as they are), with wtpar's own lines on stderr."""

from __future__ import annotations

import sys

import click

from wtpar.cli._common import stdout_gone
from wtpar.model import RunEvent, TaskOutput


class PassThrough:
    """A dispatcher subscriber writing each output event's raw bytes to stdout."""

    def __init__(self) -> None:
        self.gone = False

    def __call__(self, event: RunEvent) -> None:
        if not isinstance(event, TaskOutput):
            return
        if event.raw is None:  # a line of wtpar's own (the command could not start)
            click.echo(event.line, err=True)
            return
        if self.gone:
            return
        try:
            sys.stdout.buffer.write(event.raw)
            sys.stdout.buffer.flush()
        except BrokenPipeError:  # `wtpar exec ... | head`: stop printing, not the command
            self.gone = True
            stdout_gone()
