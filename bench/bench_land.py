"""Benchmark `wtpar land` (the speculative train) against a sequential merge queue.

A repository gets BRANCHES ready branches (one file each, textually and semantically
compatible) and a check task that takes CHECK seconds (`sleep`). Both sides land every
branch into main, testing each combination base+A, base+A+B, ... with the check:

- wtpar: `wtpar land -j JOBS` as a process: the combinations built in a quarantine, all
  checked at once in temporary worktrees through the pool of JOBS slots.
- queue: what a sequential merge queue (or a user by hand) does: one scratch worktree,
  `git merge --no-ff` the next branch, run the check, move main, next branch.

Each run starts from a fresh copy of the repository (per-branch check results already
recorded by one `wtpar check`, so neither side tests branches alone). Medians of REPEATS
runs, alternating; the ratio is wtpar / queue (below 1 means wtpar is faster; goal <= 0.6).
Re-run: `python bench/bench_land.py [--branches N] [--check S] [--jobs N] [--repeats N]`.
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

from fixtures.recipes import commit_file, git, make_branch, make_repo  # noqa: E402

WTPAR = [sys.executable, "-m", "wtpar"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def build(repo: Path, branches: int, check: float) -> list[str]:
    """main with the check configured, BRANCHES branches each with its worktree."""
    make_repo(repo)
    (repo / "wtpar.toml").write_text(
        f'[tasks.test]\ncmd = "sleep {check}"\n[check]\ntasks = ["test"]\n'
    )
    commit_file(repo, "wtpar.toml", (repo / "wtpar.toml").read_text(), "the check")
    names = [f"feature-{i}" for i in range(branches)]
    for name in names:
        make_branch(repo, name, {f"src/{name}.txt": f"{name}\n"})
        git(repo, "worktree", "add", "-q", str(repo.parent / f"wt-{name}"), name)
    subprocess.run([*WTPAR, "check"], cwd=repo, env=ENV, check=True, capture_output=True)
    return names


def run_wtpar(repo: Path, jobs: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [*WTPAR, "land", "-j", str(jobs)], cwd=repo, env=ENV, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"wtpar land failed:\n{proc.stdout}{proc.stderr}")
    return elapsed


def run_queue(repo: Path, names: list[str], check: float) -> float:
    start = time.perf_counter()
    scratch = repo.parent / "queue"
    git(repo, "worktree", "add", "-q", "--detach", str(scratch), "main")
    for name in names:
        git(scratch, "merge", "--no-ff", "--no-edit", "-q", name)
        subprocess.run(["sh", "-c", f"sleep {check}"], cwd=scratch, check=True)
        head = git(scratch, "rev-parse", "HEAD").strip()
        old = git(repo, "rev-parse", "main").strip()
        git(repo, "update-ref", "refs/heads/main", head, old)
    git(repo, "worktree", "remove", "--force", str(scratch))
    elapsed = time.perf_counter() - start
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=8)
    parser.add_argument("--check", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wtpar-bench-land-"))
    try:
        template = work / "template"
        names = build(template / "proj", args.branches, args.check)
        timings: dict[str, list[float]] = {"wtpar": [], "queue": []}
        for i in range(args.repeats):
            for side in ("wtpar", "queue"):
                copy = work / f"{side}-{i}"
                shutil.copytree(template, copy, symlinks=True)
                repo = copy / "proj"
                _relocate(repo)
                if side == "wtpar":
                    timings[side].append(run_wtpar(repo, args.jobs))
                else:
                    timings[side].append(run_queue(repo, names, args.check))
                landed = git(repo, "rev-list", "--count", "--merges", "main").strip()
                assert landed == str(args.branches), f"{side} landed {landed} branches"
        wt, queue = statistics.median(timings["wtpar"]), statistics.median(timings["queue"])
        print(
            f"# {platform.node() or 'machine'}: {len(os.sched_getaffinity(0))} usable CPUs, "
            f"Python {platform.python_version()}, {git('.', '--version').strip()}, "
            f"{time.strftime('%Y-%m-%d')}"
        )
        print(
            f"land {args.branches} branches, check {args.check:g}s, -j {args.jobs}: "
            f"wtpar {wt:.2f}s  queue {queue:.2f}s  ratio {wt / queue:.2f}x "
            f"(ideal {args.branches * args.check / args.jobs:.1f}s vs "
            f"{args.branches * args.check:.1f}s)"
        )
        print(
            "runs: "
            + ", ".join(f"{k} " + " ".join(f"{t:.2f}" for t in v) for k, v in timings.items())
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _relocate(repo: Path) -> None:
    """Point a copied repository's worktrees at their copied folders."""
    git(repo, "worktree", "repair", *[str(p) for p in repo.parent.glob("wt-*")])


if __name__ == "__main__":
    main()
