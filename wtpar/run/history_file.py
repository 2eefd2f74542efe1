"""The history file's layout: one key a line, read and rewritten as a stream.

The file is one JSON object (schema 3, see history.py), written a key a line:

    {"schema":3,"entries":{
    "test\\u001fmain\\u001fpytest -q":"12.5,0,1764600000.0,10.1,8192",
    "lint\\u001fmain\\u001fruff check":"0.9,0,1764600001.5,0.8,"
    }}

so that a reader takes the lines one at a time, and decodes a line's attempts only when it
wants its key, and the end of a run rewrites the file line by line into its replacement:
a full history (5000 keys of 20 attempts, megabytes) is never in memory whole. Parsed
whole, it added 9 MB to the peak of a 5000-task run, above the 60 MB it should stay
within. A file of the single-line layout (wtpar before this one, or any other writer) is
still read whole, and written a key a line the next time.

The keys are kept least recently used first: the keys a run adds to go to the end, and
beyond `max_keys` the first ones go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wtpar.notices import warn

HEADER = '{"schema":3,"entries":{'
_END = "}}"
_decode = json.JSONDecoder().raw_decode  # a JSON value at a position of a line, in C


def read_entries(
    path: str, old_layout: Callable[[Any], Mapping[str, str]]
) -> Iterator[tuple[str, str]]:
    """(key, the text of its attempts) for each entry, in the file's order; an entry or a
    line that is not one is skipped. A file of another layout is parsed whole and turned
    into entries by `old_layout`; one that is no JSON is warned about and reads as empty."""
    try:
        fh = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - a generator's
    except FileNotFoundError:
        return
    except OSError as exc:
        warn(f"{path}: cannot read it ({exc.strerror or exc}); ignoring it", about=path)
        return
    with fh:
        first = fh.readline()
        if first.rstrip("\n") != HEADER:
            yield from _whole(path, first + fh.read(), old_layout)
            return
        for line in fh:
            entry = _entry(line)
            if entry is not None:
                yield entry


def _whole(
    path: str, text: str, old_layout: Callable[[Any], Mapping[str, str]]
) -> Iterator[tuple[str, str]]:
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        warn(f"{path}: not valid JSON; ignoring it", about=path)
        return
    yield from old_layout(data).items()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _entry(line: str) -> tuple[str, str] | None:
    """A line's (key, text), or None for the closing line or a damaged one."""
    try:
        key, end = _decode(line)
        if not isinstance(key, str) or line[end] != ":":
            return None
        text, _ = _decode(line, end + 1)
    except (ValueError, IndexError):
        return None
    if key.count("\x1f") < 2 or not isinstance(text, str) or not text:
        return None
    return key, text


def rewritten(
    entries: Callable[[], Iterator[tuple[str, str]]],
    added: Mapping[str, list[str]],
    keep: int,
    max_keys: int,
    checked: Callable[[str, str], list[str]],
) -> Iterator[str]:
    """The new file, a piece at a time, from the old one's `entries()` (read three times:
    to count, then for the keys left as they were, then for those added to) and the rows
    `added` to each key: a key's old rows (as `checked(key, text)` keeps them) and its new
    ones, the last `keep`; at most `max_keys` keys, the least recently used dropped."""
    untouched = 0
    for key, _ in entries():
        untouched += key not in added
    drop = max(0, untouched + len(added) - max_keys)
    yield HEADER
    comma = "\n"
    for key, text in entries():
        if key in added:
            continue
        if drop:
            drop -= 1
            continue
        yield f"{comma}{json.dumps(key)}:{json.dumps(text)}"
        comma = ",\n"
    done: set[str] = set()
    for key, text in entries():
        if key in added and key not in done:
            done.add(key)
            rows = (checked(key, text) + added[key])[-keep:]
            yield f"{comma}{json.dumps(key)}:{json.dumps(';'.join(rows))}"
            comma = ",\n"
    for key, rows in added.items():
        if key not in done:
            yield f"{comma}{json.dumps(key)}:{json.dumps(';'.join(rows[-keep:]))}"
            comma = ",\n"
    yield f"\n{_END}\n"
