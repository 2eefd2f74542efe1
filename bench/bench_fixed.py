"""Fixed costs: how long `wtpar` takes to start, to run 8 x `sleep 1`, and per trivial task,
against GNU parallel and xargs, and against the floor of any Python program built like it.

A floor is the least a program on wtpar's foundations can take for the same work: a Python
process that imports click and asyncio (as `wtpar run` does, without `ssl`) and starts the
same commands the way wtpar's local executor does (`subprocess.Popen` of `/bin/sh -c CMD` in
its own session, output on a pipe, the exit through a pidfd and `wait4`), with nothing else:
no plan, no pool, no logs, no report. Where a goal lies below its floor on a machine, no
bookkeeping wtpar could drop would reach it there.

    python bench/bench_fixed.py all        # startup, then per task
    python bench/bench_fixed.py startup    # list against --help; run -j 8 -- sleep 1
    python bench/bench_fixed.py pertask    # 5000 x true at -j 2; peak memory
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import (  # noqa: E402
    ROOT,
    Tool,
    header,
    make_task_repo,
    timed_process,
    wall,
)
from fixtures.recipes import git  # noqa: E402

PARALLEL = "PARALLEL_SHELL=/bin/sh parallel --will-cite"

# argv: the number of tasks, -j, the command, then the worktrees (the tasks go round them).
FLOOR_SNIPPET = """
import sys
sys.modules["ssl"] = None
import asyncio, os, subprocess
import click
del sys.modules["ssl"]

async def task(slots, command, cwd, stdin, env):
    async with slots:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=cwd, env=dict(env), stdin=stdin,
            stdout=write_fd, stderr=write_fd, start_new_session=True, close_fds=True,
        )
        os.close(write_fd)
        eof, exited = loop.create_future(), loop.create_future()

        def readable():
            if not os.read(read_fd, 65536):
                loop.remove_reader(read_fd)
                os.close(read_fd)
                eof.set_result(None)

        def ended():
            loop.remove_reader(pidfd)
            os.close(pidfd)
            exited.set_result(os.wait4(proc.pid, 0))
            proc.returncode = 0

        loop.add_reader(read_fd, readable)
        pidfd = os.pidfd_open(proc.pid)
        loop.add_reader(pidfd, ended)
        await eof
        await exited

async def main(count, jobs, command, worktrees):
    slots = asyncio.Semaphore(jobs)
    stdin = os.open(os.devnull, os.O_RDONLY)
    env = dict(os.environ)
    await asyncio.gather(
        *(task(slots, command, worktrees[i % len(worktrees)], stdin, env) for i in range(count))
    )

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
"""


def floor(count: int, jobs: int, command: str, worktrees: list[str]) -> list[str]:
    """The floor's argv: COUNT x COMMAND at -j JOBS, round WORKTREES."""
    return [sys.executable, "-c", FLOOR_SNIPPET, str(count), str(jobs), command, *worktrees]


def bench_fixed(
    tool: Tool, repeats: int, tasks: int, per_task: bool = True, start_up: bool = True
) -> None:
    """`wtpar list` on one worktree against `wtpar --help`; `run -j 8 -- sleep 1` on 8
    worktrees; with `per_task`, TASKS x `true` at -j 2 (per-task cost, peak memory) against
    GNU parallel."""
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-fixed-") as tmp:
        repo = Path(tmp) / "one"
        names, _ = make_task_repo(repo, tasks, 0)
        if start_up:
            bench_start_up(tool, repeats, repo, Path(tmp))
        if per_task:
            bench_per_task(tool, repeats, tasks, repo, names, Path(tmp))


def bench_start_up(tool: Tool, repeats: int, repo: Path, tmp: Path) -> None:
    """`wtpar list` against `wtpar --help`, and `run -j 8 -- sleep 1` on 8 worktrees against
    GNU parallel and the floor (all three alternated)."""
    py = [sys.executable, "-m", "wtpar"]
    helps, lists = [], []
    for _ in range(repeats * 3):  # alternated: the load changes under both alike
        helps.append(timed_process([*py, "--help"], repo, tool.env))
        lists.append(timed_process([*py, "list"], repo, tool.env))
    t_help, t_list = (statistics.median(t[0] for t in ts) for ts in (helps, lists))
    c_help, c_list = (statistics.median(t[2] for t in ts) for ts in (helps, lists))
    print(
        f"wtpar list, one worktree: {t_list * 1000:.0f} ms;"
        f" wtpar --help {t_help * 1000:.0f} ms;"
        f" list / help = {t_list / t_help:.2f}x (goal <= 1.6x);"
        f" CPU {c_list * 1000:.0f} / {c_help * 1000:.0f} ms = {c_list / c_help:.2f}x"
    )
    wide = tmp / "eight"
    _, branches = make_task_repo(wide, 1, 8)
    worktrees = [str(tmp / "eight.wt" / b) for b in branches]
    sides = {
        "wtpar": ([*py, "run", "-j", "8", "--output", "quiet", "--", "sleep 1"], False),
        "parallel": ([f"seq 8 | {PARALLEL} -j 8 -N0 'sleep 1'"], True),
        "floor": (floor(8, 8, "sleep 1", worktrees), False),
    }
    times: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(repeats):
        for side, (argv, shell) in sides.items():
            times[side].append(wall(argv, wide, tool.env, shell)[0])
    t_sleep, t_par, t_floor = (statistics.median(times[side]) for side in sides)
    print(
        f"run -j 8 -- sleep 1 on 8 worktrees: wtpar {t_sleep:.3f}s, GNU parallel {t_par:.3f}s,"
        f" floor {t_floor:.3f}s (goal <= 1.10 s;"
        f" wtpar - floor = {(t_sleep - t_floor) * 1000:.0f} ms)"
    )


def bench_per_task(
    tool: Tool, repeats: int, tasks: int, repo: Path, names: list[str], tmp: Path
) -> None:
    """TASKS x `true` at -j 2 against GNU parallel, xargs and the floor: the cost of one more
    task, and peak memory."""
    py = [sys.executable, "-m", "wtpar"]
    b0 = tmp / "b0"
    git(repo, "worktree", "add", "-q", "-b", "b0", str(b0))
    run = [*py, "run", "-j", "2", "--output", "quiet", "-b", "b0"]
    par = "seq {} | " + PARALLEL + " -j 2 -N0 true"
    xargs = "seq {} | xargs -P 2 -I{{}} sh -c true"
    sides = {  # (one task, TASKS tasks, through bash)
        "wtpar": ([*run, names[0]], [*run, *names], False),
        "parallel": ([par.format(1)], [par.format(tasks)], True),
        "xargs": ([xargs.format(1)], [xargs.format(tasks)], True),
        "floor": (floor(1, 2, "true", [str(b0)]), floor(tasks, 2, "true", [str(b0)]), False),
    }
    ones: dict[str, list[float]] = {side: [] for side in sides}
    manys: dict[str, list[float]] = {side: [] for side in sides}
    peaks = []
    for _ in range(repeats):  # alternated
        for side, (one, many, shell) in sides.items():
            ones[side].append(wall(one, repo, tool.env, shell)[0])
            seconds, peak = wall(many, repo, tool.env, shell)
            manys[side].append(seconds)
            if side == "wtpar":
                peaks.append(peak)
    per = {
        side: (statistics.median(manys[side]) - statistics.median(ones[side])) / (tasks - 1) * 1000
        for side in sides
    }
    print(
        f"{tasks} x true -j 2: "
        + ", ".join(f"{side} {statistics.median(manys[side]):.2f}s" for side in sides)
        + "; per task: "
        + ", ".join(f"{side} {per[side]:.3f} ms" for side in sides)
        + f"; wtpar / parallel = {per['wtpar'] / per['parallel']:.2f}x,"
        f" floor / parallel = {per['floor'] / per['parallel']:.2f}x (goal <= 0.8 ms, <= 0.3x)"
    )
    print(f"peak memory, {tasks} tasks: {max(peaks):.1f} MiB (ru_maxrss; goal <= 60 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["all", "startup", "pertask"])
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.tasks < 2 or args.repeats < 1:
        parser.error("--tasks must be 2 or more (the cost of one more task), --repeats 1 or more")
    tool = Tool(args.wtpar.resolve())
    print(header(tool))
    bench_fixed(tool, args.repeats, args.tasks, args.part != "startup", args.part != "pertask")


if __name__ == "__main__":
    main()
