"""Plain-text layout shared by the command line and the run summary (no UI library)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_DURATION = 365 * 86400.0
_NARROW = frozenset("↑↓")  # wtpar's own ahead/behind arrows: one column each


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: 2 for East Asian wide characters and most emoji,
    0 for combining marks, 0 for control characters (never negative)."""
    narrow = text.isascii() or all(ch.isascii() or ch in _NARROW for ch in text)
    if narrow and text.isprintable():
        return len(text)
    from wcwidth import wcwidth  # only for other text: `wtpar list` starts without it

    return sum(max(wcwidth(ch), 0) for ch in text)


# A control character in a cell (a path with a newline, an escape sequence) is shown as
# an escape: the table keeps a line per row, and nothing in it can steer the terminal.
_VISIBLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    c: f"\\u{c:04x}"
    for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))  # bidi, breaks
} | {
    c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)  # a byte not UTF-8, in a path
} | {
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord("\r"): "\\r",
}


_SAFE = {c: shown for c, shown in _VISIBLE.items() if c not in (ord("\n"), ord("\t"))}


_OUTPUT_SAFE = {c: shown for c, shown in _SAFE.items() if c not in (0x1B, ord("\r"))}


def output_safe(line: str) -> str:
    """A line a task printed, for a screen that interprets its escape sequences itself
    (the dashboard keeps colours and drops the rest): every other control character shown
    as an escape, as `terminal_safe` does."""
    return line.translate(_OUTPUT_SAFE)


def terminal_safe(text: str) -> str:
    """TEXT with what could steer a terminal (escape sequences, carriage returns, C1 and
    bidi controls: from a path, say) shown as escapes; line breaks and tabs are kept (git's
    output quoted in an error)."""
    return text.translate(_SAFE)


# In bash's `$'...'` a `\xNN` is one byte whatever the locale (a `\uNNNN` is not: under
# LC_ALL=C it stays as written): a character to escape goes as its UTF-8 bytes, and a
# byte that is not UTF-8 as that byte.
_SHELL_ESCAPES = (
    {c: "".join(f"\\x{b:02x}" for b in chr(c).encode()) for c in _VISIBLE if c < 0xD800}
    | {c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)}
    | {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", ord("\\"): "\\\\", ord("'"): "\\'"}
)


def shell_word(text: str) -> str:
    """TEXT as one word to paste into a shell, in a suggested command: quoted as
    `shlex.quote` quotes, or, when it holds a control character or a byte that is not
    UTF-8, as bash's `$'...'` with escapes (which zsh and ksh read too), so it prints as
    text and pastes as the very bytes."""
    if text.translate(_VISIBLE) != text:
        return "$'" + text.translate(_SHELL_ESCAPES) + "'"
    import shlex  # only for a suggested command

    return shlex.quote(text)


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell on screen, two spaces apart, no trailing blanks
    (control characters shown as escapes)."""
    lines = [list(headers), *([cell.translate(_VISIBLE) for cell in row] for row in rows)]
    sizes = [[display_width(cell) for cell in line] for line in lines]
    widths = [max(column) for column in zip(*sizes, strict=True)]
    return "\n".join(
        "  ".join(
            cell + " " * (w - n) for cell, n, w in zip(line, size, widths, strict=True)
        ).rstrip()
        for line, size in zip(lines, sizes, strict=True)
    )


def some_of(names: Sequence[str], limit: int = 8) -> str:
    """`a, b, c`; past LIMIT names, the first ones and how many more (`none` for none): an
    error listing a fleet's 200 worktrees was one line of thousands of characters."""
    if len(names) <= limit:
        return ", ".join(names) or "none"
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def plural(n: int, noun: str) -> str:
    """`1 commit`, `3 commits`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ahead_behind_text(ahead: int | None, behind: int | None) -> str:
    """`↑2 ↓1`, or `-` when unknown."""
    if ahead is None or behind is None:
        return "-"
    return f"↑{ahead} ↓{behind}"


def parse_duration(value: object) -> float:
    """Seconds from `90`, `1.5`, `"30s"`, `"10m"`, `"1h30m"`, `"250ms"`; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_RE.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"not a duration: {value!r} (use seconds, or e.g. 30s, 10m, 1h30m, 250ms)"
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"not a duration: {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        # inf/nan would overflow clocks and timers later (or save NaN in JSON files)
        raise ValueError(f"not a duration: {value!r} (at most a year, 8760h)")
    return seconds


def format_seconds(value: float | None) -> str:
    """`0.012s`, `1.50s`, `42.0s`, `3m05s`; `-` when unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    if value < 1:
        return f"{value:.3f}s"
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def human_size(size: int) -> str:
    """`5 B`, `6.0 kB`, `120 MB` (decimal units, like `du --si`)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            if unit == "B":
                return f"{size} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} TB" if value < 10 else f"{value:.0f} TB"


def compact_seconds(value: float) -> str:
    """`0.4s`, `12s`, `3m05s`, `2h10m`: elapsed time in a narrow column."""
    if value < 10:
        return f"{value:.1f}s"
    if value < 60:
        return f"{int(value)}s"
    if value < 3600:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"
