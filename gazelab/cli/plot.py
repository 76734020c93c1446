"""``gazelab plot``: a heatmap, scanpath or timeline as a PNG."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import cli


@cli.command("plot")
@click.argument("source", metavar="REC|SESSION_DIR|DATASET.h5", type=click.Path(exists=True, path_type=Path))
@click.option("--kind", type=click.Choice(["heatmap", "scanpath", "timeline"]), required=True)
@click.option("--trial", default=None, help="Recording: the TRIALID (default the first). Dataset: a /trials row.")
@click.option("--stimulus", default=None, help="Dataset: stimulus id or row (default row 0); all observers drawn.")
@click.option("--screen-cm", nargs=2, type=float, default=None, metavar="W H", help="Visible screen size in cm.")
@click.option("--distance-cm", type=float, default=None, help="Eye-to-screen distance in cm.")
@click.option(
    "--stimuli",
    "stimuli_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of a recording's stimulus images (drawn beneath).",
)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The PNG to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def plot_cmd(
    source: Path,
    kind: str,
    trial: str | None,
    stimulus: str | None,
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    stimuli_dir: Path | None,
    out: Path,
    overwrite: bool,
) -> None:
    """Draw a heatmap or scanpath over the stimulus, or a timeline (gaze x and y over time with
    fixations, saccades and blinks shaded), as a PNG."""
    from gazelab.analysis.plots import plot

    path = plot(
        source,
        out,
        kind=kind,
        trial=trial,
        stimulus=stimulus,
        screen_cm=screen_cm,
        distance_cm=distance_cm,
        stimuli_dir=stimuli_dir,
        overwrite=overwrite,
    )
    click.echo(f"wrote {path}")
