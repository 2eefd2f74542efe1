"""Cold `wtpar check` (no cache): what it writes to disk and how many git processes it
starts (counts stand for the time)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from fixtures.recipes import git, make_branch
from wtpar.check.merging import MergeSimulator
from wtpar.git import Git, discover
from wtpar.git.merges import memory_folder


def _files_under(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


@pytest.mark.skipif(memory_folder() is None, reason="no in-memory folder (/dev/shm) here")
def test_a_check_writes_its_merged_trees_to_memory_not_to_disk(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = tmp_path / "disk-tmp"
    disk.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    heads = {
        name: make_branch(repo, name, {"src/app.py": f"{name}\n", f"src/{name}.py": "x\n"})
        for name in ("a", "b", "c")
    }
    base = git(repo, "rev-parse", "main").strip()
    with MergeSimulator(Git(discover(repo))) as sim:
        matrix = sim.matrix(base, heads)
        sim.base_results(base, heads)
        quarantine = sim.env["GIT_OBJECT_DIRECTORY"]
        written = _files_under(Path(quarantine))
        on_disk = _files_under(disk)
    assert len(matrix.conflicts) == 3
    # Every merge wrote its trees (and conflicted files) as loose objects: before, each of
    # them was a file created in the disk's temporary folder.
    assert written > 0
    assert on_disk == 0
    assert quarantine.startswith(str(memory_folder()))
    assert not os.path.exists(quarantine)


def test_no_memory_folder_when_the_path_is_missing(tmp_path: Path) -> None:
    assert memory_folder(str(tmp_path / "missing")) is None
