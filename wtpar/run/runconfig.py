"""`[run]` in wtpar.toml: the defaults of `wtpar run`, checked, with errors at file:line.

[run]
jobs = "auto"              # or a number; -j on the command line wins
max_memory_percent = 80    # no new task starts while used memory is above this
output = "grouped"         # stream | grouped | failures | quiet; --output wins
backend = "dask"           # where tasks run (local by default; --backend wins)
"""

from __future__ import annotations

from dataclasses import dataclass

from wtpar.config import Config

_KNOWN = ("jobs", "max_memory_percent", "backend", "output")
BACKENDS = ("local", "dask")
"""Where tasks can run (`--backend`, `[run] backend`)."""
OUTPUT_MODES = ("stream", "grouped", "failures", "quiet")
"""How `wtpar run` shows output (`--output`, `[run] output`)."""


@dataclass(frozen=True)
class RunSettings:
    """The `[run]` table."""

    jobs: int | None = None
    auto_jobs: bool = False
    max_memory_percent: float | None = None
    output: str | None = None


def parse_run_settings(config: Config) -> RunSettings:
    """`[run]` as RunSettings (ConfigError naming the line on a bad value)."""
    table = config.run
    for key in table:
        if key not in _KNOWN:
            raise config.error(
                f"unknown setting run.{key} (known: {', '.join(_KNOWN)})", f"{key} ", f"{key}="
            )
    jobs = table.get("jobs")
    auto = jobs == "auto"
    if (
        jobs is not None
        and not auto
        and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1)
    ):
        raise config.error('run.jobs must be a whole number, 1 or more, or "auto"', "jobs")
    limit = table.get("max_memory_percent")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= 100
    ):
        raise config.error(
            "run.max_memory_percent must be a number above 0, at most 100", "max_memory_percent"
        )
    output = table.get("output")
    if output is not None and output not in OUTPUT_MODES:
        raise config.error(f"run.output must be one of {', '.join(OUTPUT_MODES)}", "output")
    return RunSettings(
        jobs=None if auto or jobs is None else int(jobs),
        auto_jobs=auto,
        max_memory_percent=None if limit is None else float(limit),
        output=output,
    )


def backend_of(config: Config, chosen: str | None) -> str:
    """`--backend` if given, else `[run] backend`, else "local"."""
    if chosen is not None:
        return chosen
    value = config.run.get("backend", "local")
    if value not in BACKENDS:
        raise config.error(f"run.backend must be one of {', '.join(BACKENDS)}", "backend")
    return str(value)
