"""Warnings from the core (a dropped cache, a stray process found) go through here, so each
is said once, in one format, and an adapter that owns the screen can take them instead."""

from __future__ import annotations

import sys
from collections.abc import Callable

Sink = Callable[[str], None]

_said: set[str] = set()


def _to_stderr(text: str) -> None:
    from wtpar.text import terminal_safe

    try:
        sys.stderr.write(f"wtpar: warning: {terminal_safe(text)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr is closed: nobody is left to tell


_sink: Sink = _to_stderr


def warn(text: str, about: str | None = None) -> None:
    """Tell the user `text` once per process, or once per `about` (a file: one warning each),
    on stderr unless an adapter took the sink."""
    key = about or text
    if key in _said:
        return
    _said.add(key)
    _sink(text)


def set_sink(sink: Sink | None) -> Sink:
    """Send warnings to `sink` (None: back to stderr); returns the previous sink."""
    global _sink
    previous = _sink
    _sink = sink or _to_stderr
    return previous
