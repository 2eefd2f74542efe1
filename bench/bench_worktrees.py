"""Benchmark the worktree manager against what a user would otherwise type.

1. spawn: `wtpar spawn` of 8 new branches against a sequential `git worktree add -b` loop,
   on a repository of several thousand files.
2. list: `wtpar list --json` with 20 worktrees against a bash loop running, one after
   another, the same git calls wtpar makes (worktree list, for-each-ref, then per worktree
   status, rev-list ahead/behind).

Both sides run in the same process, alternating, on freshly made repositories; medians
of REPEATS runs are printed with the ratio (loop time / wtpar time: above 1 means wtpar
is faster). Re-run: `python bench/bench_worktrees.py [--files N] [--repeats N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import git, make_big_repo  # noqa: E402

WTPAR = [sys.executable, "-m", "wtpar"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def fresh_copy(template: Path, workdir: Path, name: str) -> Path:
    dest = workdir / name
    shutil.copytree(template, dest, symlinks=True)
    return dest


def bench_spawn(template: Path, workdir: Path, repeats: int, branches: int) -> tuple[float, float]:
    names = [f"feature-{i}" for i in range(branches)]
    loop = " ".join(
        f"git worktree add -q -b {n} ../$(basename $PWD).loop/{n} main &&" for n in names
    )
    loop_script = ["bash", "-c", loop + " true"]
    t_wtpar: list[float] = []
    t_loop: list[float] = []
    for i in range(repeats):
        repo_a = fresh_copy(template, workdir, f"a{i}")
        repo_b = fresh_copy(template, workdir, f"b{i}")
        t_loop.append(timed(loop_script, repo_b))
        t_wtpar.append(timed([*WTPAR, "spawn", *names], repo_a))
        for repo in (repo_a, repo_b):
            shutil.rmtree(repo)
        for extra in workdir.glob("*.worktrees"):
            shutil.rmtree(extra)
        for extra in workdir.glob("*.loop"):
            shutil.rmtree(extra)
    return statistics.median(t_wtpar), statistics.median(t_loop)


LIST_LOOP = r"""
set -e
git worktree list --porcelain -z > /dev/null
fmt='%(refname:short)%00%(upstream:short)%00%(upstream:track,nobracket)'
git for-each-ref --format="$fmt%00%(committerdate:unix)" refs/heads > /dev/null
git worktree list --porcelain | sed -n 's/^worktree //p' | while read -r wt; do
  git -C "$wt" --no-optional-locks status --porcelain=v2 -z --untracked-files=all > /dev/null
  git -C "$wt" rev-list --left-right --count main...HEAD > /dev/null
done
"""


def bench_list(template: Path, workdir: Path, repeats: int, count: int) -> tuple[float, float]:
    repo = fresh_copy(template, workdir, "listrepo")
    subprocess.run(
        [*WTPAR, "spawn", *[f"wt-{i}" for i in range(count - 1)]],
        cwd=repo,
        env=ENV,
        check=True,
        capture_output=True,
    )
    for i in range(0, count - 1, 3):  # some dirty worktrees, as in real life
        (workdir / "listrepo.worktrees" / f"wt-{i}" / "scratch.txt").write_text("wip\n")
    t_wtpar: list[float] = []
    t_loop: list[float] = []
    for _ in range(repeats):
        t_loop.append(timed(["bash", "-c", LIST_LOOP], repo))
        t_wtpar.append(timed([*WTPAR, "list", "--json"], repo))
    return statistics.median(t_wtpar), statistics.median(t_loop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gitver = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {gitver}")
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-") as tmp:
        workdir = Path(tmp)
        template = make_big_repo(workdir / "template", args.files)
        git(template, "gc", "-q")
        w, loop = bench_spawn(template, workdir, args.repeats, 8)
        print(
            f"spawn 8 branches, {args.files} files: wtpar {w:.3f}s, "
            f"sequential git worktree add loop {loop:.3f}s, ratio loop/wtpar {loop / w:.2f}x"
        )
        w, loop = bench_list(template, workdir, args.repeats * 2, 20)
        print(
            f"list 20 worktrees: wtpar list --json {w:.3f}s (process start included), "
            f"sequential loop of the same git calls {loop:.3f}s, ratio loop/wtpar {loop / w:.2f}x"
        )


if __name__ == "__main__":
    main()
