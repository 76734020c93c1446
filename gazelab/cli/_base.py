"""The ``gazelab`` group, its error handling and small helpers shared by the commands.

Each command parses its options, calls one library function and prints the result. Problems
the user can cause (a bad file, a bad option) are printed as one line starting with
``Error:`` and the command exits with status 1, writing no output file.
"""

from __future__ import annotations

import errno
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from gazelab import __version__
from gazelab.errors import GazelabError

__all__ = ["cli"]

_HELP = """gazelab: eye-tracking data from the lab to the model.

\b
Typical use:
  gazelab info RECORDING.asc               what is in a recording
  gazelab fixations RECORDING.asc \\
      --screen-cm 53 30 --distance-cm 60 --out fixations.csv
                                           detect fixations, write a table
  gazelab build REC1.asc REC2.asc --stimuli IMAGES/ \\
      --screen-cm 53 30 --distance-cm 60 --out dataset.h5
                                           build an HDF5 gaze dataset
  gazelab validate dataset.h5              check a dataset
  gazelab run EXPERIMENT.yaml --participant P01
                                           run a recording session
  gazelab compare dataset.h5 --model resnet50 --method gradcam --out report/
                                           model attention vs human gaze
  gazelab align dataset.h5 --model resnet18 --attention aib --loss kl \\
      --lambda 1.0 --epochs 5 --out run/    train with attention alignment
  gazelab demo --out DIR                   run the whole pipeline end to end

Recordings: EyeLink .edf, .asc / .asc.gz (edf2asc output), gazelab session folders
(their EDF file when there is one), or CSV/TSV sample exports.
Every command has its own --help. An existing output is replaced only with
--overwrite; errors are one line (gazelab --debug COMMAND shows the traceback).
"""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_error_line(exc: OSError) -> str:
    """An OSError (read-only folder, full disk, a FIFO...) as one line naming the file."""
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        what = "no space left on device: nothing was replaced (free some space and run again)"
    name = exc.filename if exc.filename is not None else None
    return _one_line(f"{name}: {what}" if name else what)


class _Command(click.Group):
    """Turns user-caused failures into one-line messages and data-quality warnings into 'Warning:' lines.

    GazelabError, OSError (permissions, a full disk) and MemoryError print one ``Error:`` line and
    exit 1; Ctrl-C prints one line and exits 130. ``gazelab --debug COMMAND`` shows the
    traceback instead.
    """

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
                raise
            except KeyboardInterrupt:
                if debug:
                    raise
                click.echo("Interrupted: stopped; no output was replaced", err=True)
                sys.exit(130)
            except GazelabError as exc:
                if debug:
                    raise
                raise click.ClickException(_one_line(str(exc))) from None
            except OSError as exc:
                if debug:
                    raise
                raise click.ClickException(_os_error_line(exc)) from None
            except MemoryError:
                if debug:
                    raise
                raise click.ClickException("out of memory; the input is larger than this machine can hold") from None
            finally:
                for w in caught:
                    if issubclass(w.category, UserWarning):
                        click.echo(f"Warning: {_one_line(str(w.message))}", err=True)


@click.group(cls=_Command, help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gazelab")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (for bug reports).")
def cli(debug: bool) -> None:
    """Entry point group."""


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _print_table(df: Any, max_rows: int = 20) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 30):
        click.echo(df.to_string(index=False, max_rows=max_rows))


def _is_asc(path: Path) -> bool:
    """An EyeLink file (ASC or EDF): the formats whose readers take ``strict``."""
    return path.name.lower().endswith((".asc", ".asc.gz", ".edf"))
