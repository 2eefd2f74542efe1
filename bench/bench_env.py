"""Benchmark worktree services against what a user would otherwise type.

1. up: `wtpar up` starting a small HTTP server (`python -m http.server`) in each of N
   worktrees and waiting until every one answers, against a bash loop that starts each
   server in the background on a hand-picked port and polls it with curl until it answers,
   one worktree after another.
2. list: `wtpar list --json` with those N services running, against the same command with
   no services recorded: what showing ports and services costs.

Both sides run in the same process, alternating, on the same repository; medians of
REPEATS runs are printed with the ratio (loop time / wtpar time: above 1 means wtpar is
faster). Servers bind 127.0.0.1 only and are stopped by pid. Re-run:
`python bench/bench_env.py [--worktrees N] [--repeats N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import make_repo  # noqa: E402

WTPAR = [sys.executable, "-m", "wtpar"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SERVER = f"{sys.executable} -m http.server $WTPAR_PORT_WEB --bind 127.0.0.1"


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def loop_script(ports: list[int], pidfile: Path) -> list[str]:
    """Start one server per port in the background and poll each until it answers."""
    steps = [
        f"{sys.executable} -m http.server {p} --bind 127.0.0.1 -d /tmp >/dev/null 2>&1 & "
        f"echo $! >> {pidfile}; "
        f"until curl -s -o /dev/null http://127.0.0.1:{p}/; do sleep 0.05; done; "
        for p in ports
    ]
    return ["bash", "-c", "".join(steps)]


def kill_pids(pidfile: Path) -> None:
    for line in pidfile.read_text().split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line), signal.SIGTERM)
    pidfile.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worktrees", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo")
        (repo / "wtpar.toml").write_text(
            '[env]\nports = ["web"]\nport_range = "31000-31999"\n'
            f'[services.web]\ncmd = "{SERVER}"\nready = "web"\n'
        )
        names = [f"svc-{i}" for i in range(args.worktrees)]
        subprocess.run([*WTPAR, "spawn", *names], cwd=repo, env=ENV, check=True)
        loop_ports = list(range(32000, 32000 + args.worktrees))
        pidfile = Path(tmp) / "pids"
        t_up: list[float] = []
        t_loop: list[float] = []
        t_list_idle: list[float] = []
        t_list_busy: list[float] = []
        for _ in range(args.repeats):
            t_list_idle.append(timed([*WTPAR, "list", "--json"], repo))
            t_loop.append(timed(loop_script(loop_ports, pidfile), repo))
            kill_pids(pidfile)
            t_up.append(timed([*WTPAR, "up"], repo))
            t_list_busy.append(timed([*WTPAR, "list", "--json"], repo))
            subprocess.run([*WTPAR, "down"], cwd=repo, env=ENV, check=True, capture_output=True)
        up, loop = statistics.median(t_up), statistics.median(t_loop)
        idle, busy = statistics.median(t_list_idle), statistics.median(t_list_busy)
        n = args.worktrees
        print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cpus")
        print(
            f"up {n} http servers: wtpar up {up:.3f}s, sequential start-and-poll loop "
            f"{loop:.3f}s, ratio loop/wtpar {loop / up:.2f}x"
        )
        print(
            f"list {n + 1} worktrees: with {n} services running {busy:.3f}s, with none "
            f"{idle:.3f}s, ratio none/running {idle / busy:.2f}x"
        )


if __name__ == "__main__":
    main()
