"""Growth curves: how wtpar's costs grow with the number of branches, tasks and worktrees.

Each part prints one line per size (N, then the time of every tool at that N), the growth
exponent fitted over the sizes (log time against log N: 1.0 is linear, 2.0 quadratic), and
the ratio against what a user would otherwise run. `--wtpar PATH` measures another copy of
the source (for example an older commit checked out with `git worktree add`), so "before"
and "after" come from the same script.

    python bench/bench_scale.py check [--sizes 25,50,100,200,400]
    python bench/bench_scale.py plan
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_check import run_loop  # noqa: E402
from fixtures.recipes import git  # noqa: E402


def exponent(points: Sequence[tuple[int, float]]) -> float:
    """The least-squares slope of log(time) against log(N)."""
    points = [(n, t) for n, t in points if not math.isnan(t)]
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-6)) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den if den else 0.0


def timed(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of `fn()` over REPEATS runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Tool:
    """`python -m wtpar` from one source tree."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.env = {**os.environ, "PYTHONPATH": str(source)}

    def run(self, args: Sequence[str], cwd: Path, ok: Sequence[int] = (0,)) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "wtpar", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if out.returncode not in ok:
            raise SystemExit(f"wtpar {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
        return out.stdout


def print_curve(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[float]], sizes: Sequence[int]
) -> None:
    print(title)
    print("      N  " + "".join(f"{c:>16}" for c in columns))
    for n, row in zip(sizes, rows, strict=True):
        print(f"{n:7d}  " + "".join(f"{t:15.3f}s" for t in row))
    fits = [
        exponent(list(zip(sizes, [r[i] for r in rows], strict=True))) for i in range(len(columns))
    ]
    print("exponent " + "".join(f"{e:16.2f}" for e in fits))


# -- check --------------------------------------------------------------------------------------


def build_check_repo(repo: Path, files: int, branches: int, group: int = 4) -> list[str]:
    """FILES files on main; BRANCHES branches of three changed files, written with one
    `git fast-import`. Branches come in groups of GROUP sharing one file (even ones rewrite
    it: those pairs conflict; odd ones append a line each: they overlap by path, and conflict
    too when both append), so the work that overlaps grows linearly with the branches."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    lines: list[str] = []
    mark = 0

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode()
        lines.append(f"blob\nmark :{mark}\ndata {len(data)}\n{data.decode()}\n")
        return mark

    def path(i: int) -> str:
        return f"src/pkg{i % 50:03d}/mod{i:05d}.py"

    def body(i: int) -> str:
        return "".join(
            f"def f{i}_{b}(x: int) -> int:\n    return x * {i + b}\n\n" for b in range(8)
        )

    base = [(path(i), blob(body(i))) for i in range(files)]
    mark += 1
    root = mark
    who = "committer B <b@example.com> 1700000000 +0000"
    commit = f"commit refs/heads/main\nmark :{root}\n{who}\ndata 4\nbase\n"
    lines.append(commit + "".join(f"M 100644 :{m} {p}\n" for p, m in base))
    names = []
    for i in range(branches):
        shared = (i // group) % files
        text = f"# branch {i}\n" if i % 2 == 0 else body(shared) + f"# branch {i}\n"
        changes = [(path(shared), blob(text))]
        changes += [
            (path((shared + 7 * k + 1000) % files), blob(f"# {i} owns {k}\n")) for k in (1, 2)
        ]
        name = f"b{i:04d}"
        names.append(name)
        lines.append(
            f"commit refs/heads/{name}\ncommitter B <b@example.com> 1700000000 +0000\n"
            f"data 2\n{i % 10}\nfrom :{root}\n"
            + "".join(f"M 100644 :{m} {p}\n" for p, m in changes)
        )
    moved = blob("# main moved on\n")
    lines.append(
        "commit refs/heads/main\ncommitter B <b@example.com> 1700000001 +0000\ndata 5\nmoved\n"
        f"from :{root}\nM 100644 :{moved} {path(files - 1)}\n"
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input="".join(lines).encode(), check=True
    )
    git(repo, "checkout", "-q", "main")
    return names


def bench_check(tool: Tool, sizes: Sequence[int], files: int, repeats: int, loop: int) -> None:
    """Warm and cold `wtpar check --no-run` on the first N branches; the per-pair loop of
    `git merge-tree` up to N = LOOP branches (it grows with the square of N)."""
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-scale-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        names = build_check_repo(repo, files, max(sizes))
        cache = repo / ".git" / "wtpar" / "cache" / "merge.json"
        rows = []
        for n in sizes:
            chosen = names[:n]
            args = ["check", "--json", "--no-run", *chosen]

            def cold(args: list[str] = args) -> None:
                cache.unlink(missing_ok=True)
                tool.run(args, repo, ok=(0, 1))

            t_cold = timed(cold, repeats)
            tool.run(args, repo, ok=(0, 1))
            t_warm = timed(functools.partial(tool.run, args, repo, ok=(0, 1)), repeats)
            row = [t_warm, t_cold]
            if loop:
                per_pair = functools.partial(run_loop, repo, chosen, work)
                row.append(math.nan if n > loop else timed(per_pair, 1))
            rows.append(row)
            print(f"  ... {n} branches done", file=sys.stderr)
    columns = ["warm check", "cold check"] + (["per-pair loop"] if loop else [])
    print_curve(f"check, {files} files, branches N (medians of {repeats}):", columns, rows, sizes)
    if loop:
        for n, row in zip(sizes, rows, strict=True):
            if n <= loop:
                print(f"  N={n}: cold check / per-pair loop = {row[1] / row[2]:.2f}x")


# -- planning ------------------------------------------------------------------------------------

PLAN_SNIPPET = """
import sys, time
from wtpar.services import Services
from wtpar.run.plan import RunRequest
names = tuple(sys.argv[1].split(","))
branches = tuple(sys.argv[2].split(",")) if sys.argv[2] else ()
services = Services.from_cwd(".")
start = time.perf_counter()
plan = services.plan_run(RunRequest(task_names=names, branches=branches))
print(time.perf_counter() - start, len(plan))
"""


def make_task_repo(repo: Path, tasks: int, worktrees: int) -> tuple[list[str], list[str]]:
    """A small repository with TASKS named tasks (`true`) and WORKTREES worktrees."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    names = [f"t{i:05d}" for i in range(tasks)]
    (repo / "wtpar.toml").write_text("".join(f'[tasks.{n}]\ncmd = "true"\n' for n in names))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tasks")
    branches = [f"w{i:04d}" for i in range(worktrees)]
    for b in branches:
        git(repo, "worktree", "add", "-q", "-b", b, f"../{repo.name}.wt/{b}")
    return names, branches


def bench_plan(tool: Tool, sizes: Sequence[int], repeats: int) -> None:
    """`plan_run` (what `wtpar run` does before starting anything) for N named tasks in one
    worktree, against N/25 worktrees of 25 named tasks each (the same number of instances)."""
    rows = []
    for n in sizes:
        row = []
        with tempfile.TemporaryDirectory(prefix="wtpar-bench-plan-") as tmp:
            for tasks, worktrees in ((n, 1), (25, n // 25)):
                repo = Path(tmp) / f"r{tasks}"
                names, branches = make_task_repo(repo, tasks, worktrees)
                argv = [sys.executable, "-c", PLAN_SNIPPET, ",".join(names), ",".join(branches)]
                times = []
                for _ in range(repeats):
                    out = subprocess.run(
                        argv, cwd=repo, env=tool.env, capture_output=True, text=True, check=True
                    )
                    elapsed, count = out.stdout.split()
                    assert int(count) == tasks * worktrees, out.stdout
                    times.append(float(elapsed))
                row.append(statistics.median(times))
        rows.append(row)
    print_curve(
        f"planning N named-task instances (medians of {repeats}):",
        ["1 worktree", "N/25 worktrees"],
        rows,
        sizes,
    )
    for n, (one, spread) in zip(sizes, rows, strict=True):
        print(f"  N={n}: one worktree / spread = {one / spread:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["check", "plan"])
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", type=int, default=50, help="time the per-pair loop up to N")
    args = parser.parse_args()
    tool = Tool(args.wtpar.resolve())
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.python_version()} "
        f"{git('.', '--version').strip()}, {len(os.sched_getaffinity(0))} CPUs, "
        f"wtpar from {tool.source}"
    )
    if args.part == "check":
        sizes = [int(s) for s in (args.sizes or "25,50,100,200,400").split(",")]
        bench_check(tool, sizes, args.files, args.repeats, args.loop)
    elif args.part == "plan":
        sizes = [int(s) for s in (args.sizes or "625,1250,2500,5000").split(",")]
        bench_plan(tool, sizes, args.repeats)


if __name__ == "__main__":
    main()
