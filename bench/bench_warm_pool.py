"""Benchmark spawning from the warm pool against a fresh spawn.

On a repository of about 5000 files whose `post_create` takes 2 s (a stand-in for
`npm ci` or `uv sync`), time `wtpar spawn BRANCH` as a whole process:
- fresh: the pool is empty, so a full checkout and setup;
- pool: a ready spare is there (filled beforehand, not timed), so a switch and a rename;
- claim --any with a ready spare, the call an agent makes.
Both run in the same process, alternating, on one repository; medians of REPEATS runs and
the ratio pool/fresh are printed (the goal: at most 0.1x, and under 0.5 s).
Re-run: `python bench/bench_warm_pool.py [--files N] [--repeats N] [--setup SECONDS]`.
"""

from __future__ import annotations

import argparse
import os
import platform
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


def wtpar(repo: Path, *args: str) -> float:
    """Run one wtpar command to completion; its wall time."""
    start = time.perf_counter()
    subprocess.run([*WTPAR, *args], cwd=repo, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--setup", type=float, default=2.0, help="post_create seconds")
    args = parser.parse_args()
    gitver = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {gitver}")
    print(time.strftime("date: %Y-%m-%d %H:%M UTC", time.gmtime()))
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-") as tmp:
        repo = make_big_repo(Path(tmp) / "repo", args.files)
        (repo / "wtpar.toml").write_text(f'[worktrees]\npost_create = ["sleep {args.setup}"]\n')
        git(repo, "gc", "-q")
        fresh: list[float] = []
        pooled: list[float] = []
        claimed: list[float] = []
        floor: list[float] = []
        for i in range(args.repeats):
            fresh.append(wtpar(repo, "spawn", f"fresh-{i}"))
            wtpar(repo, "pool", "fill", "2", "--wait")
            pooled.append(wtpar(repo, "spawn", f"pooled-{i}"))
            claimed.append(wtpar(repo, "claim", "--any", "--by", f"agent-{i}"))
            floor.append(wtpar(repo, "list"))
        print(f"{args.files} files, post_create {args.setup:g}s, {args.repeats} runs each:")
        f = statistics.median(fresh)
        for label, times in (
            ("fresh spawn", fresh),
            ("spawn from a ready spare", pooled),
            ("claim --any (a spare)", claimed),
            ("wtpar list (start-up floor)", floor),
        ):
            med, best = statistics.median(times), min(times)
            print(
                f"  {label:<28} median {med:.3f}s ({med / f:.3f}x fresh), "
                f"best {best:.3f}s ({best / min(fresh):.3f}x best fresh)"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
