"""Commands on recordings: ``info`` and ``fixations`` (which takes many)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gazelab.cli._base import _is_asc, _parse_value, cli

_FORMAT_HELP = (
    "Reader to use (default: from the file name): eyelink-asc, gazelab-session, tabular, iohub, or an export "
    "preset: tobii, pupil-labs (pupil-player, pupil-cloud), gazepoint, smi."
)

_IVT_HELP = (
    "ivt: velocity threshold with the EyeLink parser's refinements (30 deg/s on Savitzky-Golay velocities over "
    "20 ms, plus an 8000 deg/s^2 acceleration threshold, pursuit fix-up, merging across sub-0.15 deg 'saccades', "
    "40 ms minimum). It is NOT pymovements' ivt of the same name, which is Salvucci & Goldberg's plain I-VT (20 "
    "deg/s on velocities you compute beforehand, no acceleration threshold, no merging, a 100 ms minimum measured "
    "from first to last sample). Closest equivalent: -P velocity_threshold_deg_s=20 -P "
    "acceleration_threshold_deg_s2=None -P pursuit_fixup_deg_s=0 -P motion_threshold_deg=0 -P "
    "min_duration_ms=<100 + one sample period> (gazelab's durations include the last sample's period). "
    "idt: dispersion threshold; ek: Engbert-Kliegl adaptive saccade detection; eyelink: the tracker's own EFIX events."
)


#: readers whose coordinates need the screen (or camera frame) size to become px from the top left
_NEED_SCREEN = ("iohub", "gazepoint", "pupil-labs", "pupil-player")


def is_dataset(path: Path) -> bool:
    """A gazelab HDF5 dataset (not, e.g., a PsychoPy ioHub file, which is HDF5 too)."""
    if path.suffix.lower() not in (".h5", ".hdf5") or not path.is_file():
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "data_collection" not in f
    except OSError:
        return path.suffix.lower() == ".h5"


def read_recording(
    path: Path, format: str | None, strict: bool = False, screen_px: tuple[int, int] | None = None
) -> Any:
    """Read a recording with the reader ``format`` names (default: chosen from the path)."""
    from gazelab.preprocessing import read

    kwargs: dict[str, Any] = {"strict": strict} if (format in (None, "eyelink-asc") and _is_asc(path)) else {}
    if format in _NEED_SCREEN or (format is None and path.suffix.lower() == ".hdf5"):
        kwargs["screen_px"] = screen_px
    return read(path, format=format, **kwargs)


def recording_geometry(
    rec: Any,
    path: Path,
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    screen_px: tuple[int, int] | None,
) -> Any:
    """The screen geometry: flags first, then what the recording (a session's session.json) states."""
    from gazelab.errors import ParameterError
    from gazelab.geometry import Geometry
    from gazelab.preprocessing.readers.session import session_geometry

    stored = session_geometry(rec.metadata) if rec.format == "gazelab-session" else None
    size = screen_px or rec.screen_px or (stored and (stored.width_px, stored.height_px))
    cm = screen_cm or (stored and (stored.width_cm, stored.height_cm))
    distance = distance_cm or (stored and stored.distance_cm)
    for flag, value, what in (
        ("--screen-px", size, "the screen resolution"),
        ("--screen-cm", cm, "the visible screen size in cm"),
        ("--distance-cm", distance, "the eye-to-screen distance in cm"),
    ):
        if not value:
            raise ParameterError(flag, None, f"{what}: {path} does not record it")
    return Geometry(size[0], size[1], cm[0], cm[1], distance)


_SCREEN_OPTIONS = [
    click.option(
        "--screen-cm",
        nargs=2,
        type=float,
        default=None,
        metavar="W H",
        help="Visible screen size in cm (default: from a session's session.json; required otherwise).",
    ),
    click.option(
        "--distance-cm",
        type=float,
        default=None,
        help="Eye-to-screen distance in cm (default: from a session's session.json; required otherwise).",
    ),
    click.option(
        "--screen-px",
        nargs=2,
        type=int,
        default=None,
        metavar="W H",
        help="Screen resolution in px (default: from the recording, e.g. DISPLAY_COORDS or session.json).",
    ),
]


def screen_options(func: Any) -> Any:
    """Add --screen-cm, --distance-cm and --screen-px (geometry flags that override the recording's)."""
    for option in reversed(_SCREEN_OPTIONS):
        func = option(func)
    return func


@cli.command("info")
@click.argument("recording", metavar="RECORDING|DATASET.h5", type=click.Path(path_type=Path))
@click.option("--format", "-f", "format_", default=None, help=_FORMAT_HELP)
@click.option(
    "--screen-px",
    nargs=2,
    type=int,
    default=None,
    metavar="W H",
    help="Screen (or scene camera) size in px, for exports whose coordinates need it (ioHub, Gazepoint, Pupil Player).",
)
@click.option("--strict", is_flag=True, help="Treat a last block without an END line as an error.")
def info_cmd(recording: Path, format_: str | None, screen_px: tuple[int, int] | None, strict: bool) -> None:
    """Summarise a RECORDING (rate, eyes, screen size, blocks, trials, samples, tracker events)
    or a gazelab DATASET.h5 (sessions, observers, stimuli, fixations, settings)."""
    if is_dataset(recording) and format_ is None:
        from gazelab.datasets import describe

        summary = describe(recording)
    else:
        summary = read_recording(recording, format_, strict, screen_px).summary()
    for key, value in summary.items():
        click.echo(f"{key:>22}: {value}")


@cli.command("fixations")
@click.argument("recordings", nargs=-1, required=True, metavar="RECORDING...", type=click.Path(path_type=Path))
@click.option(
    "--algorithm",
    "-a",
    type=click.Choice(["ivt", "idt", "ek", "eyelink"]),
    default="ivt",
    show_default=True,
    help=_IVT_HELP,
)
@click.option("--format", "-f", "format_", default=None, help=_FORMAT_HELP)
@screen_options
@click.option("--eye", type=click.Choice(["L", "R", "both"], case_sensitive=False), default="both", show_default=True)
@click.option(
    "--blink-margin-ms", type=float, default=0.0, show_default=True, help="Drop samples this close to a blink."
)
@click.option(
    "--interpolate-max-gap-ms",
    type=float,
    default=None,
    help="Fill gaps up to this long by linear interpolation before detection (default: no filling).",
)
@click.option(
    "--param",
    "-P",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="An algorithm parameter, e.g. -P velocity_threshold_deg_s=40 (see the algorithm's docs).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the fixation table here (.csv, .tsv or .parquet). Default: print a summary only.",
)
@click.option("--against-tracker", is_flag=True, help="Also print agreement with the tracker's own EFIX events.")
@click.option("--strict", is_flag=True, help="Treat a last block without an END line as an error.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def fixations_cmd(
    recordings: tuple[Path, ...],
    algorithm: str,
    format_: str | None,
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    screen_px: tuple[int, int] | None,
    eye: str,
    blink_margin_ms: float,
    interpolate_max_gap_ms: float | None,
    params: tuple[str, ...],
    out: Path | None,
    against_tracker: bool,
    strict: bool,
    overwrite: bool,
) -> None:
    """Detect fixations in each RECORDING and write them as one table.

    Output columns: recording (the path as given), eye (L/R), trial, block, onset_ms, offset_ms
    (first and last sample, on the recording's own clock), duration_ms, x_px, y_px (screen px,
    origin top left), x_deg, y_deg (from the screen centre), dispersion_px, dispersion_deg,
    n_samples, algorithm. Geometry comes from each session folder's session.json; the flags
    override it and are required for files that do not record it.
    """
    import pandas as pd

    from gazelab._io import TABLE_SUFFIXES, check_output, write_table
    from gazelab.errors import ParameterError

    if out is not None and out.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError("--out", str(out), f"a file name ending in one of {list(TABLE_SUFFIXES)}")
    if out is not None:
        check_output(out, overwrite=overwrite, inputs=recordings)
    kw: dict[str, Any] = {}
    for item in params:
        if "=" not in item:
            raise ParameterError("--param", item, "NAME=VALUE")
        name, value = item.split("=", 1)
        kw[name.strip()] = _parse_value(value.strip())
    eyes = None if eye.lower() == "both" else eye.upper()
    tables = []
    for path in recordings:
        table = _fixations_of(
            path,
            format_,
            strict,
            (screen_cm, distance_cm, screen_px),
            algorithm,
            eyes,
            kw,
            (blink_margin_ms, interpolate_max_gap_ms, against_tracker),
        )
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    if out is not None:
        write_table(table, out)
        click.echo(f"wrote {len(table)} fixations from {len(recordings)} recording(s) to {out}")


def _fixations_of(
    path: Path,
    format_: str | None,
    strict: bool,
    geometry_flags: tuple[Any, Any, Any],
    algorithm: str,
    eyes: str | None,
    params: dict[str, Any],
    options: tuple[float, float | None, bool],
) -> Any:
    """Read one recording, detect its fixations, print its summary; the table with a recording column."""
    from gazelab.preprocessing import agreement, detect_fixations

    blink_margin_ms, interpolate_max_gap_ms, against_tracker = options
    rec = read_recording(path, format_, strict, geometry_flags[2])
    geometry = recording_geometry(rec, path, *geometry_flags)
    table = detect_fixations(
        rec,
        geometry,
        algorithm=algorithm,
        eyes=eyes,
        blink_margin_ms=blink_margin_ms,
        interpolate_max_gap_ms=interpolate_max_gap_ms,
        **params,
    )
    click.echo(f"{path.name}: {rec.n_samples} samples at {rec.sampling_rate_hz:g} Hz, eyes {''.join(rec.eyes)}")
    click.echo(_fixation_summary(table).to_string(index=False))
    if against_tracker:
        reference = detect_fixations(rec, geometry, algorithm="eyelink", eyes=eyes)
        if len(reference) == 0:
            click.echo("the recording has no tracker fixation events to compare with")
        else:
            click.echo("agreement with the tracker's EFIX events (onset within 20 ms):")
            click.echo(agreement(reference, table).round(3).to_string(index=False))
    table.insert(0, "recording", str(path))
    return table


def _fixation_summary(table: Any) -> Any:
    import pandas as pd

    rows = []
    for eye, g in table.groupby(table["eye"].astype(str), sort=True):
        rows.append(
            {
                "eye": eye,
                "fixations": len(g),
                "mean_duration_ms": round(float(g["duration_ms"].mean()), 1),
                "median_duration_ms": round(float(g["duration_ms"].median()), 1),
                "mean_dispersion_deg": round(float(g["dispersion_deg"].mean()), 3),
                "trials": int(g["trial"].nunique()),
            }
        )
    if not rows:
        rows.append({"eye": "-", "fixations": 0})
    return pd.DataFrame(rows)
