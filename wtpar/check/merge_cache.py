"""`wtpar/cache/merge.json`: merge results by commit ids, so a branch that did not move
costs nothing the next time `wtpar check` runs. Read once (validated), written once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wtpar import git as gitmod
from wtpar.state import update_cache
from wtpar.stored import Corrupt, Fields, read_cache

_KEEP = {"paths": 4000, "base": 4000, "counts": 4000, "pairs": 20000, "orders": 200}


def pair_key(a: str, b: str) -> str:
    """The cache key of a pair of commits (order does not matter for conflicts)."""
    return ":".join(sorted((a, b)))


class MergeCache:
    """`wtpar/cache/merge.json`: merge results by commit ids, read once, written once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.version = ".".join(str(x) for x in gitmod.version())
        # Validated; empty when missing, damaged (warned) or written with another git.
        self.data = read_cache(path, lambda d: _parse_merge_cache(d, self.version), _empty())
        self.new: dict[str, dict[str, Any]] = {s: {} for s in _KEEP}

    def lookup(self, section: str, keys: Iterable[str]) -> dict[str, Any]:
        """The cached entries among `keys`."""
        table = self.data[section]
        return {k: table[k] for k in keys if k in table}

    def store(self, section: str, entries: Mapping[str, Any]) -> None:
        """Remember entries (written by `save`)."""
        self.data[section].update(entries)
        self.new[section].update(entries)

    def get_or_compute(
        self, section: str, base: str, heads: Sequence[str], one: Callable[[str], Any]
    ) -> list[Any]:
        """Entries keyed by (base, head), computing the missing ones one by one in threads."""

        def compute(missing: Sequence[str]) -> list[Any]:
            if len(missing) <= 1:
                return [one(h) for h in missing]
            with ThreadPoolExecutor(min(8, len(missing))) as pool:
                return list(pool.map(one, missing))

        return self.get_or_compute_many(section, base, heads, compute)

    def get_or_compute_many(
        self,
        section: str,
        base: str,
        heads: Sequence[str],
        compute: Callable[[Sequence[str]], list[Any]],
    ) -> list[Any]:
        """Entries keyed by (base, head), the missing ones computed together."""
        keys = [f"{base}:{h}" for h in heads]
        hits = self.lookup(section, keys)
        missing = list(dict.fromkeys(h for h, k in zip(heads, keys, strict=True) if k not in hits))
        fresh = {f"{base}:{h}": v for h, v in zip(missing, compute(missing), strict=True)}
        self.store(section, fresh)
        hits.update(fresh)
        return [hits[k] for k in keys]

    def save(self) -> None:
        """Merge the new entries into the file, under its lock, keeping the newest."""
        if not any(self.new.values()):
            return
        version, new = self.version, self.new

        def change(data: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"schema": 1, "git": version}
            for section, keep in _KEEP.items():
                table = data[section]
                for k, v in new[section].items():
                    table.pop(k, None)
                    table[k] = v
                out[section] = dict(list(table.items())[-keep:])
            return out

        update_cache(self.path, lambda d: _parse_merge_cache(d, version), _empty(), change)
        self.new = {s: {} for s in _KEEP}


def _parse_merge_cache(data: Any, version: str) -> dict[str, dict[str, Any]]:
    """The typed loader of merge.json: every entry of every section has its section's shape
    (Corrupt otherwise); a cache written with another git version is empty."""
    doc = Fields(data)
    doc.schema(1)
    if doc.opt_text("git") != version:
        return _empty()
    sections: dict[str, dict[str, Any]] = {}
    for section in _KEEP:
        table = doc.data.get(section, {})
        if not isinstance(table, dict):
            raise Corrupt(f"{section} should be an object")
        for key, entry in table.items():
            _check_entry(section, f"{section}[{key!r}]", entry)
        sections[section] = dict(table)
    return sections


def _empty() -> dict[str, dict[str, Any]]:
    return {s: {} for s in _KEEP}


def _check_entry(section: str, where: str, entry: Any) -> None:
    if section == "orders":
        if not isinstance(entry, list):
            raise Corrupt(f"{where} should be a list")
        for step in entry:
            if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], bool)):
                raise Corrupt(f"{where} should hold [clean, files] pairs")
            Fields({"files": step[1]}, where).texts("files")
        return
    if section == "counts":
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in entry)
        ):
            raise Corrupt(f"{where} should be [ahead, behind]")
        return
    fields = Fields(entry, where)
    if section == "paths":
        if "paths" in fields.data:
            fields.texts("paths")
            fields.texts("del")
        else:
            fields.flag("related")
        return
    fields.flag("clean")
    fields.texts("files")
    if section == "base":
        fields.flag("integrated")
