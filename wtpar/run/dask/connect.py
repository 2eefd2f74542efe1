"""Reaching the cluster safely: one client per run, checked before a task is submitted.

- No scheduler address: a `LocalCluster` of worker processes on this machine, bound to
  127.0.0.1, started for the run and closed after it.
- An unreachable scheduler is a one-line error (exit 2) within `connect_timeout`.
- Versions are checked at connect (`Client.get_versions(check=True)`, wtpar included):
  a different wtpar, Dask, distributed, cloudpickle or msgpack, or another Python
  minor version, on the scheduler or a worker is an error naming the package and where.
- A scheduler that is neither on a loopback address nor TLS gets a warning: whoever can reach
  it can run code on its workers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wtpar.errors import UsageError
from wtpar.run.dask.settings import DaskSettings

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

MUST_MATCH = ("wtpar", "dask", "distributed", "cloudpickle", "msgpack")


class DaskConnectError(UsageError):
    """The cluster cannot be used: unreachable, or different versions (exit 2)."""


@dataclass
class Connection:
    """A connected client, the LocalCluster it owns (if any), and warnings for the user."""

    client: Client
    cluster: LocalCluster | None
    address: str
    notes: list[str] = field(default_factory=list)

    async def close(self) -> None:
        """Close the client, then the LocalCluster if this run started it."""
        await self.client.close()
        if self.cluster is not None:
            await self.cluster.close()


async def connect(settings: DaskSettings, local_workers: int) -> Connection:
    """Connect (or start a LocalCluster of `local_workers` processes) and check versions."""
    from distributed import Client, LocalCluster

    cluster: LocalCluster | None = None
    notes: list[str] = []
    address = settings.scheduler
    if address is None:
        cluster = await LocalCluster(
            n_workers=settings.workers or local_workers,
            threads_per_worker=1,
            processes=settings.processes,
            host="127.0.0.1",
            protocol="tcp://",
            dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
            silence_logs=logging.ERROR,
            asynchronous=True,
        )
        address = str(cluster.scheduler_address)
    else:
        warning = insecure_warning(address)
        if warning:
            notes.append(warning)
    try:
        client = await asyncio.wait_for(
            Client(
                address,
                asynchronous=True,
                timeout=settings.connect_timeout,
                security=_security(settings),
                set_as_default=False,
            ),
            timeout=settings.connect_timeout + 1,
        )
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            await cluster.close()
        # distributed retries a refused connection until the timeout, then says so.
        timed_out = isinstance(exc, TimeoutError) or "Timed out" in str(exc)
        detail = "" if timed_out else f" ({str(exc).splitlines()[0] or type(exc).__name__})"
        raise DaskConnectError(
            f"cannot reach the Dask scheduler at {address} within "
            f"{settings.connect_timeout:g}s{detail}"
        ) from None
    connection = Connection(client, cluster, address, notes)
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            versions = await client.get_versions(check=True, packages=["wtpar"])
        problems = version_mismatches(versions)
    except BaseException:
        await connection.close()
        raise
    if problems:
        await connection.close()
        raise DaskConnectError(
            f"versions differ on the cluster at {address}: {'; '.join(problems)}"
        )
    return connection


def version_mismatches(versions: Mapping[str, Any]) -> list[str]:
    """What differs between this machine and the scheduler or a worker, one text per package."""
    mine = versions["client"]["packages"]
    places: dict[str, Mapping[str, Any]] = {"the scheduler": versions["scheduler"]["packages"]}
    for address, info in versions.get("workers", {}).items():
        if isinstance(info, Mapping) and "packages" in info:
            places[f"worker {address}"] = info["packages"]
    problems = []
    for package in (*MUST_MATCH, "python"):
        here = _comparable(package, mine.get(package))
        differ = [
            f"{_shown(theirs.get(package))} on {where}"
            for where, theirs in places.items()
            if _comparable(package, theirs.get(package)) != here
        ]
        if differ:
            problems.append(f"{package} {_shown(mine.get(package))} here, {', '.join(differ)}")
    return problems


def _comparable(package: str, version: Any) -> str:
    text = _shown(version)
    if package == "python":
        return ".".join(text.split(".")[:2])  # a bug-fix release pickles the same
    return text


def _shown(version: Any) -> str:
    return "missing" if version is None else str(version)


def insecure_warning(address: str) -> str | None:
    """A warning for a scheduler reached without TLS on a non-loopback address, else None."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme in ("tls", "inproc"):
        return None
    host = parts.hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"the Dask scheduler {address} is reached without TLS: anyone who can reach it can "
        "run code on its workers (see the README's TLS section)"
    )


def _security(settings: DaskSettings) -> Any:
    if not settings.tls:
        return None
    from distributed.security import Security

    for path in (settings.tls_ca_file, settings.tls_cert, settings.tls_key):
        if path is not None and not os.path.isfile(path):
            raise DaskConnectError(f"dask TLS file not found: {path}")
    return Security(
        tls_ca_file=settings.tls_ca_file,
        tls_client_cert=settings.tls_cert,
        tls_client_key=settings.tls_key,
        require_encryption=True,
    )
