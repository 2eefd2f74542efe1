"""A cold `wtpar check` on a real history against the per-pair loop of `git merge-tree`.

The synthetic benches (bench_check.py, bench_scale.py check) make branches of three small
changes each; real branches are older, longer and touch the same busy files. This one
rebuilds a moment of a real fleet from wtpar's own repository (no network: it clones the
repository this script lives in, or --source): main is reset to the K-th first-parent
commit before TIP, and every feature tip that history recorded (the first parent of each
"merge main into the feature" commit) which has diverged from that main becomes a branch.
So the branches are real work on the same real files, some behind main by a hundred
commits, some conflicting with main or with each other.

- wtpar: `wtpar check --json --no-run` on every branch, as a process, with no cache.
- loop: one `git merge-tree --write-tree` per pair of branches (the matrix alone), in a
  quarantine, as bench_check.py does.

They alternate; medians of REPEATS and the ratio check / loop (the goal is <= 0.4x).
`--before DIR` times another copy of the source as well (e.g. `git worktree add
/tmp/before main`), alternating with the others, for a before/after in the same minutes.

    python bench/bench_check_real.py [--repeats 5] [--before DIR] [--tip REV] [--back K]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_check import run_loop  # noqa: E402
from bench.measure import Tool  # noqa: E402
from fixtures.recipes import git  # noqa: E402

# A commit of wtpar's main (2026-12-01) with 139 merges in its history: pinned, so the case
# stays the same as main moves on.
TIP = "9dc035e6cf17f60ea8077dbedc2c89de27c19cdf"


def build(source: Path, repo: Path, tip: str, back: int, limit: int) -> list[str]:
    """Clone SOURCE, reset main to the BACK-th first-parent commit before TIP, and make a
    branch at each recorded feature tip that has diverged from it (newest first)."""
    # --no-local: packed, as a clone from a server is (not hard links to loose objects).
    git(repo.parent, "clone", "-q", "--no-local", "--no-checkout", str(source), repo.name)
    git(repo, "remote", "remove", "origin")
    chain = git(repo, "rev-list", "--first-parent", tip).split()
    base = chain[back]
    git(repo, "update-ref", "refs/heads/main", base)
    git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    merges = git(repo, "log", "--merges", "--format=%P", tip).splitlines()
    tips = [line.split()[0] for line in merges]
    names: list[str] = []
    for sha in dict.fromkeys(tips):
        if len(names) == limit:
            break
        if ancestor(repo, sha, base) or ancestor(repo, base, sha):
            continue
        names.append(f"f{len(names) + 1:02d}")
        git(repo, "update-ref", f"refs/heads/{names[-1]}", sha)
    return names


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ancestor(repo: Path, a: str, b: str) -> bool:
    """True when commit A is reachable from B."""
    return subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=repo).returncode == 0


def run_check(tool: Tool, repo: Path, names: list[str]) -> tuple[float, dict[str, object]]:
    """One cold `wtpar check --json --no-run` of NAMES, with TOOL's wtpar."""
    subprocess.run(["rm", "-rf", str(repo / ".git" / "wtpar")], check=True)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "wtpar", "check", "--json", "--no-run", *names],
        cwd=repo,
        env=tool.env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1) or not out.stdout:
        raise SystemExit(f"wtpar check exited {out.returncode}: {out.stderr}")
    return elapsed, json.loads(out.stdout)


def verdicts(report: dict[str, object]) -> object:
    """What must not change between two copies of wtpar: verdicts, matrix, order."""
    branches = report["branches"]
    matrix = report["matrix"]
    assert isinstance(branches, list) and isinstance(matrix, dict)
    return (
        [(b["branch"], b["verdict"], b["merge"], b["integrated"]) for b in branches],
        matrix["conflicts"],
        report["merge_order"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="the repository to clone")
    parser.add_argument("--tip", default=TIP)
    parser.add_argument("--back", type=int, default=40, help="main = TIP's K-th first parent")
    parser.add_argument("--branches", type=int, default=30, help="at most this many")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another wtpar source to time as well")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, Python"
        f" {platform.python_version()}, {git('.', '--version').strip()}, {os.cpu_count()} CPUs,"
        f" load {load[0]:.1f}"
    )
    if args.before and not (args.before / "wtpar" / "__init__.py").is_file():
        raise SystemExit(f"--before {args.before}: no wtpar source there")
    sources = {"check": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    tools = {label: Tool(source) for label, source in sources.items()}  # byte-compiled
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-real-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        names = build(args.source, repo, args.tip, args.back, args.branches)
        times: dict[str, list[float]] = {"loop": [], **{t: [] for t in tools}}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        reports: dict[str, dict[str, object]] = {}
        loop_conflicts = 0
        for _ in range(args.repeats):
            used = children_cpu()
            t, loop_conflicts = run_loop(repo, names, work)
            times["loop"].append(t)
            cpu["loop"].append(children_cpu() - used)
            for label, tool in tools.items():
                used = children_cpu()
                t, reports[label] = run_check(tool, repo, names)
                times[label].append(t)
                cpu[label].append(children_cpu() - used)
    report = reports["check"]
    matrix = report["matrix"]
    assert isinstance(matrix, dict) and isinstance(report["branches"], list)
    blocked = sum(b["verdict"] == "blocked" for b in report["branches"])
    order = report["merge_order"]
    assert isinstance(order, list)
    print(
        f"{args.source} at {args.tip[:10]}, main reset {args.back} first-parent commits"
        f" back: {len(names)} branches ({blocked} blocked), {matrix['pairs']} pairs:"
        f" {matrix['disjoint']} skipped by the path prefilter, {matrix['merged']} merged,"
        f" {len(matrix['conflicts'])} conflicting; merge order of {len(order)} ready branches"
    )
    print(
        f"  (the loop counts {loop_conflicts} conflicting pairs: it also counts pairs whose"
        " changes since main do not overlap but that conflict through main's own changes,"
        " which the base merge reports)"
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        f"per-pair loop of git merge-tree (matrix only): {med['loop']:6.2f} s"
        f" (CPU {cpu_med['loop']:.2f} s)"
    )
    for label in tools:
        print(
            f"wtpar check, cold ({label:6s} {str(sources[label])[-28:]:>28}): {med[label]:6.2f} s"
            f" (CPU {cpu_med[label]:.2f} s)   check / loop = {med[label] / med['loop']:.2f}x"
            f" (goal <= 0.4x), CPU {cpu_med[label] / cpu_med['loop']:.2f}x"
        )
    if "before" in reports and verdicts(reports["before"]) != verdicts(report):
        raise SystemExit("the two copies of wtpar disagree on verdicts, matrix or order")


if __name__ == "__main__":
    main()
