"""Reading wtpar's own files under `.git/wtpar/`, which anything may have damaged: truncated
by a full disk, overwritten with binary, edited by hand, or written by a newer wtpar.

Every store reads through `load_json` and checks the shape with `Fields` in a small typed
loader beside it, so a damaged file is a `Corrupt` error saying what is wrong, never an
AttributeError later. Caches are then dropped with one warning (`read_cache`); the state
file is a user-facing error (see `StateStore`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from wtpar.notices import warn

_T = TypeVar("_T")


class Corrupt(ValueError):
    """A file of wtpar's that cannot be used: `problem` says why, for the user."""

    def __init__(self, problem: str, newer: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.newer = newer


def load_json(path: str) -> Any:
    """The JSON in `path`, None when the file does not exist; Corrupt when it is not JSON."""
    try:
        with open(path, "rb") as fh:
            # Decoded at once: a file of megabytes (a full run history) is not held as bytes
            # too while it is parsed.
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Corrupt(f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Corrupt("not text (binary content)") from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise Corrupt(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise Corrupt("not valid JSON (nested too deeply)") from None


def _no_constant(name: str) -> float:
    # NaN/Infinity are not JSON: wtpar never means them, and they crash whatever reads them
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: as damaging as Infinity
        raise json.JSONDecodeError(f"{text} is out of range", text, 0)
    return value


def read_cache(path: str, parse: Callable[[Any], _T], empty: _T) -> _T:
    """A cache file parsed by `parse`; `empty` when missing, and also when damaged (warned)."""
    try:
        data = load_json(path)
        return empty if data is None else parse(data)
    except Corrupt as exc:
        warn(
            f"{path}: {exc.problem}; ignoring this cache (it is rebuilt as wtpar runs)", about=path
        )
        return empty


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


class Fields:
    """Typed access to one JSON object: a missing key or a wrong type raises Corrupt."""

    def __init__(self, data: object, where: str = "") -> None:
        if not isinstance(data, dict):
            raise Corrupt(f"{where or 'the file'} should be an object, not {_kind(data)}")
        self.data: dict[str, Any] = data
        self.where = where

    def _get(self, key: str, types: tuple[type, ...], what: str, optional: bool) -> Any:
        name = f"{self.where}.{key}" if self.where else key
        if key not in self.data:
            if optional:
                return None
            raise Corrupt(f"{name} is missing")
        value = self.data[key]
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise Corrupt(f"{name} should be {what}, not {_kind(value)}")
        return value

    def text(self, key: str) -> str:
        """A required string."""
        value: str = self._get(key, (str,), "a string", False)
        return value

    def opt_text(self, key: str) -> str | None:
        """A string, or None when missing or null."""
        value: str | None = self._get(key, (str,), "a string", True)
        return value

    def number(self, key: str) -> float:
        """A required number."""
        return float(self._get(key, (int, float), "a number", False))

    def opt_number(self, key: str) -> float | None:
        """A number, or None when missing or null."""
        value = self._get(key, (int, float), "a number", True)
        return None if value is None else float(value)

    def integer(self, key: str) -> int:
        """A required whole number."""
        value: int = self._get(key, (int,), "a whole number", False)
        return value

    def opt_integer(self, key: str) -> int | None:
        """A whole number, or None when missing or null."""
        value: int | None = self._get(key, (int,), "a whole number", True)
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        """true or false (`default` when missing, if given)."""
        value = self._get(key, (bool,), "true or false", default is not None)
        return default if value is None and default is not None else bool(value)

    def texts(self, key: str) -> tuple[str, ...]:
        """A required list of strings."""
        value: list[Any] = self._get(key, (list,), "a list of strings", False)
        if not all(isinstance(v, str) for v in value):
            raise Corrupt(f"{self.where + '.' if self.where else ''}{key} should hold strings")
        return tuple(value)

    def items(self, key: str, optional: bool = False) -> list[Any]:
        """A list (empty when missing and `optional`)."""
        value: list[Any] | None = self._get(key, (list,), "a list", optional)
        return [] if value is None else value

    def objects(self, key: str, optional: bool = False) -> dict[str, Fields]:
        """A JSON object of JSON objects, each wrapped (empty when missing and `optional`)."""
        value: dict[str, Any] | None = self._get(key, (dict,), "an object", optional)
        name = f"{self.where}.{key}" if self.where else key
        return {k: Fields(v, f"{name}[{k!r}]") for k, v in (value or {}).items()}

    def schema(self, supported: int) -> int:
        """The file's `schema`; Corrupt (marked `newer`) when a newer wtpar wrote it."""
        version = self.integer("schema")
        if version > supported:
            raise Corrupt(
                f"written by a newer wtpar (schema {version}; this one reads {supported})",
                newer=True,
            )
        if version < 1:
            raise Corrupt(f"unknown schema {version}")
        return version
