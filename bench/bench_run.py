"""Benchmark `wtpar run` against GNU parallel and `xargs -P`, in the same run.

How the comparison is kept fair:
- every tool runs the same command through `/bin/sh -c` (wtpar always does; parallel with
  PARALLEL_SHELL=/bin/sh; xargs runs `sh -c CMD`), with the same -j;
- wtpar runs N named tasks (`t0` ... `tN-1`, each `cmd = CMD`) in ONE worktree of a
  temporary repository, so no git work scales with N; it is timed as a whole process
  (Python start-up, reading the config, `git worktree list`, one `git status`, logs,
  report.json), which is what a user waits for. Its live output is `--output quiet`;
- each measurement is hyperfine's median over several runs, alternating tools.

Printed: medians and ratios (tool / wtpar: above 1 means wtpar is faster) for 200 trivial
tasks (`true`) and 200 tasks of 50 ms (`sleep 0.05`) at -j 2 and -j 8; 8 tasks of 1 s at
-j 8 against the ideal 1 s; the peak memory (ru_maxrss) of a wtpar process running 500
tasks; and the per-task cost of each tool, (time for 200 trivial tasks - time for 1) / 199,
at -j 2: the dispatcher's own overhead per task.

Re-run: `python bench/bench_run.py [--runs N]` (needs hyperfine and GNU parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.recipes import git, make_repo  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def setup(workdir: Path, tasks: int) -> Path:
    """A repository with one worktree (`b0`) and tasks t0..t{tasks-1} per command kind."""
    repo = make_repo(workdir / "proj")
    lines = []
    for kind, cmd in (("true", "true"), ("sleep", "sleep 0.05"), ("second", "sleep 1")):
        for i in range(tasks):
            lines.append(f'[tasks.{kind}{i}]\ncmd = "{cmd}"\n')
    (repo / "wtpar.toml").write_text("\n".join(lines))
    git(repo, "add", "wtpar.toml")
    git(repo, "commit", "-q", "-m", "bench tasks")
    subprocess.run(
        [sys.executable, "-m", "wtpar", "spawn", "b0"],
        cwd=repo,
        env=ENV,
        check=True,
        capture_output=True,
    )
    return repo


def wtpar_cmd(repo: Path, kind: str, n: int, jobs: int) -> str:
    names = " ".join(f"{kind}{i}" for i in range(n))
    return f"{sys.executable} -m wtpar -C {repo} run -j {jobs} --output quiet -b b0 {names}"


def parallel_cmd(cmd: str, n: int, jobs: int) -> str:
    # parallel runs each command through $PARALLEL_SHELL: /bin/sh -c CMD, as wtpar does.
    return f"seq {n} | PARALLEL_SHELL=/bin/sh parallel --will-cite -j {jobs} -N0 '{cmd}'"


def xargs_cmd(cmd: str, n: int, jobs: int) -> str:
    return f"seq {n} | xargs -P {jobs} -I{{}} sh -c '{cmd}'"


def hyperfine(commands: dict[str, str], runs: int, workdir: Path) -> dict[str, float]:
    """Median seconds per named command."""
    out = workdir / "hf.json"
    args = [
        "hyperfine",
        "--runs",
        str(runs),
        "--warmup",
        "1",
        "--style",
        "none",
        "--export-json",
        str(out),
    ]
    for name, command in commands.items():
        args += ["-n", name, command]
    subprocess.run(args, env=ENV, check=True, capture_output=True)
    data = json.loads(out.read_text())
    return {r["command"]: r["median"] for r in data["results"]}


def compare(
    label: str, kind: str, cmd: str, n: int, jobs: int, repo: Path, runs: int, workdir: Path
) -> dict[str, float]:
    medians = hyperfine(
        {
            "wtpar": wtpar_cmd(repo, kind, n, jobs),
            "parallel": parallel_cmd(cmd, n, jobs),
            "xargs": xargs_cmd(cmd, n, jobs),
        },
        runs,
        workdir,
    )
    w = medians["wtpar"]
    print(
        f"{label:<28} -j {jobs}:  wtpar {w:7.3f}s   parallel {medians['parallel']:7.3f}s "
        f"({medians['parallel'] / w:5.2f}x)   xargs {medians['xargs']:7.3f}s "
        f"({medians['xargs'] / w:5.2f}x)"
    )
    return medians


def peak_memory(repo: Path, n: int, jobs: int) -> tuple[float, float]:
    """(ru_maxrss in MiB, wall seconds) of one wtpar process running n trivial tasks."""
    import time

    names = [f"true{i}" for i in range(n)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wtpar",
            "run",
            "-j",
            str(jobs),
            "--output",
            "quiet",
            "-b",
            "b0",
            *names,
        ],
        cwd=repo,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"wtpar run of {n} tasks failed ({proc.returncode})")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for tool in ("hyperfine", "parallel"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(
        f"# {platform.node()}: {len(os.sched_getaffinity(0))} usable CPUs, "
        f"Python {platform.python_version()}, {git_version.strip()}"
    )
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-run-") as tmp:
        workdir = Path(tmp)
        repo = setup(workdir, 500)
        results = {}
        for jobs in (2, 8):
            results[("true", jobs)] = compare(
                "200 x true", "true", "true", 200, jobs, repo, args.runs, workdir
            )
        for jobs in (2, 8):
            results[("sleep", jobs)] = compare(
                "200 x sleep 0.05",
                "sleep",
                "sleep 0.05",
                200,
                jobs,
                repo,
                max(3, args.runs - 2),
                workdir,
            )
            ideal = 200 * 0.05 / jobs
            print(
                f"{'':<28}       ideal {ideal:.3f}s; wtpar above ideal: "
                f"{results[('sleep', jobs)]['wtpar'] - ideal:.3f}s"
            )
        eight = compare("8 x sleep 1", "second", "sleep 1", 8, 8, repo, 3, workdir)
        print(
            f"{'':<28}       ideal 1.000s; wtpar {eight['wtpar']:.3f}s "
            f"({eight['wtpar'] - 1:.3f}s above ideal)"
        )
        one = compare("1 x true", "true", "true", 1, 2, repo, args.runs, workdir)
        print("per-task cost at -j 2, (200 tasks - 1 task) / 199:")
        for tool in ("wtpar", "parallel", "xargs"):
            per = (results[("true", 2)][tool] - one[tool]) / 199 * 1000
            print(f"  {tool:<9} {per:6.2f} ms")
        rss, wall = peak_memory(repo, 500, 8)
        print(f"peak memory, 500 tasks at -j 8: {rss:.1f} MiB (ru_maxrss), {wall:.2f}s")


if __name__ == "__main__":
    main()
