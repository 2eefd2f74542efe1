"""Benchmark `wtpar remove` against `git worktree remove` on a worktree full of build output.

wtpar checks more before removing (hidden changes, submodule stores, worktree refs, running
tasks), counts and sizes the ignored files it deletes, then moves the folder to a trash
that a background process empties. `git worktree remove --force` deletes the folder before
it returns. Each side removes a worktree of the same repository with the same ignored
`build/` folder of BUILD_FILES files; medians of REPEATS runs, ratio git / wtpar (above 1,
wtpar returns sooner). Re-run: `python bench/bench_remove.py [--build-files N] [--repeats N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_worktrees import WTPAR, timed  # noqa: E402
from fixtures.recipes import git, make_big_repo  # noqa: E402


def fill_build(worktree: Path, files: int) -> None:
    """An ignored build/ folder of `files` 4 kB files in 100 folders."""
    for i in range(files):
        folder = worktree / "build" / f"d{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"o{i}.o").write_bytes(b"\0" * 4096)


def bench_remove(repo: Path, repeats: int, files: int) -> tuple[float, float, str]:
    t_wtpar: list[float] = []
    t_git: list[float] = []
    for i in range(repeats):
        for side in ("w", "g"):
            subprocess.run(
                [*WTPAR, "spawn", f"{side}{i}"], cwd=repo, check=True, capture_output=True
            )
            fill_build(repo.parent / f"{repo.name}.worktrees" / f"{side}{i}", files)
        subprocess.run(["sync"], check=False)
        wt_g = repo.parent / f"{repo.name}.worktrees" / f"g{i}"
        t_git.append(timed(["git", "worktree", "remove", "--force", str(wt_g)], repo))
        t_wtpar.append(timed([*WTPAR, "remove", f"w{i}"], repo))
    # What the user is told, on one more removal of the same kind.
    subprocess.run([*WTPAR, "spawn", "last"], cwd=repo, check=True, capture_output=True)
    fill_build(repo.parent / f"{repo.name}.worktrees" / "last", files)
    said = subprocess.run(
        [*WTPAR, "remove", "last"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    return statistics.median(t_wtpar), statistics.median(t_git), said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="tracked files")
    parser.add_argument("--build-files", type=int, default=20000, help="ignored files")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gitver = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {gitver}")
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-") as tmp:
        repo = make_big_repo(Path(tmp) / "repo", args.files)
        (repo / ".gitignore").write_text("build/\n")
        git(repo, "add", ".gitignore")
        git(repo, "commit", "-q", "-m", "ignore build/")
        w, g, said = bench_remove(repo, args.repeats, args.build_files)
        print(
            f"remove a worktree with {args.build_files} ignored files: wtpar remove {w:.3f}s, "
            f"git worktree remove --force {g:.3f}s, ratio git/wtpar {g / w:.2f}x"
        )
        print(f"wtpar said: {said}")


if __name__ == "__main__":
    main()
