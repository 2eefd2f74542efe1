"""One attempt of a task instance as the executor gets it: the command, the worktree, and
the environment (wtpar's, the worktree's allocated variables, the task's `env`, then
`WTPAR_*`)."""

from __future__ import annotations

from collections.abc import Mapping

from wtpar.run.executor import Attempt
from wtpar.run.plan import TaskInstance
from wtpar.run.shards import shard_env


def make_attempt(
    base_env: Mapping[str, str],
    run_id: str,
    inst: TaskInstance,
    number: int,
    keep_fd: int | None = None,
) -> Attempt:
    """Attempt `number` of `inst`, in run `run_id`."""
    return Attempt(
        key=inst.key,
        number=number,
        command=inst.command,
        cwd=inst.worktree.path,
        env=attempt_env(base_env, run_id, inst, number),
        timeout=inst.spec.timeout,
        branch=inst.worktree.branch,
        head=inst.worktree.head,
        locks=inst.locks,
        resources=dict(inst.spec.resources),
        keep_fd=keep_fd,
    )


def attempt_env(
    base_env: Mapping[str, str], run_id: str, inst: TaskInstance, number: int
) -> dict[str, str]:
    """The environment of one attempt."""
    env = dict(base_env)
    env.update(inst.worktree.env)
    env.update(inst.spec.env)
    env.update(
        WTPAR_BRANCH=inst.worktree.branch,
        WTPAR_TASK=inst.key.task,
        WTPAR_WORKTREE=inst.worktree.path,
        WTPAR_RUN_ID=run_id,
        WTPAR_ATTEMPT=str(number),
    )
    env.update(shard_env(inst.spec, inst.key.shard))
    return env
