"""The core never imports a UI library, and the fast commands never load the dashboard."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import wtpar
from tests.conftest import ROOT, Invoke, modules_after_cli

UI_MODULES = ("textual", "rich", "click")
CORE = sorted(
    m.name
    for m in pkgutil.walk_packages(wtpar.__path__, "wtpar.")
    if not m.name.startswith(("wtpar.cli", "wtpar.tui")) and m.name != "wtpar.__main__"
)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_every_module_is_under_an_import_contract() -> None:
    """A new base module or package must be named in pyproject's import-linter contracts."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named = {
        m.strip()
        for c in contracts["contracts"]
        for entry in (*c.get("source_modules", ()), *c.get("layers", ()))
        for m in entry.split("|")
    }
    top = {
        f"wtpar.{m.name}"
        for m in pkgutil.iter_modules(wtpar.__path__)
        if m.name not in ("__main__",)
    }
    assert sorted(top - named) == []


def test_core_module_list_is_not_empty() -> None:
    assert "wtpar.worktrees" in CORE and "wtpar.git" in CORE


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_ui_library(module: str) -> None:
    loaded = _modules_after(f"import {module}")
    leaked = [m for m in UI_MODULES if m in loaded]
    assert leaked == [], f"{module} pulls in {leaked}"


@pytest.mark.parametrize(
    "command", ["list", "spawn", "remove", "prune", "path", "run", "exec", "check"]
)
def test_fast_commands_do_not_import_textual(command: str) -> None:
    code = (
        "from wtpar.cli import cli\n"
        "import click\n"
        f"cli.get_command(click.Context(cli), {command!r})\n"
    )
    assert "textual" not in _modules_after(code)


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--json"],
        ["run", "-j", "2", "--output", "quiet", "--", "echo", "hi"],
        ["check", "--no-run", "--json"],
    ],
)
def test_list_run_and_check_run_without_importing_textual(
    repo: Path, wtpar: Invoke, argv: list[str]
) -> None:
    assert wtpar("spawn", "feature").exit_code == 0
    code, _, loaded = modules_after_cli(argv, repo)
    assert code in (0, 1)
    leaked = {"textual", "rich", "distributed"} & loaded
    assert leaked == set(), f"{argv[0]} imported {sorted(leaked)}"
