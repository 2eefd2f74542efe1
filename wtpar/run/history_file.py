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

import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from wtpar.notices import warn

HEADER = '{"schema":3,"entries":{'
_END = "}}"
_decode = json.JSONDecoder().raw_decode  # a JSON value at a position of a line, in C
# What wtpar never writes inside a key's attempts (numbers, commas and semicolons): a line
# with one of these is decoded before it is carried over, so that a damaged one is dropped,
# not copied into the next file (which must stay valid JSON for every reader).
_SUSPECT = re.compile(r'[\\"\x00-\x1f]')  # an escape, a quote, a control character


def read_entries(
    path: str,
    old_layout: Callable[[Any], Mapping[str, str]],
    wanted: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, str]]:
    """(key, the text of its attempts) for each entry (of the keys `wanted` says yes to:
    the others' attempts are not even decoded), in the file's order; an entry or a line
    that is not one is skipped. A file of another layout is parsed whole and turned into
    entries by `old_layout`; one that is no JSON is warned about and reads as empty."""
    for key, body, at in _lines(path, old_layout):
        if wanted is None or wanted(key):
            try:
                text, _ = _decode(body, at)
            except ValueError:
                continue
            if isinstance(text, str) and text:
                yield key, text


def _lines(
    path: str, old_layout: Callable[[Any], Mapping[str, str]]
) -> Iterator[tuple[str, str, int]]:
    """(key, its line without the comma, where the attempts' string starts in it): only the
    key is decoded."""
    try:
        fh = _open_regular(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        warn(f"{path}: cannot read it ({exc.strerror or exc}); ignoring it", about=path)
        return
    damaged = 0
    with fh:
        first = fh.readline()
        if first.rstrip("\n") != HEADER:
            for key, text in _whole(path, first + fh.read(), old_layout):
                name = json.dumps(key)
                yield key, f"{name}:{json.dumps(text)}", len(name) + 1
            return
        for line in fh:
            body = line.rstrip("\n").removesuffix(",")
            found = _entry(body)
            if found is None:
                damaged += body not in (_END, "")  # a blank line holds nothing to lose
                continue
            yield found[0], body, found[1]
    if damaged:
        warn(f"{path}: {damaged} damaged line(s) dropped; the others are kept", about=path)


def _open_regular(path: str) -> TextIO:
    """PATH opened for reading, if it is a file (a FIFO in its place would block the run
    forever, a directory fails only on reading); OSError otherwise."""
    # Non-blocking: opening a FIFO for reading otherwise waits for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a file")
    return os.fdopen(fd, encoding="utf-8", errors="replace")


def _entry(body: str) -> tuple[str, int] | None:
    """A line's key and where its attempts' string starts, or None if it is not an entry."""
    try:
        key, end = _decode(body)
    except ValueError:
        return None
    # The attempts: a string (only its quotes are looked at here), after a colon.
    quoted = len(body) > end + 2 and body[end + 1] == body[-1] == '"'
    if not (isinstance(key, str) and key.count("\x1f") >= 2 and body[end] == ":" and quoted):
        return None
    if _SUSPECT.search(body, end + 2, len(body) - 1):  # between the string's quotes
        try:
            _, stop = _decode(body, end + 1)
        except ValueError:
            return None
        if stop != len(body):
            return None  # a quote ended the string early: what follows is no JSON
    return key, end + 1


def newer_schema(path: str, known: int) -> int | None:
    """The schema of the file at PATH if a newer wtpar wrote it (above `known`), else None.
    Only a file of another layout than this one's is parsed (whole: its "schema" may come
    after its entries)."""
    try:
        with _open_regular(path) as fh:
            if fh.readline().rstrip("\n") == HEADER:
                return None
            fh.seek(0)
            data = json.load(fh, parse_constant=_no_constant)
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError):
        return None  # damaged: read as such, and replaced
    return schema_above(data, known)


def schema_above(data: Any, known: int) -> int | None:
    """DATA's "schema" when it is a number above `known` (a newer wtpar wrote it), else None."""
    schema = data.get("schema") if isinstance(data, dict) else None
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > known:
        return schema
    return None


def _whole(
    path: str, text: str, old_layout: Callable[[Any], Mapping[str, str]]
) -> Iterator[tuple[str, str]]:
    try:
        data = json.loads(text, parse_constant=_no_constant)
        entries = old_layout(data)
    except (ValueError, RecursionError) as exc:
        invalid = isinstance(exc, json.JSONDecodeError | RecursionError)
        problem = "not valid JSON" if invalid else str(exc)
        warn(f"{path}: {problem}; ignoring it", about=path)
        return
    yield from entries.items()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def rewritten(
    path: str,
    old_layout: Callable[[Any], Mapping[str, str]],
    added: Mapping[str, list[str]],
    keep: int,
    max_keys: int,
    checked: Callable[[str, str], list[str]],
) -> Iterator[str]:
    """The new file, a piece at a time, from the old one (read three times: to count, then
    for the keys left as they were, copied as they are, then for those added to) and the
    rows `added` to each key: a key's old rows (as `checked(key, text)` keeps them) and its
    new ones, the last `keep`; at most `max_keys` keys, the least recently used dropped."""
    untouched = sum(key not in added for key, _, _ in _lines(path, old_layout))
    drop = max(0, untouched + len(added) - max_keys)
    yield HEADER
    comma = "\n"
    for key, body, _ in _lines(path, old_layout):
        if key in added:
            continue
        if drop:
            drop -= 1
            continue
        yield f"{comma}{body}"
        comma = ",\n"
    done: set[str] = set()
    for key, text in read_entries(path, old_layout, added.__contains__):
        if key not in done:
            done.add(key)
            rows = (checked(key, text) + added[key])[-keep:]
            yield f"{comma}{json.dumps(key)}:{json.dumps(';'.join(rows))}"
            comma = ",\n"
    for key, rows in added.items():
        if key not in done:
            yield f"{comma}{json.dumps(key)}:{json.dumps(';'.join(rows[-keep:]))}"
            comma = ",\n"
    yield f"\n{_END}\n"
