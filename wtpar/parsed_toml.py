"""A configuration file parsed once, not by every command.

tomllib parses about 3 MB/s: a `wtpar.toml` of 5000 tasks (140 KB) cost 40 ms of every
`wtpar list`, more than the rest of the command; and importing tomllib alone costs about
2 ms, more than reading a small file's cached tables (JSON, which wtpar loads anyway). So
the parsed tables are kept as JSON under `.git/wtpar/cache/`, together with the exact text
they came from: a cached copy is used only when the file's text is the same, character for
character, so an edit (however quick, whatever the clock says) is always seen. Tables that
JSON cannot hold exactly (dates and times, inf and nan) are simply parsed every time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from typing import Any

from wtpar.notices import warn

_SCHEMA = 1


def parse_toml(text: str, source: str, cache_dir: str | None) -> Any:
    """`tomllib.loads(text)`, through the cache in `cache_dir` (when given).
    Raises tomllib.TOMLDecodeError as tomllib does (an invalid file is never cached)."""
    if cache_dir is None:
        return _parse(text)
    path = os.path.join(cache_dir, "config-" + os.path.basename(source) + ".json")
    cached = _read(path, source, text)
    if cached is not None:
        return cached
    data = _parse(text)
    _write(path, source, text, data)
    return data


def _parse(text: str) -> Any:
    import tomllib  # here: a command served from the cache never loads the parser

    return tomllib.loads(text)


def _read(path: str, source: str, text: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        warn(f"{path}: damaged; parsing {source} again", about=path)
        return None
    if (
        isinstance(entry, dict)
        and entry.get("schema") == _SCHEMA
        and entry.get("source") == source
        and entry.get("text") == text
        and isinstance(entry.get("data"), dict)
    ):
        return entry["data"]
    return None


def _write(path: str, source: str, text: str, data: Any) -> None:
    if not _json_exact(data):
        return
    from wtpar.state import atomic_write_text

    entry = {"schema": _SCHEMA, "source": source, "text": text, "data": data}
    with contextlib.suppress(OSError):  # a read-only repository: parse every time
        atomic_write_text(path, json.dumps(entry, allow_nan=False))


def _json_exact(value: Any) -> bool:
    """True when JSON gives `value` back unchanged (TOML dates and inf/nan it would not)."""
    if isinstance(value, dict):
        return all(_json_exact(v) for v in value.values())
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)
