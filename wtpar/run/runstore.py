"""Where runs are kept: `wtpar/runs/<run-id>/<branch>/<task>.log`, `report.json` beside the
logs, and `wtpar/runs/last` naming the latest run (for `wtpar run --failed`)."""

from __future__ import annotations

import os
import re
import time

from wtpar.model import RunReport, TaskKey
from wtpar.names import unique_component
from wtpar.notices import warn
from wtpar.state import atomic_write_text
from wtpar.stored import Corrupt, load_json

# A run id is one folder name under runs/: never a path that could lead out of it.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def new_run_id(now: float | None = None) -> str:
    """A run id that sorts by start time: `20261123-142501-3f9a`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{os.urandom(2).hex()}"  # os.urandom, as secrets.token_hex, minus hmac


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
        from wtpar.run.report import report_json  # loaded while the tasks run (cleanliness.py)

        path = self.report_path(report.run_id)
        atomic_write_text(path, report_json(report))
        last = os.path.join(self.root, "last")
        try:
            # Not durable: lost in a crash, `last_run_id` falls back to the newest report.
            atomic_write_text(last, report.run_id + "\n", durable=False)
        except OSError as exc:
            # The run is over and its report written: only `--failed` will miss it.
            warn(
                f"{last}: cannot write it ({exc.strerror or exc}); --failed will not see this run",
                about=last,
            )
        return path

    def last_run_id(self) -> str | None:
        """The id of the latest run, if any: the one `runs/last` names, or when that file is
        damaged or names a run that is not there, the newest run in runs/ (warned)."""
        path = os.path.join(self.root, "last")
        try:
            with open(path, "rb") as fh:
                raw = fh.read(256)
        except FileNotFoundError:
            return None
        except OSError as exc:
            problem = f"cannot read it ({exc.strerror or exc})"
        else:
            text = raw.decode("utf-8", "replace").strip()
            if _RUN_ID.fullmatch(text) and os.path.exists(self.report_path(text)):
                return text
            what = "is not a run id" if not _RUN_ID.fullmatch(text) else "names no run in runs/"
            problem = f"{text[:40]!r} {what}"
        newest = self._newest_run_id()
        instead = f"using the newest run, {newest}" if newest else "ignoring it"
        warn(f"{path}: {problem}; {instead}", about=path)
        return newest

    def _newest_run_id(self) -> str | None:
        # Run ids sort by their start time (new_run_id); only runs with a report count.
        try:
            names = os.listdir(self.root)
        except OSError:
            return None
        runs = [n for n in names if _RUN_ID.fullmatch(n) and os.path.isfile(self.report_path(n))]
        return max(runs, default=None)

    def load(self, run_id: str) -> RunReport | None:
        """The report of a run, or None when it is missing or damaged (warned)."""
        from wtpar.run.report import report_from_dict

        path = self.report_path(run_id)
        try:
            data = load_json(path)
            return None if data is None else report_from_dict(data)
        except Corrupt as exc:
            warn(f"{path}: {exc.problem}; ignoring this run's report", about=path)
            return None

    def last_report(self) -> RunReport | None:
        """The report of the latest run, if any."""
        run_id = self.last_run_id()
        return self.load(run_id) if run_id else None
