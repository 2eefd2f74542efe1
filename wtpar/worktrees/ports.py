"""Ports per worktree that never collide: allocated from a registry in the state folder,
under the repository lock, each one checked free on this machine when first handed out,
then kept for the worktree's life and freed when it is removed.

Hash-based ports collide and count-based ones repeat after a removal; a registry that is
read and written under one lock gives each live worktree its own ports, even when several
`wtpar spawn` processes allocate at the same time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from wtpar.errors import WtparError
from wtpar.state import JsonDict, read_json, update_json

REGISTRY_FILE = "ports.json"
Ports = dict[str, int]  # port name -> number


class PortsExhaustedError(WtparError):
    """No free port is left in the configured range."""

    exit_code = 2


def port_is_free(port: int) -> bool:
    """True when nothing on this machine listens on (or is bound to) `port`, IPv4 or IPv6."""
    import socket  # only when allocating: `wtpar list` reads the registry without it

    probes: list[tuple[socket.AddressFamily, str]] = [(socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        probes.append((socket.AF_INET6, "::"))
    for family, host in probes:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no such address family on this machine
        with sock:
            # SO_REUSEADDR, like the servers that will bind here: a port whose last
            # connections linger in TIME_WAIT is free, one that somebody listens on is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                if family == socket.AF_INET6 and exc.errno == 99:  # EADDRNOTAVAIL: no IPv6
                    continue
                return False
    return True


class PortRegistry:
    """`<wtpar>/ports.json`: which ports each branch's worktree holds.

    Allocation and release must happen under the repository lock (the callers hold it),
    so that the set of taken ports read here is the set of every live worktree's ports.
    """

    def __init__(self, wtpar_dir: str) -> None:
        self.path = os.path.join(wtpar_dir, REGISTRY_FILE)

    def all(self) -> dict[str, Ports]:
        """Ports by branch, as recorded (an unreadable entry is ignored)."""
        return _valid(read_json(self.path, {}))

    def allocate(
        self,
        branches: Sequence[str],
        names: Sequence[str],
        port_range: tuple[int, int],
        is_free: Callable[[int], bool] = port_is_free,
    ) -> dict[str, Ports]:
        """Give each of `branches` a port per name, keeping the ones it already has."""
        result: dict[str, Ports] = {}

        def change(data: Any) -> JsonDict:
            held = _valid(data)
            taken = {port for ports in held.values() for port in ports.values()}
            for branch in branches:
                # Names no longer configured give their port back.
                ports = {n: p for n, p in held.get(branch, {}).items() if n in names}
                taken.difference_update(set(held.get(branch, {}).values()) - set(ports.values()))
                for name in names:
                    if name not in ports:
                        ports[name] = _first_free(port_range, taken, is_free)
                        taken.add(ports[name])
                held[branch] = ports
                result[branch] = dict(ports)
            return _dump(held)

        update_json(self.path, change, {})
        return result

    def free(self, branches: Iterable[str]) -> None:
        """Give back the ports of these branches' worktrees."""
        gone = set(branches)

        def change(data: Any) -> JsonDict:
            return _dump({b: p for b, p in _valid(data).items() if b not in gone})

        if gone & set(self.all()):
            update_json(self.path, change, {})

    def keep_only(self, live: Iterable[str]) -> list[str]:
        """Free the ports of every branch not in `live` (worktrees removed behind our back)."""
        alive = set(live)
        stale = [b for b in self.all() if b not in alive]
        self.free(stale)
        return stale


def _first_free(
    port_range: tuple[int, int], taken: set[int], is_free: Callable[[int], bool]
) -> int:
    low, high = port_range
    for port in range(low, high + 1):
        if port not in taken and is_free(port):
            return port
    raise PortsExhaustedError(
        f"no free port left in env.port_range {low}-{high} "
        f"({len(taken)} held by worktrees); widen the range or remove worktrees"
    )


def _valid(data: Any) -> dict[str, Ports]:
    held: dict[str, Ports] = {}
    worktrees = data.get("worktrees", {}) if isinstance(data, dict) else {}
    if not isinstance(worktrees, dict):
        return held
    for branch, entry in worktrees.items():
        ports = entry.get("ports") if isinstance(entry, dict) else None
        if isinstance(ports, dict):
            with contextlib.suppress(TypeError, ValueError):
                held[str(branch)] = {str(n): int(p) for n, p in ports.items()}
    return held


def _dump(held: Mapping[str, Ports]) -> JsonDict:
    return {"schema": 1, "worktrees": {b: {"ports": dict(p)} for b, p in sorted(held.items())}}
