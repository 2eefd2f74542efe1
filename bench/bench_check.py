"""Benchmark `wtpar check` against a plain loop of `git merge-tree`, one process per pair.

A repository of FILES files gets BRANCHES branches of three changed files each; every branch
shares one file with a few others, the rest of its changes are its own. Even branches
rewrite the shared file (those pairs conflict), odd ones change one line of it each, in
different places (those pairs overlap by path but merge cleanly). Main moves on after the
branches are made.

- wtpar: `wtpar check --json --no-run` on every branch, as a process: every fact, each
  branch merged into the base, the pair matrix (prefilter + `merge-tree --stdin`), and the
  merge order. Cold (no cache) and warm (the cache from the previous run).
- loop: a bash loop of one `git merge-tree --write-tree` per pair of branches (the matrix
  only), with the same quarantine (temporary object directory), so neither side writes
  objects into the repository.

Both run in this process, alternating; medians of REPEATS runs and ratios (loop / wtpar:
above 1 means wtpar is faster). Re-run: `python bench/bench_check.py [--files N]
[--branches N] [--repeats N]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
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

from fixtures.recipes import commit_file, git, make_big_repo, make_branch  # noqa: E402

WTPAR = [sys.executable, "-m", "wtpar"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def build(repo: Path, files: int, branches: int) -> list[str]:
    make_big_repo(repo, files)
    names = []
    for i in range(branches):
        shared = f"src/pkg{i % 12:03d}/mod{i % 12:05d}.py"
        own = [
            f"src/pkg{(i * 7 + k) % 50:03d}/mod{(1000 + i * 3 + k) % files:05d}.py" for k in (1, 2)
        ]
        if i % 2:
            # Odd branches edit one line of the shared file, each in its own region: the
            # pairs overlap by path but merge cleanly.
            lines = (repo / shared).read_text().splitlines(keepends=True)
            line = (i // 12 % 8) * 5 + 4
            lines[line] = lines[line].rstrip("\n") + f"  # branch {i}\n"
            shared_text = "".join(lines)
        else:
            shared_text = f"# branch {i}\n"  # even ones rewrite it: those pairs conflict
        changes = {shared: shared_text, **{p: f"# branch {i} owns this\n" for p in own}}
        names.append(f"b{i:02d}")
        make_branch(repo, names[-1], changes)
    commit_file(repo, f"src/pkg049/mod{files - 1:05d}.py", "# main moved on\n")
    return names


def run_wtpar(repo: Path, names: list[str]) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    out = subprocess.run(
        [*WTPAR, "check", "--json", "--no-run", *names],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    return elapsed, json.loads(out.stdout)


def run_loop(repo: Path, names: list[str], scratch: Path) -> tuple[float, int]:
    pairs = "\n".join(f"{a} {b}" for a, b in itertools.combinations(names, 2))
    script = (
        'q=$(mktemp -d -p "$SCRATCH"); mkdir "$q/objects"; conflicts=0\n'
        "while read a b; do\n"
        '  GIT_OBJECT_DIRECTORY="$q/objects" \\\n'
        '  GIT_ALTERNATE_OBJECT_DIRECTORIES="$PWD/.git/objects" \\\n'
        '    git merge-tree --write-tree --name-only -z --no-messages "$a" "$b" >/dev/null \\\n'
        "    || conflicts=$((conflicts + 1))\n"
        "done\n"
        'rm -rf "$q"; echo "$conflicts"\n'
    )
    start = time.perf_counter()
    out = subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        input=pairs + "\n",
        env={**ENV, "SCRATCH": str(scratch)},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, int(out.stdout.strip())


def run_batched(repo: Path, names: list[str]) -> float:
    """Every pair (no prefilter) through wtpar's `merge-tree --stdin` batches, in-process."""
    from wtpar.check.merging import MergeSimulator
    from wtpar.git import Git, discover

    g = Git(discover(repo))
    shas = g.resolve_commits(names)
    pairs = [(str(shas[a]), str(shas[b])) for a, b in itertools.combinations(names, 2)]
    start = time.perf_counter()
    with MergeSimulator(g) as sim:
        sim.merge_many(pairs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    git_version = git(".", "--version").strip()
    print(f"{platform.python_version()} {git_version}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-check-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        names = build(repo, args.files, args.branches)
        cache = repo / ".git" / "wtpar" / "cache" / "merge.json"
        cold: list[float] = []
        warm: list[float] = []
        loop: list[float] = []
        batched: list[float] = []
        report: dict[str, object] = {}
        loop_conflicts = 0
        for _ in range(args.repeats):
            t, loop_conflicts = run_loop(repo, names, work)
            loop.append(t)
            if cache.exists():
                cache.unlink()
            t, report = run_wtpar(repo, names)
            cold.append(t)
            t, _ = run_wtpar(repo, names)
            warm.append(t)
            batched.append(run_batched(repo, names))
        shutil.rmtree(repo / ".git" / "wtpar", ignore_errors=True)
    matrix = report["matrix"]
    assert isinstance(matrix, dict)
    found = len(matrix["conflicts"])
    print(
        f"{args.files} files, {len(names)} branches, {matrix['pairs']} pairs: "
        f"{matrix['disjoint']} skipped by the path prefilter, "
        f"{matrix['pairs'] - matrix['disjoint']} merged, {found} conflicting "
        f"(loop found {loop_conflicts})"
    )
    med_loop, med_cold, med_warm, med_batch = (
        statistics.median(x) for x in (loop, cold, warm, batched)
    )
    print(f"loop of git merge-tree per pair (matrix only) : {med_loop:7.2f} s")
    print(
        f"wtpar check, cold cache (whole check)         : {med_cold:7.2f} s"
        f"   ratio {med_loop / med_cold:5.1f}x"
    )
    print(
        f"wtpar check, warm cache (whole check)         : {med_warm:7.2f} s"
        f"   ratio {med_loop / med_warm:5.1f}x"
    )
    print(
        f"every pair via merge-tree --stdin (no prefilter): {med_batch:7.2f} s"
        f"   ratio {med_loop / med_batch:5.1f}x"
    )
    if found != loop_conflicts:
        raise SystemExit("the matrix and the loop disagree")


if __name__ == "__main__":
    main()
