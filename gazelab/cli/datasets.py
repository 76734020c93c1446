"""Commands on HDF5 datasets: ``build``, ``import``, ``export``, ``validate``, ``release``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gazelab.cli._base import cli
from gazelab.cli.recordings import is_dataset, read_recording, recording_geometry, screen_options


@cli.command("build")
@click.argument("sessions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The dataset file (.h5)."
)
@click.option(
    "--stimuli",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the stimulus images the sessions showed.",
)
@click.option(
    "--trial-table",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV: recording, trial, stimulus[, placement, x_px, y_px, scale, observer, label, split].",
)
@click.option(
    "--stand-in",
    is_flag=True,
    help="For recordings that shipped no stimuli: use grey screen-sized stand-ins (recorded as such).",
)
@click.option("--screen-cm", nargs=2, type=float, required=True, metavar="W H", help="Visible screen size in cm.")
@click.option("--distance-cm", type=float, required=True, help="Eye-to-screen distance in cm.")
@click.option(
    "--screen-px",
    nargs=2,
    type=int,
    default=None,
    metavar="W H",
    help="Screen resolution in px (default: from each recording).",
)
@click.option("--algorithm", "-a", type=click.Choice(["ivt", "idt", "ek", "eyelink"]), default="ivt", show_default=True)
@click.option(
    "--eye",
    type=click.Choice(["best", "L", "R"], case_sensitive=False),
    default="best",
    show_default=True,
    help="Eye whose fixations are used; best = most valid samples.",
)
@click.option("--sigma-deg", type=float, default=1.0, show_default=True, help="Saliency-map Gaussian sigma in degrees.")
@click.option("--with-samples", is_flag=True, help="Also store the raw samples of every trial.")
@click.option("--append", is_flag=True, help="Add the sessions to the existing dataset --out.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (only once the new file is complete).")
@click.option("--title", default="", help="Dataset title.")
def build_cmd(
    sessions: tuple[Path, ...],
    out: Path,
    stimuli: Path | None,
    trial_table: Path | None,
    stand_in: bool,
    screen_cm: tuple[float, float],
    distance_cm: float,
    screen_px: tuple[int, int] | None,
    algorithm: str,
    eye: str,
    sigma_deg: float,
    with_samples: bool,
    append: bool,
    overwrite: bool,
    title: str,
) -> None:
    """Build a gazelab HDF5 dataset from SESSIONS (recordings), or append them to one.

    The file is written to a temporary name beside --out and renamed when complete, so an
    interrupted build never leaves a file that looks finished.
    """
    from gazelab.datasets import build_dataset

    report = build_dataset(
        list(sessions),
        out,
        screen_cm=screen_cm,
        distance_cm=distance_cm,
        screen_px=screen_px,
        stimuli_dir=stimuli,
        trial_table=trial_table,
        stand_in=stand_in,
        algorithm=algorithm,
        eye=eye if eye == "best" else eye.upper(),
        sigma_deg=sigma_deg,
        with_samples=with_samples,
        append=append,
        title=title,
        overwrite=overwrite,
    )
    click.echo(
        f"{'appended to' if append else 'built'} {report.path}: {report.sessions} sessions, "
        f"{report.observers} observers, "
        f"{report.stimuli} stimuli, {report.trials} trials, {report.fixations} fixations "
        f"({report.fixations_outside} outside the images, dropped); {report.size_bytes / 1e6:.2f} MB "
        f"in {report.seconds:.1f} s"
    )
    for note in report.notes:
        click.echo(f"note: {note}")


@cli.command("import")
@click.argument("layout", type=click.Choice(["nus-scene", "salicon", "mit1003", "cat2000"]))
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The dataset file (.h5)."
)
@click.option(
    "--sigma-px",
    type=float,
    default=None,
    help="Saliency-map sigma in image px (default: the importer's documented choice).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (only once the new file is complete).")
def import_cmd(layout: str, source: Path, out: Path, sigma_px: float | None, overwrite: bool) -> None:
    """Import a public saliency dataset in its published LAYOUT from the folder SOURCE."""
    from gazelab._io import check_output
    from gazelab.datasets.importers import get_importer

    check_output(out, overwrite=overwrite, inputs=(source,))
    kwargs = {} if sigma_px is None else {"sigma_px": sigma_px}
    report = get_importer(layout)(source, out, **kwargs)
    click.echo(
        f"imported {layout} into {report.path}: {report.observers} observers, {report.stimuli} stimuli, "
        f"{report.fixations} fixations ({report.fixations_outside} outside the images, dropped); "
        f"{report.size_bytes / 1e6:.1f} MB in {report.seconds:.1f} s"
    )


@cli.command("export")
@click.argument("layout", type=click.Choice(["folder", "bids", "pysaliency", "huggingface"]))
@click.argument("source", metavar="SOURCE", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--subject", default=None, help="bids, one recording: subject label (default: a session's participant).")
@click.option("--session", "-s", default=None, help="bids, one recording: session label (default: a session's).")
@click.option("--task", default="freeview", show_default=True, help="bids: task label.")
@click.option("--format", "-f", "format_", default=None, help="bids, one recording: its reader (see `info --help`).")
@click.option(
    "--eye-tracker-distance-cm",
    type=float,
    default=None,
    help="bids: eye-to-camera distance in cm (not the screen distance); left out when not given or measured.",
)
@screen_options
@click.option("--overwrite", is_flag=True, help="Replace existing output (only once the new one is complete).")
def export_cmd(layout: str, source: Path, out: Path, overwrite: bool, **bids_options: Any) -> None:
    """Export SOURCE to a LAYOUT in the folder --out.

    \b
    folder:      DATASET.h5 -> images/ + maps/*.png + fixations.csv + stimuli.csv
    bids:        RECORDING, SESSION_DIR or DATASET.h5 -> BIDS eye tracking (physio +
                 physioevents per eye, events, README); a dataset gives one subject per
                 observer (built with --with-samples); a session folder its own participant,
                 session and geometry (flags override)
    pysaliency:  DATASET.h5 -> stimuli.hdf5 + fixations.hdf5 (pysaliency's own format)
    huggingface: DATASET.h5 -> ImageFolder: images/, maps/, metadata.jsonl, README.md
    """
    if layout == "folder":
        from gazelab.datasets.exporters import export_folder

        click.echo(f"wrote {export_folder(source, out, overwrite=overwrite)}")
    elif layout == "pysaliency":
        from gazelab.datasets.exporters import export_pysaliency

        click.echo(f"wrote {', '.join(str(p) for p in export_pysaliency(source, out, overwrite=overwrite))}")
    elif layout == "huggingface":
        from gazelab.datasets.exporters import export_huggingface

        click.echo(f"wrote {export_huggingface(source, out)}")
    else:
        files = _export_bids(source, out, overwrite=overwrite, **bids_options)
        click.echo(f"wrote {len(files)} BIDS files under {out}")


def _export_bids(
    source: Path,
    out: Path,
    *,
    subject: str | None,
    session: str | None,
    task: str,
    format_: str | None,
    eye_tracker_distance_cm: float | None,
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    screen_px: tuple[int, int] | None,
    overwrite: bool,
) -> list[Path]:
    """BIDS from a dataset (.h5), a session folder or one recording file (the bids-only
    options and the geometry flags of ``export``)."""
    from gazelab.datasets.exporters import bids
    from gazelab.errors import ParameterError

    if is_dataset(source) and format_ is None:
        return bids.export_bids_dataset(source, out, task=task, overwrite=overwrite)
    rec = read_recording(source, format_, screen_px=screen_px)
    if rec.format != "gazelab-session" and subject is None:
        raise ParameterError("--subject", None, f"a BIDS subject label for {source}")
    geometry = recording_geometry(rec, source, screen_cm, distance_cm, screen_px)
    if rec.format == "gazelab-session":
        return bids.export_bids_session(
            source,
            out,
            geometry=geometry,
            subject=subject,
            session=session,
            task=task,
            eye_tracker_distance_cm=eye_tracker_distance_cm,
            overwrite=overwrite,
        )
    return bids.export_bids(
        rec,
        geometry,
        out,
        subject=subject,
        session=session,
        task=task,
        eye_tracker_distance_cm=eye_tracker_distance_cm,
        overwrite=overwrite,
    )


@cli.command("validate")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
def validate_cmd(dataset: Path) -> None:
    """Check DATASET.h5: schema, dtypes, ranges, cross-references and checksums.

    Exits 0 when valid; otherwise lists every problem and exits 1.
    """
    from gazelab.datasets import validate

    problems = validate(dataset)
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        click.echo(str(p), err=p.severity == "error")
    if errors:
        click.echo(f"{dataset}: INVALID ({len(errors)} problem{'s' if len(errors) > 1 else ''})", err=True)
        sys.exit(1)
    click.echo(f"{dataset}: valid")


@cli.command("release")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--meta",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML with title, version, licence, citation (and optionally authors, description, url, contact).",
)
def release_cmd(dataset: Path, meta: Path) -> None:
    """Validate DATASET.h5 and write its release manifest (sha256, size, counts, licence, citation)."""
    from gazelab.datasets import write_manifest

    target = write_manifest(dataset, meta)
    click.echo(f"wrote {target}")
