"""Time from `wtpar dash` to the first full table, as a user sees it, with N worktrees.

The dashboard runs in a real terminal (tmux, 160 columns, tall enough for every row); the
screen is read with `tmux capture-pane` until every worktree's branch is drawn (the first
full table), then until every row's status is (the dashboard draws the rows from the
worktree list first, each status as `…` until read). For
reference, the same run times `wtpar list` (the text view of the same data) and a
sequential loop of the git calls behind it. Medians of REPEATS runs. Needs tmux.
Re-run: `python bench/bench_dash.py [--worktrees N] [--wtpar SOURCE]`.
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

from bench.bench_worktrees import LIST_LOOP  # noqa: E402
from fixtures.recipes import make_big_repo  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SESSION = "wtpar-bench-dash"


def screen() -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-S", "0", "-E", "-", "-t", SESSION],
        capture_output=True,
        text=True,
    ).stdout


def filled(text: str, branches: list[str]) -> bool:
    """Every branch's row shows its base counts (`↑0 ↓0`), not the `…` of a status still
    being read."""
    rows = {b: line for line in text.splitlines() for b in branches if f" {b} " in line}
    return len(rows) == len(branches) and all("↑" in line for line in rows.values())


def time_dash(
    repo: Path, branches: list[str], root: Path = ROOT, timeout: float = 60.0
) -> tuple[float, float]:
    """Seconds until every branch's row is drawn, and until every row's status is."""
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    # exec: the pane's process is the dashboard itself, so its end can be awaited.
    command = f"cd {repo} && PYTHONPATH={root} exec {sys.executable} -m wtpar dash"
    # The terminal is tall enough for every row: a row below the screen is never drawn, so
    # waiting for it would never end.
    height = str(max(50, 2 * len(branches) + 30))
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", SESSION, "-x", "160", "-y", height, command],
        check=True,
    )
    pid = int(
        subprocess.run(
            ["tmux", "display-message", "-p", "-t", SESSION, "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    rows_at: float | None = None
    try:
        while time.perf_counter() - start < timeout:
            text = screen()
            if rows_at is None and all(f" {b} " in text for b in branches):
                rows_at = time.perf_counter() - start
            if rows_at is not None and filled(text, branches):
                return rows_at, time.perf_counter() - start
            time.sleep(0.01)  # polling the screen is what is being measured
        missing = [b for b in branches if f" {b} " not in screen()]
        raise SystemExit(
            f"the dashboard did not show every worktree in {timeout:.0f}s"
            f" ({len(missing)} missing, first {missing[:3]})"
        )
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        hung_up(pid)


def hung_up(pid: int, timeout: float = 10.0) -> None:
    """Wait for the dashboard to end after its terminal closed (SIGHUP); kill it if it
    does not, and say so: a dashboard left running would slow every later measurement."""
    deadline = time.perf_counter() + timeout
    while os.path.exists(f"/proc/{pid}") and time.perf_counter() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return  # ended; tmux reaps it
        time.sleep(0.05)
    if os.path.exists(f"/proc/{pid}"):
        os.kill(pid, 9)
        print(f"the dashboard (pid {pid}) was still running {timeout:.0f}s after SIGHUP: killed")


def timed(args: list[str], cwd: Path, env: dict[str, str] = ENV) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--worktrees", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    args = parser.parse_args()
    root = args.wtpar.resolve()
    env = {**os.environ, "PYTHONPATH": str(root)}
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed (apt-get install tmux)")
    gitver = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {gitver}")
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-dash-") as tmp:
        repo = make_big_repo(Path(tmp) / "repo", args.files)
        branches = [f"wt-{i:02d}" for i in range(args.worktrees - 1)]
        subprocess.run(
            [sys.executable, "-m", "wtpar", "spawn", *branches],
            cwd=repo,
            env=ENV,
            check=True,
            capture_output=True,
        )
        dash = [time_dash(repo, branches, root) for _ in range(args.repeats)]
        listing = [
            timed([sys.executable, "-m", "wtpar", "list"], repo, env) for _ in range(args.repeats)
        ]
        loop = [timed(["bash", "-c", LIST_LOOP], repo) for _ in range(args.repeats)]
    d = statistics.median(rows for rows, _ in dash)
    f = statistics.median(full for _, full in dash)
    w, g = statistics.median(listing), statistics.median(loop)
    print(
        f"{args.worktrees} worktrees, {args.files} files: wtpar dash to every row {d:.3f}s,"
        f" to every row's status {f:.3f}s; wtpar list {w:.3f}s; sequential git loop {g:.3f}s;"
        f" dash rows/list {d / w:.2f}x (wtpar from {root})"
    )


if __name__ == "__main__":
    main()
