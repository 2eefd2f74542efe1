"""What a full run history costs `wtpar run`: 5000 tasks, each remembered 20 times.

A history fills up after 20 runs (`KEEP` attempts per key, up to 5000 keys): every later
run reads it to plan and writes it at its end. Printed, for each source measured (the
sources alternate, each in its own repository with a full history written by its own
`History.record`):

- the peak memory (ru_maxrss) of `wtpar run -j 2 --output quiet -b b0` of all the tasks;
- the wall time of a run of ONE task (what the history costs a run that uses 1 key of 5000);
- in one process: `History.tallies(tasks=all)` (planning), `History.record` of 5000
  attempts (the end of the run), and tallies + record of one task;
- the size of the history file.

    python bench/bench_history.py [--tasks 5000] [--repeats 3] [--before DIR]

`--before DIR` measures another copy of the source as well (e.g. `git worktree add --detach
/tmp/before main`), alternated with this one.
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

from bench.measure import Tool, make_task_repo, timed_process  # noqa: E402
from fixtures.recipes import git  # noqa: E402

FILL = """
import random, sys
from wtpar.run.history import KEEP, Attempted, History
tasks = int(sys.argv[1])
rng = random.Random(16)
History(".git/wtpar").record(
    Attempted(f"t{i:05d}", "b0", "true", rng.uniform(0.001, 0.01), 0,
              1.7646e9 + rng.uniform(0, 1e5), round(rng.uniform(0, 0.005), 6),
              rng.randrange(2_000_000, 4_000_000))
    for i in range(tasks) for _ in range(KEEP)
)
"""

IN_PROCESS = """
import sys, time
from wtpar.run.history import Attempted, History
names = [f"t{i:05d}" for i in range(int(sys.argv[1]))]
now = time.time()
attempts = [Attempted(n, "b0", "true", 0.005, 0, now, 0.002, 3_000_000) for n in names]
history = History(".git/wtpar")
t0 = time.perf_counter()
known = history.tallies(tasks=set(names))
t1 = time.perf_counter()
history.record(attempts)
t2 = time.perf_counter()
one = History(".git/wtpar")
one.tallies(tasks={names[0]})
one.record(attempts[:1])
t3 = time.perf_counter()
assert len(known) == len(names), len(known)
print(t1 - t0, t2 - t1, t3 - t2)
"""


def in_process(tool: Tool, repo: Path, tasks: int) -> list[float]:
    """(tallies of every task, record of every task, tallies + record of one) in seconds."""
    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(tasks)],
        cwd=repo, env=tool.env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    parser.add_argument("--before", type=Path, help="another source tree, alternated with it")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tools = {"after": Tool(args.wtpar.resolve())}
    if args.before:
        tools = {"before": Tool(args.before.resolve()), **tools}
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.python_version()}, "
        f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}; "
        + ", ".join(f"{name}: {tool.source}" for name, tool in tools.items())
    )
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-history-") as tmp:
        repos: dict[str, Path] = {}
        names: list[str] = []
        for name, tool in tools.items():
            repos[name] = Path(tmp) / name / "repo"
            names, _ = make_task_repo(repos[name], args.tasks, 0)
            git(repos[name], "worktree", "add", "-q", "-b", "b0", str(Path(tmp) / name / "b0"))
            subprocess.run(
                [sys.executable, "-c", FILL, str(args.tasks)],
                cwd=repos[name], env=tool.env, check=True,
            )  # fmt: skip
        peaks: dict[str, list[float]] = {n: [] for n in tools}
        ones: dict[str, list[float]] = {n: [] for n in tools}
        inside: dict[str, list[list[float]]] = {n: [] for n in tools}
        run = [sys.executable, "-m", "wtpar", "run", "-j", "2", "--output", "quiet", "-b", "b0"]
        for _ in range(args.repeats):
            for name, tool in tools.items():
                peaks[name].append(timed_process([*run, *names], repos[name], tool.env)[1])
                for _ in range(3):
                    ones[name].append(timed_process([*run, names[0]], repos[name], tool.env)[0])
                inside[name].append(in_process(tool, repos[name], args.tasks))
        for name in tools:
            size = os.path.getsize(repos[name] / ".git" / "wtpar" / "cache" / "history.json")
            tally, record, one = (statistics.median(t[i] for t in inside[name]) for i in range(3))
            each = ", ".join(f"{p:.1f}" for p in peaks[name])
            print(
                f"{name}: peak memory, {args.tasks} tasks, full history:"
                f" {max(peaks[name]):.1f} MiB (max of {each});"
                f" run of one task {statistics.median(ones[name]):.3f} s;"
                f" tallies {tally:.3f} s, record {record:.3f} s, one task's {one:.3f} s;"
                f" file {size / 2**20:.1f} MiB, {size / (args.tasks * 20):.0f} bytes a row"
            )


if __name__ == "__main__":
    main()
