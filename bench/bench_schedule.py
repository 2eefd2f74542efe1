"""Benchmark the scheduler that learns: critical-path order against GNU parallel's listed
order and against the lower bound; the cost of the tree key on a 5000-file worktree.

1. Ordering. Ten 0.4 s tasks listed before one 3 s task, at -j 2. The lower bound is
   max(longest chain, total work / slots) = max(3, 7 / 2) = 3.5 s. GNU parallel runs them
   in the listed order (the long task last: about 5 s). wtpar's first run knows nothing
   and keeps the listed order; its second run has the history and starts the long task
   first. Each tool is timed as a whole process (wtpar: Python start-up, config, git,
   logs, report.json included), the median of several runs, alternating tools.
2. The tree key: a repository of 5000 files; the time to read HEAD's tree of a clean
   worktree (one `git cat-file` for every worktree), and the tree of a dirty one (a copy
   of its index, `git add -A`, `git write-tree`), against `git status`, which every run
   already pays, and against the same without the index copy (every file hashed).

Re-run: `python bench/bench_schedule.py [--runs N]` (skips the comparison without GNU
parallel). `wtpar tune` on a real test suite: bench/bench_tune.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import timed  # noqa: E402
from fixtures.recipes import git, make_repo  # noqa: E402
from wtpar.run.treekey import commit_trees, working_tree  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SHORT, LONG, N_SHORT, JOBS = 0.4, 3.0, 10, 2


def wall(argv: list[str], cwd: Path, shell_env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=shell_env or ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def dispatcher_wall(repo: Path) -> float:
    """The last run's wall time as its report.json says (no Python start-up, no planning)."""
    runs = repo / ".git" / "wtpar" / "runs"
    report = json.loads((runs / (runs / "last").read_text().strip() / "report.json").read_text())
    return float(report["ended"]) - float(report["started"])


def ordering_repo(workdir: Path) -> tuple[Path, list[str]]:
    repo = make_repo(workdir / "proj")
    commands = [f"sleep {SHORT}"] * N_SHORT + [f"sleep {LONG}"]
    names = [f"s{i}" for i in range(N_SHORT)] + ["long"]
    (repo / "wtpar.toml").write_text(
        "".join(f'[tasks.{n}]\ncmd = "{c}"\n' for n, c in zip(names, commands, strict=True))
    )
    git(repo, "add", "wtpar.toml")
    git(repo, "commit", "-q", "-m", "bench tasks")
    subprocess.run(
        [sys.executable, "-m", "wtpar", "spawn", "b0"], cwd=repo, env=ENV, check=True,
        capture_output=True,
    )  # fmt: skip
    return repo, names


def bench_ordering(workdir: Path, runs: int) -> None:
    repo, names = ordering_repo(workdir)
    wtpar = [sys.executable, "-m", "wtpar", "run", "-j", str(JOBS), "--output", "quiet"]
    wtpar += ["-b", "b0", *names]
    lower = max(LONG, (N_SHORT * SHORT + LONG) / JOBS)
    first = wall(wtpar, repo)  # no history yet: the listed order
    parallel = shutil.which("parallel")
    ours: list[float] = []
    inside: list[float] = []
    theirs: list[float] = []
    commands = [f"sleep {SHORT}"] * N_SHORT + [f"sleep {LONG}"]
    for _ in range(runs):
        ours.append(wall(wtpar, repo))
        inside.append(dispatcher_wall(repo))
        if parallel:
            argv = [parallel, "--will-cite", "-j", str(JOBS), ":::", *commands]
            theirs.append(wall(argv, repo, {**ENV, "PARALLEL_SHELL": "/bin/sh"}))
    second = statistics.median(ours)
    print(f"ordering: {N_SHORT} x {SHORT}s listed before 1 x {LONG}s, -j {JOBS} (median of {runs})")
    print(f"  lower bound max({LONG}, {N_SHORT * SHORT + LONG:g}/{JOBS})  {lower:.3f}s")
    print(f"  wtpar, first run (no history)    {first:.3f}s")
    print(f"  wtpar, second run (history)      {second:.3f}s  ({second / lower:.3f}x the bound)")
    held = statistics.median(inside)
    print(f"    of which inside the dispatcher {held:.3f}s  ({held / lower:.3f}x the bound)")
    if theirs:
        gnu = statistics.median(theirs)
        print(f"  GNU parallel, listed order       {gnu:.3f}s  ({gnu / lower:.3f}x the bound)")
        print(f"  wtpar second run / parallel      {second / gnu:.3f}")
    else:
        print("  GNU parallel not installed: comparison skipped (apt-get install parallel)")


def median_ms(action: Callable[[], object], runs: int) -> float:
    """The median milliseconds of `action()` over RUNS runs."""
    return timed(action, runs) * 1000


def bench_tree_key(workdir: Path, runs: int) -> None:
    repo = make_repo(workdir / "big")
    for d in range(50):
        folder = repo / "src" / f"pkg{d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"mod{f}.py").write_text(f"# module {d}.{f}\nVALUE = {d * 100 + f}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "5000 files")
    tree_dir = workdir / "big.wt"
    git(repo, "worktree", "add", "-q", str(tree_dir), "-b", "feature")
    files = int(git(repo, "ls-files", "--", ".").count("\n")) + 1
    head = git(tree_dir, "rev-parse", "HEAD").strip()
    git_dir = str(repo / ".git")
    scratch = str(repo / ".git" / "wtpar" / "tmp")
    status = ["git", "--no-optional-locks", "status", "--porcelain=v2", "-z", "-uall"]

    def git_status() -> None:
        subprocess.run(status, cwd=tree_dir, check=True, capture_output=True)

    clean_status = median_ms(git_status, runs)
    clean_tree = median_ms(lambda: commit_trees(git_dir, [head]), runs)
    (tree_dir / "src" / "pkg3" / "mod7.py").write_text("VALUE = 'edited'\n")
    (tree_dir / "notes.txt").write_text("untracked\n")
    dirty_status = median_ms(git_status, runs)
    dirty_tree = median_ms(lambda: working_tree(str(tree_dir), scratch), runs)

    def without_index_copy() -> None:
        index = os.path.join(scratch, "empty-index")
        os.makedirs(scratch, exist_ok=True)
        env = {**os.environ, "GIT_INDEX_FILE": index}
        subprocess.run(["git", "add", "-A"], cwd=tree_dir, env=env, check=True)
        subprocess.run(["git", "write-tree"], cwd=tree_dir, env=env, check=True,
                       capture_output=True)  # fmt: skip
        os.unlink(index)

    naive = median_ms(without_index_copy, max(3, runs // 3))
    print(f"tree key on a {files}-file worktree (median of {runs}):")
    print(f"  clean: HEAD's tree (cat-file)            {clean_tree:7.1f} ms")
    print(f"  clean: git status (already paid)          {clean_status:7.1f} ms")
    print(f"  dirty: working tree (index copy, add -A)  {dirty_tree:7.1f} ms")
    print(f"  dirty: git status (already paid)          {dirty_status:7.1f} ms")
    print(
        f"  dirty: same without the index copy        {naive:7.1f} ms ({naive / dirty_tree:.1f}x)"
    )
    print(f"  dirty tree / git status                   {dirty_tree / dirty_status:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(
        f"# {platform.node()}: {len(os.sched_getaffinity(0))} usable CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, {version.strip()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-") as tmp:
        bench_ordering(Path(tmp), args.runs)
        bench_tree_key(Path(tmp), args.runs * 4)


if __name__ == "__main__":
    main()
