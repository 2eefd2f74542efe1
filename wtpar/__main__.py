"""Entry point for `python -m wtpar`."""

from wtpar.cli import main

if __name__ == "__main__":
    main()
