"""`wtpar tune`: the same work at several `-j` (and stagger) settings, measured side by
side, and the `-j` worth using, recorded for `-j auto`.

The runs themselves go through the dispatcher like any other (services.py drives them);
this module turns their reports into rows, a table with a bar chart, JSON and a
recommendation, and keeps the recommendations in `wtpar/cache/tune.json`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from wtpar.model import RunReport
from wtpar.run.report import run_stats
from wtpar.state import read_json, update_json
from wtpar.text import aligned_table, format_seconds

GOOD_ENOUGH = 1.05  # a -j within 5 % of the fastest wall time is as good, and cheaper
BAR_WIDTH = 40


@dataclass(frozen=True)
class TuneRow:
    """One setting's measurements."""

    jobs: int
    stagger: float
    wall: float
    tasks: int
    ok: bool
    throughput: float | None
    speedup: float | None  # against -j 1 (or the smallest -j measured)
    efficiency: float | None  # speedup per slot, against the same
    p50: float | None
    p95: float | None
    p99: float | None


def tune_rows(measured: Sequence[tuple[int, float, RunReport]]) -> list[TuneRow]:
    """Rows from (jobs, stagger, report) triples, speedups against the smallest -j without
    stagger (or the smallest -j at all)."""
    if not measured:
        return []
    base_jobs, _, base = min(measured, key=lambda m: (m[0], m[1]))
    base_wall = run_stats(base).wall
    rows = []
    for jobs, stagger, report in measured:
        stats = run_stats(report)
        speedup = base_wall / stats.wall if stats.wall > 0 else None
        rows.append(
            TuneRow(
                jobs=jobs,
                stagger=stagger,
                wall=stats.wall,
                tasks=stats.ran,
                ok=report.ok,
                throughput=stats.throughput,
                speedup=speedup,
                efficiency=None if speedup is None else speedup * base_jobs / jobs,
                p50=stats.p50,
                p95=stats.p95,
                p99=stats.p99,
            )
        )
    return rows


def recommend(rows: Sequence[TuneRow]) -> TuneRow | None:
    """The smallest -j (then stagger) whose wall time is within 5 % of the fastest passing
    setting; None when no setting passed."""
    passing = [r for r in rows if r.ok]
    if not passing:
        return None
    best = min(r.wall for r in passing)
    good = [r for r in passing if r.wall <= best * GOOD_ENOUGH]
    return min(good, key=lambda r: (r.jobs, r.stagger))


def _x(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def tune_table(rows: Sequence[TuneRow], chosen: TuneRow | None) -> str:
    """The table, a bar chart of the wall times and the recommendation, as text."""
    headers = ("-J", "STAGGER", "WALL", "TASKS/S", "SPEEDUP", "EFFICIENCY", "P50", "P95", "P99")
    table = aligned_table(
        headers,
        [
            (
                str(r.jobs) + ("" if r.ok else " (failed)"),
                f"{r.stagger:g}s",
                format_seconds(r.wall),
                _x(r.throughput, ".2f"),
                _x(r.speedup, ".2f") + ("x" if r.speedup is not None else ""),
                _x(None if r.efficiency is None else r.efficiency * 100, ".0f")
                + ("%" if r.efficiency is not None else ""),
                format_seconds(r.p50),
                format_seconds(r.p95),
                format_seconds(r.p99),
            )
            for r in rows
        ],
    )
    longest = max((r.wall for r in rows), default=0.0)
    labels = [f"-j {r.jobs}" + (f" +{r.stagger:g}s" if r.stagger else "") for r in rows]
    pad = max((len(label) for label in labels), default=0)
    bars = [
        f"{label.ljust(pad)} {'#' * max(1, round(BAR_WIDTH * r.wall / longest)) if longest else ''}"
        f" {format_seconds(r.wall)}"
        for label, r in zip(labels, rows, strict=True)
    ]
    lines = [table, "", "wall time:", *bars, ""]
    if chosen is None:
        lines.append("no setting passed: nothing recommended")
    else:
        stagger = f" --stagger {chosen.stagger:g}" if chosen.stagger else ""
        lines.append(
            f"recommended: -j {chosen.jobs}{stagger} (the smallest within "
            f"{(GOOD_ENOUGH - 1) * 100:.0f}% of the fastest); recorded for -j auto"
        )
    return "\n".join(lines)


def tune_json(rows: Sequence[TuneRow], chosen: TuneRow | None) -> str:
    """The rows and the recommendation as JSON."""
    data: dict[str, Any] = {
        "schema": 1,
        "settings": [asdict(r) for r in rows],
        "recommended": None if chosen is None else {"jobs": chosen.jobs, "stagger": chosen.stagger},
    }
    return json.dumps(data, indent=2) + "\n"


def selection_key(task_names: Sequence[str], command: str | None) -> str:
    """What a recommendation is for: the named tasks, or the ad-hoc command."""
    if task_names:
        return "tasks:" + ",".join(sorted(set(task_names)))
    return f"cmd:{command or ''}"


class TuneRecords:
    """`wtpar/cache/tune.json`: the recommended -j per selection of tasks."""

    def __init__(self, wtpar_dir: str) -> None:
        self.path = os.path.join(wtpar_dir, "cache", "tune.json")

    def record(self, key: str, jobs: int, stagger: float) -> None:
        """Remember the recommendation for `key`, under the file's lock."""

        def change(data: Any) -> dict[str, Any]:
            best = data.get("best") if isinstance(data, dict) else None
            best = dict(best) if isinstance(best, dict) else {}
            best[key] = {"jobs": jobs, "stagger": stagger, "when": time.time()}
            return {"schema": 1, "best": best}

        update_json(self.path, change, {})

    def best(self, key: str) -> int | None:
        """The recommended -j for `key`, if `wtpar tune` recorded a valid one."""
        data = read_json(self.path, {})
        best = data.get("best") if isinstance(data, dict) else None
        entry = best.get(key) if isinstance(best, dict) else None
        jobs = entry.get("jobs") if isinstance(entry, dict) else None
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            return None
        return jobs
