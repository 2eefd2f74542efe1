"""What the benches share: the wtpar under test, timing one process (wall, peak memory, CPU),
medians, growth exponents, and the small repositories of named tasks."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import git  # noqa: E402

# The benches commit in repositories of their own: on a machine with no git identity.
for _name, _value in (("NAME", "wtpar bench"), ("EMAIL", "bench@example.invalid")):
    os.environ.setdefault(f"GIT_AUTHOR_{_name}", _value)
    os.environ.setdefault(f"GIT_COMMITTER_{_name}", _value)


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
