"""The ``gazelab`` command: thin verbs over the library.

Each command parses its options, calls one library function and prints the result. Problems
the user can cause (a bad file, a bad option) are printed as one line starting with
``Error:`` and the command exits with status 1, writing no output file.

The group and its error handling live in :mod:`gazelab.cli._base`; each module beside it adds
the commands of one stage (a new command is a new module imported here).
"""

from __future__ import annotations

import sys

from gazelab.cli import analysis, card, datasets, demo, models, plot, quality, recordings, sessions  # noqa: F401  (registers commands)
from gazelab.cli._base import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``gazelab`` command."""
    cli.main(args=argv, prog_name="gazelab", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
