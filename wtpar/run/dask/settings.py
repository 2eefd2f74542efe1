"""The `[dask]` settings and `--backend`/`--scheduler`, checked before anything connects.

    [run]
    backend = "dask"                    # or "local" (the default)
    [dask]
    scheduler = "tls://sched.example:8786"   # none: a LocalCluster on this machine, for the run
    repo = "ssh://git.example/proj.git"      # where workers fetch commits (default: this repo)
    uncommitted = true                  # run on uncommitted and untracked changes too
    workers = 4                         # LocalCluster worker processes (default: CPUs)
    cache_worktrees = 16                # commit worktrees each worker keeps per repository
    connect_timeout = "5s"
    tls_ca_file = "ca.pem"              # TLS: all three, paths relative to the repository
    tls_cert = "client.pem"
    tls_key = "client.key"

Pure: no Dask import, so a bad setting is reported as fast as any other config error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from wtpar.config import Config
from wtpar.errors import UsageError
from wtpar.run.dask.protocol import KEEP_WORKTREES
from wtpar.text import parse_duration

_KNOWN = {
    "scheduler",
    "repo",
    "uncommitted",
    "workers",
    "cache_worktrees",
    "connect_timeout",
    "tls_ca_file",
    "tls_cert",
    "tls_key",
}
_TLS = ("tls_ca_file", "tls_cert", "tls_key")


@dataclass(frozen=True)
class DaskSettings:
    """How a run reaches its Dask cluster and what the workers check out."""

    scheduler: str | None = None
    repo: str | None = None
    uncommitted: bool = True
    workers: int | None = None
    cache_worktrees: int = KEEP_WORKTREES
    connect_timeout: float = 5.0
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    processes: bool = True  # LocalCluster only; tests run in-process workers

    @property
    def tls(self) -> bool:
        """True when TLS files are configured."""
        return self.tls_ca_file is not None


def dask_settings(config: Config, scheduler: str | None = None) -> DaskSettings:
    """The `[dask]` table (checked), with `--scheduler` taking precedence."""
    table: dict[str, Any] = dict(config.dask)
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise config.error(
            f"dask: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})",
            unknown[0],
        )
    for key in ("scheduler", "repo", *_TLS):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise config.error(f"dask.{key} must be a non-empty string", key)
    uncommitted = table.get("uncommitted", True)
    if not isinstance(uncommitted, bool):
        raise config.error("dask.uncommitted must be true or false", "uncommitted")
    workers = table.get("workers")
    if workers is not None and not _count(workers):
        raise config.error("dask.workers must be a whole number, 1 or more", "workers")
    kept = table.get("cache_worktrees", KEEP_WORKTREES)
    if not _count(kept):
        raise config.error(
            "dask.cache_worktrees must be a whole number, 1 or more", "cache_worktrees"
        )
    timeout = 5.0
    if "connect_timeout" in table:
        try:
            timeout = parse_duration(table["connect_timeout"])
        except ValueError as exc:
            raise config.error(f"dask.connect_timeout: {exc}", "connect_timeout") from None
    given = [key for key in _TLS if key in table]
    if given and len(given) != len(_TLS):
        missing = ", ".join(k for k in _TLS if k not in table)
        raise config.error(
            f"dask: TLS needs tls_ca_file, tls_cert and tls_key (missing: {missing})", given[0]
        )
    base = os.path.dirname(config.source) if config.source else "."
    tls: dict[str, str | None] = {key: None for key in _TLS}
    for key in given:
        tls[key] = os.path.join(base, os.path.expanduser(table[key]))
    address = scheduler or table.get("scheduler")
    if address is not None and given and not address.startswith("tls://"):
        raise UsageError(f"scheduler {address}: with TLS files configured, use a tls:// address")
    return DaskSettings(
        scheduler=address,
        repo=table.get("repo"),
        uncommitted=uncommitted,
        workers=workers,
        cache_worktrees=kept,
        connect_timeout=timeout,
        tls_ca_file=tls["tls_ca_file"],
        tls_cert=tls["tls_cert"],
        tls_key=tls["tls_key"],
    )


def _count(value: Any) -> bool:
    """A whole number, 1 or more (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
