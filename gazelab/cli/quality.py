"""``gazelab quality``: data quality per recording, trial and eye, and per participant."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import _print_table, cli


@cli.command("quality")
@click.argument(
    "inputs", nargs=-1, required=True, metavar="REC|SESSION_DIR|DATASET.h5 ...", type=click.Path(path_type=Path)
)
@click.option("--screen-cm", nargs=2, type=float, default=None, metavar="W H", help="Visible screen size in cm.")
@click.option("--distance-cm", type=float, default=None, help="Eye-to-screen distance in cm.")
@click.option(
    "--screen-px", nargs=2, type=int, default=None, metavar="W H", help="Screen resolution, px (default: the file's)."
)
@click.option(
    "--threshold",
    "-t",
    "thresholds",
    multiple=True,
    metavar="NAME=GOOD,FAIR",
    help="Grade limits, e.g. -t data_loss=0.05,0.2 (names: data_loss, precision_rms_s2s_deg, "
    "validation_mean_deg, validation_max_deg, drift_offset_deg).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the per-trial table (.csv, .tsv, .parquet).",
)
@click.option(
    "--summary", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the per-participant table."
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def quality_cmd(
    inputs: tuple[Path, ...],
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    screen_px: tuple[int, int] | None,
    thresholds: tuple[str, ...],
    out: Path | None,
    summary: Path | None,
    overwrite: bool,
) -> None:
    """Data quality of recordings, session folders and datasets: one row per recording, trial and eye.

    Columns: recording, participant, session, trial (TRIALID), eye, n_samples, duration_ms,
    data_loss (0..1), blink_count, precision_rms_s2s_deg and precision_std_deg (inside
    fixations), validation_mean_deg and validation_max_deg (last validation before the trial),
    drift_offset_deg (drift check before it), sampling_rate_hz, grade (GOOD/FAIR/POOR). Degrees
    use session.json's geometry, else --screen-cm/--distance-cm, else the file's resolution
    columns. The per-participant summary is printed.
    """
    from gazelab._io import check_output, write_table
    from gazelab.datasets.quality import quality_report
    from gazelab.errors import ParameterError
    from gazelab.preprocessing.quality import QualityThresholds, participant_summary

    items = {}
    for item in thresholds:
        if "=" not in item:
            raise ParameterError("--threshold", item, "NAME=GOOD,FAIR")
        name, value = item.split("=", 1)
        items[name.strip()] = value.strip()
    limits = QualityThresholds().updated(items)
    for target in (out, summary):
        if target is not None:
            check_output(target, overwrite=overwrite, inputs=inputs)
    table = quality_report(inputs, screen_cm=screen_cm, distance_cm=distance_cm, screen_px=screen_px, thresholds=limits)
    per_participant = participant_summary(table)
    if out is not None:
        write_table(table, out)
    if summary is not None:
        write_table(per_participant, summary)
    counts = table["grade"].value_counts()
    click.echo(
        f"{len(table)} trial-eye rows from {table['recording'].nunique()} recording(s): "
        + ", ".join(f"{counts.get(g, 0)} {g}" for g in ("GOOD", "FAIR", "POOR"))
    )
    _print_table(per_participant.round(4))
    if out is not None:
        click.echo(f"wrote {out}")
    if summary is not None:
        click.echo(f"wrote {summary}")
