"""The check report as people and programs read it: table cells, the terminal text, the
markdown for a pull request, and the JSON (schema 1). Plain text only: no UI library.

Reasons come worded from reasons.py; this module lays them out.
"""

from __future__ import annotations

from typing import Any

from wtpar.check.facts import BranchCheck, CheckReport
from wtpar.check.model import CheckFact, CheckState, UpstreamFacts, UpstreamState
from wtpar.check.reasons import order_step_reason
from wtpar.check.rules import is_integrated
from wtpar.model import StatusCounts
from wtpar.text import aligned_table, plural

JSON_SCHEMA = 1
MAX_PARTNERS = 3  # conflict partners named in a table cell; the rest are "+N"


def dirty_summary(counts: StatusCounts | None, unread: bool = False) -> str:
    """`2 modified, 1 untracked`, `clean`, `?` when git would not tell, or `-` without a
    worktree."""
    if unread:
        return "?"
    if counts is None:
        return "-"
    return counts.words()


def pushed_summary(up: UpstreamFacts) -> str:
    """`yes`, `3 unpushed`, `no upstream`, `gone`, ..."""
    state = up.state
    if state is UpstreamState.NONE:
        return "no upstream"
    if state is UpstreamState.GONE:
        return "upstream gone"
    if state is UpstreamState.IN_SYNC:
        return "yes"
    parts = []
    if up.ahead:
        parts.append(f"{up.ahead} unpushed")
    if up.behind:
        parts.append(f"{up.behind} to pull")
    return ", ".join(parts)


def checks_summary(checks: tuple[CheckFact, ...]) -> str:
    """`2/2 passed`, `test failed`, `lint missing`, or `-` when none are configured."""
    if not checks:
        return "-"
    bad = [c for c in checks if c.state is not CheckState.PASSED]
    if not bad:
        return f"{len(checks)}/{len(checks)} passed"
    return ", ".join(f"{c.task} {c.state.value}" for c in bad)


# -- cells -----------------------------------------------------------------------------------


def _conflicts_cell(report: CheckReport, b: BranchCheck) -> str:
    parts = []
    merge = b.facts.merge
    if not is_integrated(b.facts) and not merge.clean:
        parts.append(report.base if not merge.error else "?")
    parts += report.matrix.partners(b.branch)
    if len(parts) > MAX_PARTNERS:
        parts = [*parts[:MAX_PARTNERS], f"+{len(parts) - MAX_PARTNERS}"]
    return ", ".join(parts) or "-"


def _row(report: CheckReport, b: BranchCheck) -> list[str]:
    return [
        b.branch,
        b.readiness.verdict.value,
        str(b.facts.behind),
        _conflicts_cell(report, b),
        dirty_summary(b.facts.dirty, b.facts.status_unread),
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
            note = "" if step.clean else f"  {order_step_reason(step).message}"
            lines.append(f"  {i}. {step.branch}{note}")
    return "\n".join(lines)


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
            note = "" if step.clean else f" — {order_step_reason(step).message}"
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
