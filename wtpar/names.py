"""Names made safe for the filesystem: branch names as folder names, stable hashes."""

from __future__ import annotations

import re

# \w is Unicode-aware: `feat-ü-日本` keeps its letters (and a folder of its own).
_UNSAFE_PATH = re.compile(r"[^\w.-]+")


def safe_component(branch: str) -> str:
    """A branch name as one path component: `/` and unsafe characters become `-`."""
    return _UNSAFE_PATH.sub("-", branch).strip("-.") or "branch"


def unique_component(branch: str) -> str:
    """Like safe_component, but names changed by the cleaning get a hash, so `a/b` and
    `a-b` never share a folder."""
    safe = safe_component(branch)
    if safe == branch:
        return safe
    return f"{safe}-{hash_stable(branch):08x}"


def hash_stable(text: str) -> int:
    """A hash that is the same in every process (str.__hash__ is randomised)."""
    value = 2166136261
    for byte in text.encode("utf-8", "surrogateescape"):
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value
