"""What the per-run watchdog (wtpar/run/watchdog.py) costs `wtpar run`, in the same run.

Printed, as medians over --runs repetitions:
- the wall time of a whole `python -m wtpar run --output quiet -- true` in one worktree
  (what a user waits for: Python start-up, config, git, one task, logs, report.json);
- the time wtpar itself spends on the watchdog: starting it (`Popen` of `python -I -S`),
  telling it about one group and closing the pipe, measured in-process;
- the wall time of the watchdog process (`/bin/sh`) from start to exit at a clean end
  (its own start-up, which runs beside wtpar, not in its way);
- with `--before DIR` (a checkout without the watchdog, e.g. `git worktree add /tmp/b main~N`),
  the same whole `wtpar run` from that checkout, alternating with this one, and the ratio.

Re-run: `python bench/bench_watchdog.py [--runs N] [--before DIR]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import make_repo  # noqa: E402
from wtpar.run.watchdog import _SCRIPT, Watchdog  # noqa: E402


def whole_run(repo: Path, source: Path) -> float:
    """Seconds for one `python -m wtpar run --output quiet -- true` from `source`."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "wtpar", "run", "--output", "quiet", "--", "true"],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def in_process_cost(record_dir: str) -> float:
    """Seconds wtpar spends starting the watchdog, tracking one group, closing the pipe."""
    dog = Watchdog(record_dir)
    t0 = time.perf_counter()
    dog.track(os.getpid() + 1_000_000)  # no such group: the watchdog only records it
    dog.untrack(os.getpid() + 1_000_000)
    dog.close()
    return time.perf_counter() - t0


def watchdog_alone(record_dir: str) -> float:
    """Seconds from starting the watchdog process to its exit, at a clean end (no record)."""
    t0 = time.perf_counter()
    subprocess.run(
        ["/bin/sh", "-c", _SCRIPT, "wtpar-watchdog", os.path.join(record_dir, "none.groups")],
        stdin=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="a checkout of wtpar without the watchdog")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "proj")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "wtpar", "spawn", "b0"],
            cwd=repo,
            env=env,
            check=True,
            capture_output=True,
        )
        record_dir = os.path.join(tmp, "watch")
        after, before = [], []
        for _ in range(args.runs):
            after.append(whole_run(repo, ROOT))
            if args.before:
                before.append(whole_run(repo, args.before))
        cost = [in_process_cost(record_dir) for _ in range(args.runs)]
        alone = [watchdog_alone(record_dir) for _ in range(args.runs)]
    run_s = statistics.median(after)
    cost_s = statistics.median(cost)
    print(
        f"bench_watchdog {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {args.runs} runs"
    )
    print(f"wtpar run -- true (1 worktree): {run_s * 1000:.1f} ms")
    print(
        f"watchdog in wtpar's path (start, 1 group, close): {cost_s * 1000:.2f} ms "
        f"= {cost_s / run_s:.1%} of that run"
    )
    print(
        f"watchdog process alone, start to exit: {statistics.median(alone) * 1000:.1f} ms "
        "(beside wtpar, not in its path)"
    )
    if before:
        before_s = statistics.median(before)
        print(
            f"before (no watchdog, {args.before}): {before_s * 1000:.1f} ms; "
            f"after / before = {run_s / before_s:.3f}"
        )


if __name__ == "__main__":
    main()
