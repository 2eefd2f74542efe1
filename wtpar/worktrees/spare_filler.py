"""The background process `wtpar pool fill` starts: it checks out and sets up the spares it
is given (`python -m wtpar.worktrees.spare_filler ROOT NAME...`), so the command returns at
once. Its output goes to `<common-dir>/wtpar/logs/spares.log`; outcomes go to the records."""

from __future__ import annotations

import sys

from wtpar.config import load_config
from wtpar.git import discover
from wtpar.worktrees.warm_pool import fill_spares


def main(argv: list[str]) -> int:
    """Fill the named spares of the repository at argv[0]."""
    paths = discover(argv[0])
    fill_spares(paths, load_config(paths.root), argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
