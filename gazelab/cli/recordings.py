"""Commands on single recordings: ``info`` and ``fixations``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gazelab.cli._base import _is_asc, _parse_value, cli


@cli.command("info")
@click.argument("recording", metavar="RECORDING|DATASET.h5", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat a last block without an END line as an error.")
def info_cmd(recording: Path, strict: bool) -> None:
    """Summarise a RECORDING (rate, eyes, screen size, blocks, trials, samples, tracker events)
    or a gazelab DATASET.h5 (sessions, observers, stimuli, fixations, settings)."""
    if recording.suffix.lower() in (".h5", ".hdf5"):
        from gazelab.datasets import describe

        summary = describe(recording)
    else:
        from gazelab.preprocessing import read

        kwargs = {"strict": strict} if _is_asc(recording) else {}
        summary = read(recording, **kwargs).summary()
    for key, value in summary.items():
        click.echo(f"{key:>22}: {value}")


@cli.command("fixations")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option(
    "--algorithm",
    "-a",
    type=click.Choice(["ivt", "idt", "ek", "eyelink"]),
    default="ivt",
    show_default=True,
    help="ivt: velocity threshold (EyeLink 'cognitive' settings); idt: dispersion threshold; "
    "ek: Engbert-Kliegl adaptive saccade detection; eyelink: the tracker's own EFIX events.",
)
@click.option("--screen-cm", nargs=2, type=float, required=True, metavar="W H", help="Visible screen size in cm.")
@click.option("--distance-cm", type=float, required=True, help="Eye-to-screen distance in cm.")
@click.option(
    "--screen-px",
    nargs=2,
    type=int,
    default=None,
    metavar="W H",
    help="Screen resolution in px (default: from the recording's DISPLAY_COORDS).",
)
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
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="An algorithm parameter, e.g. -p velocity_threshold_deg_s=40 (see the algorithm's docs).",
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
    recording: Path,
    algorithm: str,
    screen_cm: tuple[float, float],
    distance_cm: float,
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
    """Detect fixations in RECORDING and write them as a table.

    Output columns: eye (L/R), trial, block, onset_ms, offset_ms (first and last sample, on
    the recording's own clock), duration_ms, x_px, y_px (screen px, origin top left), x_deg,
    y_deg (from the screen centre), dispersion_px, dispersion_deg, n_samples, algorithm.
    """
    from gazelab._io import TABLE_SUFFIXES, check_output, write_table
    from gazelab.errors import ParameterError
    from gazelab.geometry import Geometry
    from gazelab.preprocessing import agreement, detect_fixations, read

    if out is not None and out.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError("--out", str(out), f"a file name ending in one of {list(TABLE_SUFFIXES)}")
    if out is not None:
        check_output(out, overwrite=overwrite, inputs=(recording,))
    kw: dict[str, Any] = {}
    for item in params:
        if "=" not in item:
            raise ParameterError("--param", item, "NAME=VALUE")
        name, value = item.split("=", 1)
        kw[name.strip()] = _parse_value(value.strip())
    rec = read(recording, **({"strict": strict} if _is_asc(recording) else {}))
    size = screen_px or rec.screen_px
    if size is None:
        raise ParameterError("--screen-px", None, f"the screen resolution: {recording} does not state it")
    geometry = Geometry(size[0], size[1], screen_cm[0], screen_cm[1], distance_cm)
    eyes = None if eye.lower() == "both" else eye.upper()
    table = detect_fixations(
        rec,
        geometry,
        algorithm=algorithm,
        eyes=eyes,
        blink_margin_ms=blink_margin_ms,
        interpolate_max_gap_ms=interpolate_max_gap_ms,
        **kw,
    )
    if out is not None:
        write_table(table, out)
    click.echo(f"{recording.name}: {rec.n_samples} samples at {rec.sampling_rate_hz:g} Hz, eyes {''.join(rec.eyes)}")
    click.echo(_fixation_summary(table).to_string(index=False))
    if against_tracker:
        reference = detect_fixations(rec, geometry, algorithm="eyelink", eyes=eyes)
        if len(reference) == 0:
            click.echo("the recording has no tracker fixation events to compare with")
        else:
            click.echo("agreement with the tracker's EFIX events (onset within 20 ms):")
            click.echo(agreement(reference, table).round(3).to_string(index=False))
    if out is not None:
        click.echo(f"wrote {len(table)} fixations to {out}")


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
