"""`wtpar tune` on a real test suite: part of wtpar's own tests, split in 4 shards.

A temporary clone of this repository gets one worktree and a task

    [tasks.tests]
    cmd = "python -m pytest -q $(files of shard {shard} of {shards})"
    shards = 4

and `wtpar tune tests -j 1,2,4` runs the four shards at each -j, printing its table, bar
chart and recommendation (the output a user sees), then `wtpar run tests -j auto` shows
that -j auto takes the recommendation.

Re-run: `python bench/bench_tune.py [-j 1,2,4]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import git  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SUITE = [
    "tests/test_schedule.py",
    "tests/test_tasks.py",
    "tests/test_readiness.py",
    "tests/test_text.py",
    "tests/test_shards.py",
    "tests/test_tree_results.py",
    "tests/test_tune.py",
    "tests/test_learning.py",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", default="1,2,4")
    args = parser.parse_args()
    suite = [f for f in SUITE if (ROOT / f).exists()]
    print(
        f"# {platform.node()}: {len(os.sched_getaffinity(0))} usable CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}; {len(suite)} test files in 4 shards"
    )
    with tempfile.TemporaryDirectory(prefix="wtpar-tune-") as tmp:
        repo = Path(tmp) / "wtpar"
        git(Path(tmp), "clone", "-q", "--shared", str(ROOT), str(repo))
        files = " ".join(suite)
        select = f"$(for f in {files}; do echo $f; done | awk 'NR % {{shards}} == {{shard}} - 1')"
        pytest = f"{sys.executable} -m pytest -q -p no:cacheprovider -p no:randomly {select}"
        (repo / "wtpar.toml").write_text(f'[tasks.tests]\ncmd = "{pytest}"\nshards = 4\n')
        wtpar = [sys.executable, "-m", "wtpar"]
        subprocess.run([*wtpar, "spawn", "b0"], cwd=repo, env=ENV, check=True, capture_output=True)
        tune = subprocess.run(
            [*wtpar, "tune", "tests", "-j", args.jobs],
            cwd=repo,
            env=ENV,
            capture_output=True,
            text=True,
        )
        print(tune.stdout, end="")
        auto = subprocess.run(
            [*wtpar, "run", "tests", "-j", "auto", "--output", "quiet"],
            cwd=repo,
            env=ENV,
            capture_output=True,
            text=True,
        )
        print(next((line for line in auto.stdout.splitlines() if "-j auto" in line), ""))


if __name__ == "__main__":
    main()
