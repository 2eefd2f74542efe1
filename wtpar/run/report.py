"""A run's results as text: the summary table and statistics, report.json, CSV and JUnit XML.

Pure functions from a RunReport to strings (and back from report.json), so the CLI, the
dashboard and CI files all show the same numbers. Nothing here prints or touches files.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wtpar.model import RunReport, RunStatus, SkipKind, TaskKey, TaskRun
from wtpar.run.shards import group_runs, shard_name
from wtpar.stored import Corrupt, Fields
from wtpar.text import aligned_table, format_seconds, plural

SCHEMA = 1
_FAILED = (RunStatus.FAILED, RunStatus.TIMED_OUT)


@dataclass(frozen=True)
class RunStats:
    """The numbers under the summary table."""

    wall: float
    task_time: float
    ran: int
    speedup: float | None
    throughput: float | None
    p50: float | None
    p95: float | None
    p99: float | None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least pct% of values <= it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def run_stats(report: RunReport) -> RunStats:
    """Wall time, summed task time, speedup, throughput and duration percentiles."""
    durations = [t.duration for t in report.tasks if t.duration is not None]
    wall = max(report.ended - report.started, 0.0)
    total = sum(durations)
    return RunStats(
        wall=wall,
        task_time=total,
        ran=len(durations),
        speedup=total / wall if wall > 0 and durations else None,
        throughput=len(durations) / wall if wall > 0 and durations else None,
        p50=percentile(durations, 50),
        p95=percentile(durations, 95),
        p99=percentile(durations, 99),
    )


def counts_line(report: RunReport) -> str:
    """`3 tasks: 2 ok, 1 skipped (1 not applicable)`, with ` (interrupted)` when the run was."""
    counts = ", ".join(
        f"{n} {status.value}" + (_skip_kinds(report) if status is RunStatus.SKIPPED else "")
        for status in RunStatus
        if (n := sum(1 for t in report.tasks if t.status is status))
    )
    tail = " (interrupted)" if report.interrupted else ""
    return f"{plural(len(report.tasks), 'task')}: {counts or 'none'}{tail}"


def summary(report: RunReport) -> str:
    """The table (branch x task: status, exit code, duration, attempts, note, and the worker
    on a Dask cluster) and the stats."""
    headers: tuple[str, ...] = ("BRANCH", "TASK", "STATUS", "EXIT", "DURATION", "ATTEMPTS", "NOTE")
    rows: list[tuple[str, ...]] = []
    workers: list[str] = []  # the Dask worker of each row
    for group in group_runs(report.tasks):
        if group.sharded:
            # The task once, then its shards inside it.
            started, ended = group.started, group.ended
            span = None if started is None or ended is None else ended - started
            attempts = str(sum(r.attempts for r in group.runs))
            rows.append(
                (group.branch, group.task, group.status.value, "-", format_seconds(span),
                 attempts, group.counts())
            )  # fmt: skip
            workers.append("")
        for t in group.runs:
            workers.append(t.worker or "")
            rows.append(
                (
                    "" if group.sharded else t.key.branch,
                    f"  #{t.key.shard}" if group.sharded else t.key.task,
                    t.status.value,
                    "-" if t.exit_code is None else str(t.exit_code),
                    format_seconds(t.duration),
                    str(t.attempts),
                    t.reason or "",
                )
            )
    if any(workers):
        headers += ("WORKER",)
        rows = [(*row, worker) for row, worker in zip(rows, workers, strict=True)]
    lines = [aligned_table(headers, rows)]
    stats = run_stats(report)
    lines.append("")
    lines.append(counts_line(report))
    speed = "-" if stats.speedup is None else f"{stats.speedup:.2f}x"
    rate = "-" if stats.throughput is None else f"{stats.throughput:.2f} tasks/s"
    # On a cluster the slots are the workers' threads, not this machine's -j.
    hosts = len({w for w in workers if w})
    where = f"on {plural(hosts, 'worker')}" if hosts else f"at -j {report.jobs}"
    lines.append(
        f"wall {format_seconds(stats.wall)}, task time {format_seconds(stats.task_time)}, "
        f"speedup {speed} {where}, throughput {rate}"
    )
    lines.append(
        f"durations (nearest rank, n={stats.ran}): p50 {format_seconds(stats.p50)}, "
        f"p95 {format_seconds(stats.p95)}, p99 {format_seconds(stats.p99)}"
    )
    if report.jobs_note:
        lines.append(report.jobs_note)
    return "\n".join(lines)


def _skip_kinds(report: RunReport) -> str:
    """` (2 not applicable, 1 unchanged)`: the skipped tasks by kind."""
    kinds = [t.skip for t in report.tasks if t.status is RunStatus.SKIPPED]
    counts = [f"{n} {k.value}" for k in SkipKind if (n := kinds.count(k))]
    return f" ({', '.join(counts)})" if counts else ""


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")


def report_to_dict(report: RunReport) -> dict[str, Any]:
    """report.json's content (schema 1): the run and every task instance."""
    stats = run_stats(report)
    return {
        "schema": SCHEMA,
        "run_id": report.run_id,
        "started": report.started,
        "ended": report.ended,
        "started_at": _iso(report.started),
        "ended_at": _iso(report.ended),
        "jobs": report.jobs,
        "interrupted": report.interrupted,
        "signal": report.signal,
        "jobs_note": report.jobs_note,
        "ok": report.ok,
        "stats": {
            "wall": stats.wall,
            "task_time": stats.task_time,
            "tasks_run": stats.ran,
            "speedup": stats.speedup,
            "throughput": stats.throughput,
            "p50": stats.p50,
            "p95": stats.p95,
            "p99": stats.p99,
        },
        "groups": [
            {
                "branch": g.branch,
                "task": g.task,
                "status": g.status.value,
                "shards": [r.key.shard for r in g.runs] if g.sharded else [],
            }
            for g in group_runs(report.tasks)
        ],
        "tasks": [
            {
                "branch": t.key.branch,
                "task": t.key.task,
                "shard": t.key.shard,
                "command": t.command,
                "worktree": t.worktree,
                "status": t.status.value,
                "exit_code": t.exit_code,
                "started": t.started,
                "ended": t.ended,
                "duration": t.duration,
                "attempts": t.attempts,
                "log": t.log_path,
                "reason": t.reason,
                "skip": t.skip.value if t.skip else None,
                "worker": t.worker,
                "infra_retries": t.infra_retries,
            }
            for t in report.tasks
        ],
    }


def report_json(report: RunReport) -> str:
    """report.json as text: indented, with one line per group and per task."""
    data = report_to_dict(report)
    # The json module indents through its pure-Python encoder: for thousands of tasks,
    # seconds and a list of millions of small strings. Each item is encoded whole instead.
    lists = {key: data.pop(key) for key in ("groups", "tasks")}
    text = json.dumps(data, indent=2).removesuffix("\n}")
    for key, items in lists.items():
        lines = ",\n".join(f"    {json.dumps(item)}" for item in items)
        text += f',\n  "{key}": [\n{lines}\n  ]' if items else f',\n  "{key}": []'
    return text + "\n}\n"


def report_from_dict(data: Any) -> RunReport:
    """The typed loader of report.json: a RunReport, or Corrupt naming what is wrong."""
    doc = Fields(data)
    doc.schema(SCHEMA)
    tasks = tuple(
        _task_from_dict(Fields(t, f"tasks[{i}]")) for i, t in enumerate(doc.items("tasks"))
    )
    return RunReport(
        run_id=doc.text("run_id"),
        started=doc.number("started"),
        ended=doc.number("ended"),
        jobs=doc.integer("jobs"),
        tasks=tasks,
        interrupted=doc.flag("interrupted", False),
        signal=doc.opt_text("signal"),
        jobs_note=doc.opt_text("jobs_note"),
    )


def _task_from_dict(t: Fields) -> TaskRun:
    text = t.text("status")
    skip_text = t.opt_text("skip")
    try:
        status = RunStatus(text)
        skip = SkipKind(skip_text) if skip_text is not None else None
    except ValueError:
        raise Corrupt(f"{t.where}: {text!r} / {skip_text!r} is not a task outcome") from None
    shard = t.opt_integer("shard") or 0
    if shard < 0:
        raise Corrupt(f"{t.where}.shard should be 0 or more")
    return TaskRun(
        key=TaskKey(t.text("branch"), t.text("task"), shard),
        command=t.text("command"),
        worktree=t.text("worktree"),
        status=status,
        exit_code=t.opt_integer("exit_code"),
        started=t.opt_number("started"),
        ended=t.opt_number("ended"),
        attempts=t.opt_integer("attempts") or 0,
        log_path=t.opt_text("log"),
        reason=t.opt_text("reason"),
        skip=skip,
        worker=t.opt_text("worker"),
        infra_retries=t.opt_integer("infra_retries") or 0,
    )


def report_csv(report: RunReport) -> str:
    """One CSV row per task instance, with a header row."""
    import csv  # here: only `--csv` writes one

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "branch",
            "task",
            "status",
            "exit_code",
            "duration",
            "attempts",
            "started",
            "ended",
            "command",
            "worktree",
            "log",
            "reason",
            "worker",
            "infra_retries",
            "shard",
        ]
    )
    for t in report.tasks:
        writer.writerow(
            [
                t.key.branch,
                t.key.task,
                t.status.value,
                "" if t.exit_code is None else t.exit_code,
                "" if t.duration is None else f"{t.duration:.3f}",
                t.attempts,
                _iso(t.started) or "",
                _iso(t.ended) or "",
                t.command,
                t.worktree,
                t.log_path or "",
                t.reason or "",
                t.worker or "",
                t.infra_retries,
                t.key.shard or "",
            ]
        )
    return buffer.getvalue()


def report_junit(report: RunReport, outputs: Mapping[TaskKey, str] | None = None) -> str:
    """JUnit XML: one test suite per branch, one test case per task; `outputs` (optional,
    e.g. the tail of each failed task's log) go into <system-out>."""
    import xml.etree.ElementTree as ET  # here: only `--junit` writes one

    root = ET.Element("testsuites", name=f"wtpar run {report.run_id}")
    by_branch: dict[str, list[TaskRun]] = {}
    for t in report.tasks:
        by_branch.setdefault(t.key.branch, []).append(t)
    for branch, runs in by_branch.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=branch,
            tests=str(len(runs)),
            failures=str(sum(1 for t in runs if t.status in _FAILED)),
            errors="0",
            skipped=str(
                sum(1 for t in runs if t.status in (RunStatus.SKIPPED, RunStatus.CANCELLED))
            ),
            time=f"{sum(t.duration or 0.0 for t in runs):.3f}",
        )
        for t in runs:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=branch,
                name=shard_name(t.key),
                time=f"{t.duration or 0.0:.3f}",
            )
            if t.worker:
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", name="worker", value=t.worker)
                if t.infra_retries:
                    ET.SubElement(
                        props, "property", name="infra_retries", value=str(t.infra_retries)
                    )
            if t.status in _FAILED:
                what = (
                    "timed out" if t.status is RunStatus.TIMED_OUT else f"exit code {t.exit_code}"
                )
                failure = ET.SubElement(case, "failure", message=f"{t.command}: {what}")
                failure.text = f"{what}; log: {t.log_path}" if t.log_path else what
            elif t.status in (RunStatus.SKIPPED, RunStatus.CANCELLED):
                ET.SubElement(
                    case, "skipped", message=f"{t.status.value}: {t.reason or ''}".strip()
                )
            text = (outputs or {}).get(t.key)
            if text:
                ET.SubElement(case, "system-out").text = _xml_safe(text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_safe(text: str) -> str:
    # XML 1.0 cannot carry most control characters, which test output sometimes contains.
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 32 else "\ufffd" for ch in text)
