"""Entry point for `python -m wtpar` and the `wtpar` command.

The cyclic garbage collector is off while wtpar starts: importing click, the command and
what it uses allocates some hundred thousand objects that live as long as the process, and
the collections they set off find nothing to free (before `wtpar run` started its first
task, 42 of them cost about 5 ms). The CLI turns it on again once the command is set up
(its module loaded; `run` and `exec`: their tasks about to start), with everything
allocated so far frozen (cli.start_up_over).
"""

import gc
import sys


def main() -> None:
    """Run the CLI with the collector off until the command's module is loaded."""
    gc.disable()
    try:
        from wtpar.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        # Ctrl-C while wtpar starts, before the command handles it: no traceback.
        sys.stderr.write("\nwtpar: interrupted\n")
        raise SystemExit(130) from None
    finally:
        # Also when no command was loaded (`--help`, a usage error). Frozen first: turned on
        # over a young generation of everything allocated, the collector would walk it all.
        if not gc.isenabled():
            gc.freeze()
            gc.enable()


if __name__ == "__main__":
    main()
