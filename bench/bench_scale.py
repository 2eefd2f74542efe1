"""Growth curves: how wtpar's costs grow with the number of branches, tasks and worktrees.

Each part prints one line per size (N, then the time of every tool at that N), the growth
exponent fitted over the sizes (log time against log N: 1.0 is linear, 2.0 quadratic), and
the ratio against what a user would otherwise run. `--wtpar PATH` measures another copy of
the source (for example an older commit checked out with `git worktree add`), so "before"
and "after" come from the same script.

    python bench/bench_scale.py check [--sizes 25,50,100,200,400]
    python bench/bench_scale.py plan
    python bench/bench_scale.py spawn | list
    python bench/bench_scale.py fixed | startup | pertask   # bench/bench_fixed.py's parts
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_check import run_loop  # noqa: E402
from bench.bench_fixed import bench_fixed  # noqa: E402
from bench.measure import (  # noqa: E402
    ROOT,
    Tool,
    header,
    make_task_repo,
    median_wall,
    print_curve,
    timed,
)
from fixtures.recipes import git  # noqa: E402

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
    t_help = timed(functools.partial(tool.run, ["--help"], Path.cwd()), repeats * 3)
    print(f"wtpar --help (process start, for reference): {t_help:.3f}s")
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


def bench_plan(tool: Tool, sizes: Sequence[int], repeats: int) -> None:
    """`plan_run` (what `wtpar run` does before starting anything) for N named tasks in one
    worktree, against N/25 worktrees of 25 named tasks each (the same number of instances;
    both repositories configure the same N tasks, so reading them costs the same)."""
    rows = []
    for n in sizes:
        row = []
        with tempfile.TemporaryDirectory(prefix="wtpar-bench-plan-") as tmp:
            for tasks, worktrees in ((n, 1), (25, n // 25)):
                repo = Path(tmp) / f"r{tasks}"
                # The same N tasks configured in both; only how many are named differs.
                names, branches = make_task_repo(repo, n, worktrees)
                names = names[:tasks]
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


# -- spawn and list ----------------------------------------------------------------------------

SPAWN_SNIPPET = """
import sys, time, contextlib
import wtpar.worktrees.spawn as spawn_module
from wtpar.services import Services
held = []
real_lock = spawn_module.repo_lock
@contextlib.contextmanager
def timed_lock(*args, **kwargs):
    with real_lock(*args, **kwargs):
        start = time.perf_counter()
        try:
            yield
        finally:
            held.append(time.perf_counter() - start)
spawn_module.repo_lock = timed_lock
start = time.perf_counter()
results = Services.from_cwd(".").spawn(sys.argv[1:])
assert all(r.error is None for r in results), results
print(time.perf_counter() - start, sum(held))
"""


def bench_spawn(tool: Tool, files: int, sizes: Sequence[int], repeats: int) -> None:
    """`spawn` of N new branches (in one process, timed inside it, with the time the
    repository lock was held) against a bash loop of `git worktree add -b`."""
    from fixtures.recipes import make_big_repo

    with tempfile.TemporaryDirectory(prefix="wtpar-bench-spawn-") as tmp:
        work = Path(tmp)
        template = make_big_repo(work / "template", files)
        for n in sizes:
            names = [f"feature-{i}" for i in range(n)]
            loop = " && ".join(f"git worktree add -q -b {b} ../loop.wt/{b} main" for b in names)
            t_w, t_l, locked = [], [], []
            for i in range(repeats):
                a = work / f"a{i}"
                b = work / f"b{i}"
                shutil.copytree(template, a, symlinks=True)
                shutil.copytree(template, b, symlinks=True)
                os.sync()  # neither side pays for writing the copies back
                # Alternated: whichever goes second writes while the first one's files are
                # still being written back.
                for side in ("loop", "wtpar") if i % 2 == 0 else ("wtpar", "loop"):
                    if side == "loop":
                        t_l.append(median_wall([loop], b, tool.env, 1, shell=True))
                        continue
                    out = subprocess.run(
                        [sys.executable, "-c", SPAWN_SNIPPET, *names],
                        cwd=a,
                        env=tool.env,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    total, held = (float(x) for x in out.stdout.split())
                    t_w.append(total)
                    locked.append(held)
                for extra in (a, b, work / "loop.wt", work / f"a{i}.worktrees"):
                    shutil.rmtree(extra, ignore_errors=True)
            w, lp, lk = (statistics.median(x) for x in (t_w, t_l, locked))
            pairs = " ".join(f"{x / y:.2f}" for x, y in zip(t_w, t_l, strict=True))
            print(
                f"spawn {n} branches, {files} files: wtpar {w:.3f}s, sequential git worktree add"
                f" loop {lp:.3f}s, wtpar / loop = {w / lp:.2f}x (goal <= 0.5x; pairs: {pairs});"
                f" repository lock held {lk * 1000:.0f} ms = {lk / n * 1000:.1f} ms per branch"
            )


def bench_list(tool: Tool, files: int, count: int, repeats: int) -> None:
    """`wtpar list --json` on COUNT worktrees against a bash loop of the same git calls."""
    from bench.bench_worktrees import LIST_LOOP
    from fixtures.recipes import make_big_repo

    with tempfile.TemporaryDirectory(prefix="wtpar-bench-list-") as tmp:
        repo = make_big_repo(Path(tmp) / "repo", files)
        tool.run(["spawn", *[f"wt-{i}" for i in range(count - 1)]], repo)
        wts = sorted((Path(tmp) / "repo.worktrees").iterdir())
        for wt in wts[::3]:
            (wt / "scratch.txt").write_text("wip\n")
        t_loop = median_wall([LIST_LOOP], repo, tool.env, repeats, shell=True)
        t_list = median_wall(
            [sys.executable, "-m", "wtpar", "list", "--json"], repo, tool.env, repeats
        )
        print(
            f"list --json, {count} worktrees of {files} files: wtpar {t_list:.3f}s, loop of the"
            f" same git calls {t_loop:.3f}s, wtpar / loop = {t_list / t_loop:.2f}x (goal <= 0.6x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["check", "plan", "fixed", "startup", "pertask", "spawn", "list"]
    parser.add_argument("part", choices=parts)
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", type=int, default=50, help="time the per-pair loop up to N")
    args = parser.parse_args()
    one_size = args.part in ("fixed", "startup", "pertask", "list")
    if args.repeats < 1 or (one_size and not args.sizes.isdigit() and args.sizes):
        parser.error(f"{args.part} takes one size (--sizes N) and --repeats 1 or more")
    if args.part in ("fixed", "pertask") and args.sizes and int(args.sizes) < 2:
        parser.error("per task: --sizes must be 2 or more (the cost of one more task)")
    tool = Tool(args.wtpar.resolve())
    print(header(tool))
    if args.part == "check":
        sizes = [int(s) for s in (args.sizes or "25,50,100,200,400").split(",")]
        bench_check(tool, sizes, args.files, args.repeats, args.loop)
    elif args.part == "plan":
        sizes = [int(s) for s in (args.sizes or "625,1250,2500,5000").split(",")]
        bench_plan(tool, sizes, args.repeats)
    elif args.part in ("fixed", "startup", "pertask"):  # fixed: both of the others
        per_task, start_up = args.part != "startup", args.part != "pertask"
        bench_fixed(tool, args.repeats, int(args.sizes or 5000), per_task, start_up)
    elif args.part == "spawn":
        sizes = [int(s) for s in (args.sizes or "8,32").split(",")]
        bench_spawn(tool, args.files, sizes, args.repeats)
    elif args.part == "list":
        bench_list(tool, args.files, int(args.sizes or 200), args.repeats)


if __name__ == "__main__":
    main()
