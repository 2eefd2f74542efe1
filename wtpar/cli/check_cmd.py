"""`wtpar check`: is each branch ready to merge, and which branches conflict with each other."""

from __future__ import annotations

from typing import Any

import click

from wtpar.check.facts import BranchCheck, CheckReport
from wtpar.check.merging import MergeStep
from wtpar.check.rules import checks_summary, dirty_summary, is_integrated, pushed_summary
from wtpar.cli._common import complete_any_branch, echo_json, services_from
from wtpar.model import RunEvent, TaskFinished, TaskStarted
from wtpar.text import aligned_table, plural

JSON_SCHEMA = 1


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_any_branch)
@click.option("--base", metavar="REF", help="Merge target (default: [check] base, else list's).")
@click.option("--fetch", is_flag=True, help="Fetch the base's remote first (under the repo lock).")
@click.option(
    "--run/--no-run",
    default=True,
    show_default=True,
    help="Run the [check] tasks that have no result at HEAD; with --no-run they block.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema 1).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "matrix"]),
    default="table",
    show_default=True,
    help="table: for the terminal; markdown: to paste into a pull request; matrix: only "
    "the conflicts between branches.",
)
@click.option("--matrix", "show_matrix", is_flag=True, help="Add the branch x branch grid.")
@click.pass_context
def check(
    ctx: click.Context,
    branches: tuple[str, ...],
    base: str | None,
    fetch: bool,
    run: bool,
    as_json: bool,
    fmt: str,
    show_matrix: bool,
) -> None:
    """Tell, for each BRANCH, whether it is ready to merge into the base, and why not.

    A branch is blocked by: conflicts with the base (simulated with `git merge-tree`, no
    worktree is touched), uncommitted or untracked changes, a merge or rebase in progress,
    or a configured check task (`[check] tasks`) that did not pass at its HEAD with a clean
    tree. Being behind the base and unpushed commits are warnings (blocks with
    `require_up_to_date` / `require_upstream`). Branches already integrated are reported so
    they can be pruned. Below the table: the pairs of branches that conflict with each
    other, and a merge order that lands the ready branches one after another.

    Without BRANCH, every worktree's branch except the main one; a BRANCH may be any local
    branch. Exit 0 only if every branch is ready, 1 otherwise, 2 for bad input.

    \b
      wtpar check                        # every worktree, runs missing checks
      wtpar check feature-a --no-run     # judge on recorded results only
      wtpar check --fetch --base origin/main
      wtpar check --format markdown | gh pr comment 42 -F -
      wtpar check --json | jq '.branches[] | select(.verdict == "blocked")'
    """
    svc = services_from(ctx)
    report = svc.check(branches, base=base, fetch=fetch, run=run, on_event=_progress)
    for note in report.notes:
        click.echo(f"wtpar: {note}", err=True)
    if as_json:
        echo_json(report_json(report))
    elif not report.branches:
        click.echo("nothing to check: no worktree besides the main one (name a branch)")
    elif fmt == "markdown":
        click.echo(render_markdown(report))
    elif fmt == "matrix":
        click.echo(render_matrix(report))
    else:
        click.echo(render_text(report, show_matrix))
    ctx.exit(0 if report.ready else 1)


def _progress(event: RunEvent) -> None:
    if isinstance(event, TaskStarted) and event.attempt == 1:
        click.echo(f"wtpar: running {event.key}", err=True)
    elif isinstance(event, TaskFinished):
        run = event.run
        code = f" (exit {run.exit_code})" if run.exit_code not in (None, 0) else ""
        click.echo(f"wtpar: {run.key} {run.status.value}{code}", err=True)


# -- cells -----------------------------------------------------------------------------------


def _conflicts_cell(report: CheckReport, b: BranchCheck) -> str:
    parts = []
    merge = b.facts.merge
    if not is_integrated(b.facts) and not merge.clean:
        parts.append(report.base if not merge.error else "?")
    parts += report.matrix.partners(b.branch)
    return ", ".join(parts) or "-"


def _row(report: CheckReport, b: BranchCheck) -> list[str]:
    return [
        b.branch,
        b.readiness.verdict.value,
        str(b.facts.behind),
        _conflicts_cell(report, b),
        dirty_summary(b.facts.dirty),
        pushed_summary(b.facts.upstream),
        checks_summary(b.facts.checks),
    ]


HEADERS = ["branch", "verdict", "behind", "conflicts", "dirty", "pushed", "checks"]


# -- text ------------------------------------------------------------------------------------


def render_text(report: CheckReport, show_matrix: bool = False) -> str:
    """The terminal report: table, reasons, conflicts between branches, merge order."""
    lines = [
        f"against {report.base} ({report.base_sha[:10]})",
        aligned_table(HEADERS, [_row(report, b) for b in report.branches]),
    ]
    with_reasons = sorted(
        (b for b in report.branches if b.readiness.reasons), key=lambda b: b.readiness.ready
    )
    for b in with_reasons:
        lines.append("")
        lines.append(f"{b.branch}: {b.readiness.verdict.value}")
        for r in b.readiness.reasons:
            lines.append(f"  {'✗' if r.blocking else '!'} {r.message}")
    lines += ["", _pairs_text(report)]
    if show_matrix:
        lines += ["", _grid(report)]
    if report.order.steps:
        lines += ["", "suggested merge order (ready branches, each onto the ones before):"]
        for i, step in enumerate(report.order.steps, 1):
            lines.append(
                f"  {i}. {step.branch}" + (f"  {_step_note(step)}" if not step.clean else "")
            )
    return "\n".join(lines)


def _step_note(step: MergeStep) -> str:
    files = ", ".join(step.files) or "no file listed"
    if step.combined:
        return f"conflicts once {', '.join(step.after)} have landed ({files})"
    return f"conflicts after {', '.join(step.after)} lands ({files}): rebase it then"


def _pairs_text(report: CheckReport) -> str:
    m = report.matrix
    stats = (
        f"{plural(m.pairs, 'pair')}: {m.disjoint} disjoint, {m.cached} cached, "
        f"{m.merged} merged ({m.method})"
    )
    if not m.conflicts:
        return f"conflicts between branches: none ({stats})"
    lines = [f"conflicts between branches ({stats}):"]
    for c in m.conflicts:
        lines.append(f"  {c.a} x {c.b}: {', '.join(c.files) or 'no file listed'}")
    return "\n".join(lines)


def _grid(report: CheckReport) -> str:
    names = list(report.matrix.branches)
    if not names:
        return "no branches to compare"
    headers = ["#", "branch", *(str(i) for i in range(1, len(names) + 1))]
    rows = []
    for i, a in enumerate(names, 1):
        cells = ["-" if a == b else ("X" if report.matrix.conflict(a, b) else ".") for b in names]
        rows.append([str(i), a, *cells])
    return aligned_table(headers, rows)


def render_matrix(report: CheckReport) -> str:
    """Only the conflicts between branches: the grid and the pairs."""
    return _grid(report) + "\n\n" + _pairs_text(report)


# -- markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: CheckReport) -> str:
    """A report to paste into a pull request."""
    ready = sum(b.readiness.ready for b in report.branches)
    out = [
        f"### Merge readiness against `{report.base}` (`{report.base_sha[:10]}`)",
        "",
        f"{ready} ready, {len(report.branches) - ready} blocked.",
        "",
        "| " + " | ".join(h.capitalize() for h in HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for b in report.branches:
        row = _row(report, b)
        row[0] = f"`{row[0]}`"
        row[1] = ("✅ " if b.readiness.ready else "❌ ") + row[1]
        out.append("| " + " | ".join(_md(c) for c in row) + " |")
    for b in report.branches:
        if not b.readiness.reasons:
            continue
        out += ["", f"**`{b.branch}`**: {b.readiness.verdict.value}"]
        out += [f"- {'❌' if r.blocking else '⚠️'} {r.message}" for r in b.readiness.reasons]
    out += ["", "#### Conflicts between branches", ""]
    if not report.matrix.conflicts:
        out.append("None.")
    for c in report.matrix.conflicts:
        files = ", ".join(f"`{f}`" for f in c.files) or "no file listed"
        out.append(f"- `{c.a}` × `{c.b}`: {files}")
    if report.order.steps:
        out += ["", "#### Suggested merge order", ""]
        for i, step in enumerate(report.order.steps, 1):
            note = "" if step.clean else f" — {_step_note(step)}"
            out.append(f"{i}. `{step.branch}`{note}")
    return "\n".join(out)


# -- json ------------------------------------------------------------------------------------


def report_json(report: CheckReport) -> dict[str, Any]:
    """The report as JSON-ready data (`schema` changes when a field changes meaning)."""
    m = report.matrix
    return {
        "schema": JSON_SCHEMA,
        "base": report.base,
        "base_sha": report.base_sha,
        "git_version": report.git_version,
        "ready": report.ready,
        "tasks": list(report.tasks),
        "ran": list(report.ran),
        "notes": list(report.notes),
        "branches": [_branch_json(b) for b in report.branches],
        "matrix": {
            "branches": list(m.branches),
            "pairs": m.pairs,
            "disjoint": m.disjoint,
            "cached": m.cached,
            "merged": m.merged,
            "method": m.method,
            "conflicts": [{"a": c.a, "b": c.b, "files": list(c.files)} for c in m.conflicts],
        },
        "merge_order": [
            {
                "branch": s.branch,
                "clean": s.clean,
                "files": list(s.files),
                "after": list(s.after),
                "combined": s.combined,
            }
            for s in report.order.steps
        ],
    }


def _branch_json(b: BranchCheck) -> dict[str, Any]:
    f = b.facts
    dirty = f.dirty
    return {
        "branch": b.branch,
        "head": b.head,
        "worktree": b.worktree,
        "verdict": b.readiness.verdict.value,
        "ahead": f.ahead,
        "behind": f.behind,
        "integrated": is_integrated(f),
        "merge": {"clean": f.merge.clean, "files": list(f.merge.files), "error": f.merge.error},
        "dirty": None
        if dirty is None
        else {
            "staged": dirty.staged,
            "modified": dirty.modified,
            "untracked": dirty.untracked,
            "conflicted": dirty.conflicted,
        },
        "upstream": {
            "name": f.upstream.name,
            "state": f.upstream.state.value,
            "ahead": f.upstream.ahead,
            "behind": f.upstream.behind,
        },
        "operation": f.operation,
        "checks": [{"task": c.task, "state": c.state.value, "detail": c.detail} for c in f.checks],
        "reasons": [
            {"code": r.code, "message": r.message, "blocking": r.blocking}
            for r in b.readiness.reasons
        ],
    }
