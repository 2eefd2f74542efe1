"""The dashboard shows each worktree's ports and services, and starts (u) and stops (U)
the selected worktree's services: Pilot against real servers on 127.0.0.1."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, cell, rows_read, until
from tests.test_devservices import alive
from wtpar.services import Services
from wtpar.tui.app import make_app

HTTP = f"{sys.executable} -m http.server $WTPAR_PORT_WEB --bind 127.0.0.1"


async def test_u_starts_and_shift_u_stops_the_selected_worktrees_services(
    repo: Path, wtpar: Invoke, stop_services_after: None
) -> None:
    (repo / "wtpar.toml").write_text(
        f'[env]\nports = ["web"]\n[services.web]\ncmd = "{HTTP}"\nready = "web"\n'
    )
    assert wtpar("spawn", "alpha", "beta").exit_code == 0
    svc = Services.from_cwd(repo)
    port = svc.worktree_env("alpha")["WTPAR_PORT_WEB"]
    app = make_app(svc, now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3, what="three rows")
        assert cell(app, "alpha", "ports") == f"web:{port}"
        assert cell(app, "alpha", "services") == "-"
        shown = {
            b.key_display: b.description
            for _, b, *_ in app.screen.active_bindings.values()
            if b.show
        }
        assert shown["u/U"] == "Svc"  # one footer entry for start (u) and stop (U)
        app.table.move_cursor(row=1)
        assert app.selected_branch() == "alpha"
        await pilot.press("u")
        await until(pilot, lambda: cell(app, "alpha", "services") == "web:running", 30)
        assert cell(app, "beta", "services") == "-"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
        (status,) = svc.service_statuses(["alpha"])
        await pilot.press("U")
        await until(pilot, lambda: cell(app, "alpha", "services") == "-", 30, "stopped")
        assert not alive(status.record.pid)


async def test_u_without_services_configured_says_how(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "alpha").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        app.table.move_cursor(row=1)
        await pilot.press("u")
        await until(
            pilot,
            lambda: any("[services.NAME]" in str(n.message) for n in app._notifications),
            what="the hint",
        )
        assert "ports" not in app.table.columns
