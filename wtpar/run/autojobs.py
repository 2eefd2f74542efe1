"""`-j auto`: how many slots a run gets, from the machine and the tasks' history.

Pure: a resources reading (resources.py), the run's estimates (history.py) and the `-j`
that `wtpar tune` recommended, if any, come in; a number and the reason come out.

- The best `-j` recorded by `wtpar tune` for the same tasks wins: it was measured.
- Otherwise the CPUs left by the current load, divided by the CPU share the tasks used
  (a task that mostly waits can share a core), at most `OVERSUBSCRIBE` per CPU;
- no more than the available memory holds at the largest peak seen (one task that used
  3 GB cannot run 8 times on 16 GB), with `MEMORY_MARGIN` kept free;
- never more than the tasks that can run, never fewer than one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from wtpar.run.history import Estimate, History
from wtpar.run.plan import RunPlan
from wtpar.run.resources import Resources

OVERSUBSCRIBE = 4  # slots per CPU at most, however idle the tasks are
MEMORY_MARGIN = 0.9  # share of the available memory tasks may fill
MIN_CPU_SHARE = 0.05


@dataclass(frozen=True)
class JobsChoice:
    """What `-j auto` chose, and why (one line for the summary)."""

    jobs: int
    why: str


def choose_jobs(
    resources: Resources,
    expected: Sequence[Estimate],
    tasks: int,
    tuned: int | None = None,
) -> JobsChoice:
    """The number of slots for a run of `tasks` instances with these estimates."""
    most = max(tasks, 1)
    if tuned is not None:
        jobs = max(1, min(tuned, most))
        capped = f", capped at {most} tasks" if jobs < tuned else ""
        return JobsChoice(jobs, f"the best -j recorded by `wtpar tune` ({tuned}){capped}")
    free = max(1.0, resources.cpus - resources.load)
    shares = [e.cpu_share for e in expected if e.cpu_share is not None]
    share = max(MIN_CPU_SHARE, max(shares)) if shares else 1.0
    reasons = [
        f"{resources.cpus} usable CPU{'s' if resources.cpus != 1 else ''}, "
        f"load {resources.load:.1f} ({free:.1f} free)"
    ]
    # Rounded: an idle 2-CPU machine's load of 0.1 leaves 1.9 CPUs, room for two tasks.
    by_cpu = max(1, min(math.floor(free / share + 0.5), OVERSUBSCRIBE * resources.cpus))
    if shares:
        reasons.append(f"tasks use up to {share:.2f} CPU each (history)")
    else:
        reasons.append("no CPU history: one task per free CPU")
    limits = [(by_cpu, "CPU"), (most, "tasks")]
    peaks = [e.peak_rss for e in expected if e.peak_rss]
    if peaks:
        peak = max(peaks)
        by_memory = max(1, math.floor(resources.memory_available * MEMORY_MARGIN / peak))
        reasons.append(
            f"memory for {by_memory} at {_size(peak)} each "
            f"({_size(resources.memory_available)} available)"
        )
        limits.append((by_memory, "memory"))
    jobs, bound = min(limits, key=lambda item: item[0])
    reasons.append(f"{tasks} task{'s' if tasks != 1 else ''} to run")
    return JobsChoice(jobs, "; ".join(reasons) + f" (bound by {bound})")


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{n / (1 << 20):.0f} MB"


def auto_jobs(
    plan: RunPlan, history: History, wtpar_dir: str, task_names: Sequence[str], command: str | None
) -> JobsChoice:
    """`-j auto` for this plan: reads the machine, the history and `wtpar tune`'s record."""
    from wtpar.run.expect import estimates
    from wtpar.run.resources import read_resources
    from wtpar.run.tune import TuneRecords, selection_key

    expected = estimates(plan, history)
    runnable = [i.key for i in plan.instances if not i.skip_reason]
    tuned = TuneRecords(wtpar_dir).best(selection_key(task_names, command))
    return choose_jobs(read_resources(), [expected[k] for k in runnable], len(runnable), tuned)
