"""Which task's output the log pane shows: a pure rule, unit-tested on its own.

The selected branch's running task, else its last one; `[`/`]` step through its tasks,
and a task picked that way stays until the selection moves to another row. The rule looks
at the tasks once per redraw: a quick task may be queued, run and end between two looks, so
when none runs, what began since the last look counts as running, or the pane would stay on
the task it showed before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wtpar.model import TaskKey


@dataclass(frozen=True)
class LogChoice:
    """The task to show (None: the branch has no task yet) and whether the user pinned it."""

    key: TaskKey | None
    pinned: bool


def choose_log_task(
    keys: Sequence[TaskKey],
    running: Sequence[TaskKey],
    current: TaskKey | None,
    pinned: bool,
    step: int = 0,
    began: Sequence[TaskKey] = (),
) -> LogChoice:
    """The branch's task to follow.

    `keys`: the branch's task instances in column order; `running`: those not finished;
    `current`: what the pane shows now; `pinned`: the user chose it with `[`/`]`;
    `step`: -1/+1 for `[`/`]`, 0 to follow the work; `began`: those queued or started
    since the last look, in that order (when none runs, they count as running, latest first).
    """
    if not keys:
        return LogChoice(None, False)
    if not running:
        running = [k for k in reversed(began) if k in keys]
    here = current if current in keys else None
    if step:
        chosen = keys[(keys.index(here) + step) % len(keys)] if here else keys[0]
        return LogChoice(chosen, True)
    keep = here is not None and (pinned or here in running or not running)
    if keep and here is not None:
        return LogChoice(here, pinned)
    return LogChoice(running[0] if running else keys[-1], False)
