"""Plain-text layout shared by the command line and the run summary (no UI library)."""

from __future__ import annotations

from collections.abc import Sequence


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    )


def plural(n: int, noun: str) -> str:
    """`1 commit`, `3 commits`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ahead_behind_text(ahead: int | None, behind: int | None) -> str:
    """`↑2 ↓1`, or `-` when unknown."""
    if ahead is None or behind is None:
        return "-"
    return f"↑{ahead} ↓{behind}"


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
