"""Whether a starting service is ready (its port accepts connections, its URL answers),
and the tail of its log for when it is not."""

from __future__ import annotations

import contextlib
import socket

LOG_TAIL_LINES = 15


def port_answers(port: int) -> bool:
    """True when something accepts TCP connections on `port` on this machine."""
    for host in ("127.0.0.1", "::1"):
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
    return False


def url_answers(url: str) -> bool:
    """True when `url` answers HTTP with anything but a server error."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 (user's URL)
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def log_tail(path: str, offset: int = 0, lines: int = LOG_TAIL_LINES) -> tuple[str, ...]:
    """The last `lines` lines of a log from `offset` (this start's header on)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, offset))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ()
    return tuple(text.splitlines()[-lines:])
