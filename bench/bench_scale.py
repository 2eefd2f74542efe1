"""Growth curves: how wtpar's costs grow with the number of branches, tasks and worktrees.

Each part prints one line per size (N, then the time of every tool at that N), the growth
exponent fitted over the sizes (log time against log N: 1.0 is linear, 2.0 quadratic), and
the ratio against what a user would otherwise run. `--wtpar PATH` measures another copy of
the source (for example an older commit checked out with `git worktree add`), so "before"
and "after" come from the same script.

    python bench/bench_scale.py check [--sizes 25,50,100,200,400]
    python bench/bench_scale.py plan
    python bench/bench_scale.py fixed      # startup (list, run -j 8 -- sleep 1) and per task
    python bench/bench_scale.py startup
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import shutil
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
        # As installed: pip byte-compiles a package when it installs it. Where
        # PYTHONDONTWRITEBYTECODE is set (this machine sets it), nothing writes the .pyc files,
        # and every start would compile all of wtpar's modules again (about 30 ms of `list`).
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(source / "wtpar")],
            check=True,
            stdout=subprocess.DEVNULL,
        )

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
        print(f"{n:7d}  " + "".join(f"{'-':>16}" if math.isnan(t) else f"{t:15.3f}s" for t in row))
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


def header(tool: Tool) -> str:
    """The line that heads a bench's output: date, Python, git, CPUs, source, load."""
    return (
        f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.python_version()} "
        f"{git('.', '--version').strip()}, {len(os.sched_getaffinity(0))} CPUs, "
        f"wtpar from {tool.source}, load average {os.getloadavg()[0]:.1f}"
    )


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


# -- fixed costs ---------------------------------------------------------------------------------


def wall(
    argv: Sequence[str], cwd: Path, env: dict[str, str], shell: bool = False
) -> tuple[float, float]:
    """(seconds, peak MiB) of one process, waited for with wait4."""
    seconds, peak, _ = timed_process(argv, cwd, env, shell)
    return seconds, peak


def timed_process(
    argv: Sequence[str], cwd: Path, env: dict[str, str], shell: bool = False
) -> tuple[float, float, float]:
    """(wall seconds, peak MiB, CPU seconds with its children) of one process (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv if not shell else ["bash", "-c", argv[0]],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)[:200]} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def median_wall(
    argv: Sequence[str], cwd: Path, env: dict[str, str], repeats: int, shell: bool = False
) -> float:
    """The median seconds of REPEATS runs."""
    return statistics.median(wall(argv, cwd, env, shell)[0] for _ in range(repeats))


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
    """`wtpar list` against `wtpar --help`, and `run -j 8 -- sleep 1` on 8 worktrees."""
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
    t_sleep = median_wall(
        [*py, "run", "-j", "8", "--output", "quiet", "--", "sleep 1"], wide, tool.env, repeats
    )
    t_par = median_wall(
        ["seq 8 | PARALLEL_SHELL=/bin/sh parallel --will-cite -j 8 -N0 'sleep 1'"],
        wide,
        tool.env,
        repeats,
        shell=True,
    )
    print(
        f"run -j 8 -- sleep 1 on 8 worktrees: wtpar {t_sleep:.3f}s, GNU parallel {t_par:.3f}s"
        " (goal <= 1.10 s)"
    )


def bench_per_task(
    tool: Tool, repeats: int, tasks: int, repo: Path, names: list[str], tmp: Path
) -> None:
    """TASKS x `true` at -j 2 against GNU parallel and xargs: the cost of one more task, and
    peak memory."""
    py = [sys.executable, "-m", "wtpar"]
    git(repo, "worktree", "add", "-q", "-b", "b0", str(tmp / "b0"))
    run = [*py, "run", "-j", "2", "--output", "quiet", "-b", "b0"]
    one = statistics.median(wall([*run, names[0]], repo, tool.env)[0] for _ in range(repeats))
    many = [wall([*run, *names], repo, tool.env) for _ in range(repeats)]
    t_many = statistics.median(t for t, _ in many)
    peak = max(m for _, m in many)
    par = f"seq {tasks} | PARALLEL_SHELL=/bin/sh parallel --will-cite -j 2 -N0 true"
    t_par1 = median_wall(
        [par.replace(f"seq {tasks}", "seq 1")], repo, tool.env, repeats, shell=True
    )
    t_parn = median_wall([par], repo, tool.env, repeats, shell=True)
    xargs = f"seq {tasks} | xargs -P 2 -I{{}} sh -c true"
    t_x1 = median_wall(
        [xargs.replace(f"seq {tasks}", "seq 1")], repo, tool.env, repeats, shell=True
    )
    t_xn = median_wall([xargs], repo, tool.env, repeats, shell=True)
    per = (t_many - one) / (tasks - 1) * 1000
    per_par = (t_parn - t_par1) / (tasks - 1) * 1000
    per_x = (t_xn - t_x1) / (tasks - 1) * 1000
    print(
        f"{tasks} x true -j 2: wtpar {t_many:.2f}s, GNU parallel {t_parn:.2f}s,"
        f" xargs {t_xn:.2f}s;"
        f" per task: wtpar {per:.2f} ms, parallel {per_par:.2f} ms, xargs {per_x:.2f} ms;"
        f" wtpar / parallel = {per / per_par:.2f}x (goal <= 0.8 ms, <= 0.3x)"
    )
    print(f"peak memory, {tasks} tasks: {peak:.1f} MiB (ru_maxrss; goal <= 60 MB)")


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
