"""Plain-text layout shared by the command line and the run summary (no UI library)."""

from __future__ import annotations

from collections.abc import Sequence


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: 2 for East Asian wide characters and most emoji,
    0 for combining marks, 0 for control characters (never negative)."""
    if text.isascii() and text.isprintable():
        return len(text)
    from wcwidth import wcwidth  # only for non-ASCII text: `wtpar list` starts without it

    return sum(max(wcwidth(ch), 0) for ch in text)


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell on screen, two spaces apart, no trailing blanks."""
    lines = [list(headers), *(list(row) for row in rows)]
    sizes = [[display_width(cell) for cell in line] for line in lines]
    widths = [max(column) for column in zip(*sizes, strict=True)]
    return "\n".join(
        "  ".join(
            cell + " " * (w - n) for cell, n, w in zip(line, size, widths, strict=True)
        ).rstrip()
        for line, size in zip(lines, sizes, strict=True)
    )


def plural(n: int, noun: str) -> str:
    """`1 commit`, `3 commits`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ahead_behind_text(ahead: int | None, behind: int | None) -> str:
    """`↑2 ↓1`, or `-` when unknown."""
    if ahead is None or behind is None:
        return "-"
    return f"↑{ahead} ↓{behind}"
