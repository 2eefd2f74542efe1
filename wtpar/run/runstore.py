"""Where runs are kept: `wtpar/runs/<run-id>/<branch>/<task>.log`, `report.json` beside the
logs, and `wtpar/runs/last` naming the latest run (for `wtpar run --failed`)."""

from __future__ import annotations

import json
import os
import secrets
import time

from wtpar.model import RunReport, TaskKey
from wtpar.names import unique_component
from wtpar.run.report import report_from_dict, report_json
from wtpar.state import atomic_write_text


def new_run_id(now: float | None = None) -> str:
    """A run id that sorts by start time: `20261123-142501-3f9a`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


class RunStore:
    """The runs of one repository."""

    def __init__(self, wtpar_dir: str) -> None:
        self.root = os.path.join(wtpar_dir, "runs")

    def run_dir(self, run_id: str) -> str:
        """The folder of one run."""
        return os.path.join(self.root, run_id)

    def log_path(self, run_id: str, key: TaskKey) -> str:
        """The log file of one task instance."""
        name = f"{key.task}.{key.shard}" if key.shard else key.task
        return os.path.join(self.run_dir(run_id), unique_component(key.branch), f"{name}.log")

    def report_path(self, run_id: str) -> str:
        """report.json of one run."""
        return os.path.join(self.run_dir(run_id), "report.json")

    def save(self, report: RunReport) -> str:
        """Write report.json and make this run the last one; return report.json's path."""
        path = self.report_path(report.run_id)
        atomic_write_text(path, report_json(report))
        atomic_write_text(os.path.join(self.root, "last"), report.run_id + "\n")
        return path

    def last_run_id(self) -> str | None:
        """The id of the latest run, if any."""
        try:
            with open(os.path.join(self.root, "last"), encoding="utf-8") as fh:
                return fh.read().strip() or None
        except FileNotFoundError:
            return None

    def load(self, run_id: str) -> RunReport | None:
        """The report of a run, or None when it is missing or unreadable."""
        try:
            with open(self.report_path(run_id), encoding="utf-8") as fh:
                return report_from_dict(json.load(fh))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def last_report(self) -> RunReport | None:
        """The report of the latest run, if any."""
        run_id = self.last_run_id()
        return self.load(run_id) if run_id else None
