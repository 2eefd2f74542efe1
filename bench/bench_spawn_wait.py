"""Where the time of one more task goes: how long starting a task's process takes wtpar
(the `Popen` call: wall time and the parent's CPU), beside the same start in a bare asyncio
launcher (Popen, a pidfd and the output pipe on the loop, nothing else), both running
TASKS x `sh -c true` at -j 2 in the same worktree, alternated.

Python starts a child with vfork: the parent stays blocked until the child has exec'd.
When the kernel places the new child on a CPU that is busy (on a 2-core machine, with the
other slot's child), the parent waits there, with its own CPU idle. The figures below show
how much of a start is that wait (wall minus CPU) and how a whole task compares.

    python bench/bench_spawn_wait.py [--tasks 3000] [--repeats 3] [--wtpar DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import Tool, header, make_task_repo  # noqa: E402
from fixtures.recipes import git  # noqa: E402

# Both print one line: per-task wall (ms), then median start wall and CPU (ms).
_REPORT = """
import statistics, time
def report(wall, tasks, walls, cpus):
    print(f"{wall / tasks * 1e3:.3f} {statistics.median(walls) * 1e3:.3f}"
          f" {statistics.median(cpus) * 1e3:.3f}")
"""

WTPAR_SNIPPET = (
    _REPORT
    + """
import sys
import wtpar.run.local as local
walls, cpus, real = [], [], local.start_child
def timed_start(*args, **kwargs):
    start, cpu = time.perf_counter(), time.thread_time()
    child = real(*args, **kwargs)
    walls.append(time.perf_counter() - start)
    cpus.append(time.thread_time() - cpu)
    return child
local.start_child = timed_start
names = sys.argv[1:]
sys.argv = ["wtpar", "run", "-j", "2", "--output", "quiet", "-b", "b0", *names]
from wtpar.__main__ import main
began = time.perf_counter()
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
report(time.perf_counter() - began, len(names), walls, cpus)
"""
)

BARE_SNIPPET = (
    _REPORT
    + """
import asyncio, os, subprocess, sys
tasks, cwd = int(sys.argv[1]), sys.argv[2]
env = dict(os.environ)
devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
walls, cpus = [], []
async def one(loop):
    read_fd, write_fd = os.pipe()
    start, cpu = time.perf_counter(), time.thread_time()
    proc = subprocess.Popen(["/bin/sh", "-c", "true"], cwd=cwd, env=env, stdin=devnull,
                            stdout=write_fd, stderr=write_fd, start_new_session=True)
    walls.append(time.perf_counter() - start)
    cpus.append(time.thread_time() - cpu)
    os.close(write_fd)
    exited, drained = loop.create_future(), loop.create_future()
    pidfd = os.pidfd_open(proc.pid)
    def on_exit():
        loop.remove_reader(pidfd)
        os.close(pidfd)
        exited.set_result(os.wait4(proc.pid, 0))
    def on_output():
        if not os.read(read_fd, 65536):
            loop.remove_reader(read_fd)
            os.close(read_fd)
            drained.set_result(None)
    os.set_blocking(read_fd, False)
    loop.add_reader(pidfd, on_exit)
    loop.add_reader(read_fd, on_output)
    await exited
    proc.returncode = 0
    await drained
async def main():
    loop, slots = asyncio.get_running_loop(), asyncio.Semaphore(2)
    async def guarded():
        async with slots:
            await one(loop)
    await asyncio.gather(*(guarded() for _ in range(tasks)))
began = time.perf_counter()
asyncio.run(main())
report(time.perf_counter() - began, tasks, walls, cpus)
"""
)


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Run one snippet; its per-task wall, median start wall and median start CPU (ms)."""
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{argv[:3]} exited {out.returncode}:\n{out.stderr[-2000:]}")
    per_task, wall, cpu = (float(x) for x in out.stdout.split()[-3:])
    return per_task, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tool = Tool(args.wtpar.resolve())
    print(header(tool))
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-spawn-wait-") as tmp:
        repo = Path(tmp) / "one"
        names, _ = make_task_repo(repo, args.tasks, 0)
        worktree = Path(tmp) / "b0"
        git(repo, "worktree", "add", "-q", "-b", "b0", str(worktree))
        runs = {
            "wtpar": [sys.executable, "-c", WTPAR_SNIPPET, *names],
            "bare launcher": [sys.executable, "-c", BARE_SNIPPET, str(args.tasks), str(worktree)],
        }
        for _ in range(args.repeats):
            for side, argv in runs.items():  # alternated: the load changes under both alike
                per_task, wall, cpu = measure(argv, repo, tool.env)
                print(
                    f"{side:13s} per task {per_task:.3f} ms; starting its process (Popen):"
                    f" {wall:.3f} ms wall, {cpu:.3f} ms CPU, {wall - cpu:.3f} ms waiting"
                    f" for the child to exec"
                )
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
