"""The ``gazelab`` command: thin verbs over the library.

Each command parses its options, calls one library function and prints the result. Problems
the user can cause (a bad file, a bad option) are printed as one line starting with
``Error:`` and the command exits with status 1, writing no output file.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from gazelab import __version__
from gazelab.errors import GazelabError

__all__ = ["cli", "main"]

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

Recordings: EyeLink .asc / .asc.gz (edf2asc output), gazelab session folders,
or CSV/TSV sample exports.
Every command has its own --help.
"""


class _Command(click.Group):
    """Turns gazelab errors into one-line messages and data-quality warnings into 'Warning:' lines."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return super().invoke(ctx)
            except GazelabError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                for w in caught:
                    if issubclass(w.category, UserWarning):
                        click.echo(f"Warning: {w.message}", err=True)


@click.group(cls=_Command, help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gazelab")
def cli() -> None:
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


def _is_asc(path: Path) -> bool:
    return path.name.lower().endswith((".asc", ".asc.gz"))


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
) -> None:
    """Detect fixations in RECORDING and write them as a table.

    Output columns: eye (L/R), trial, block, onset_ms, offset_ms (first and last sample, on
    the recording's own clock), duration_ms, x_px, y_px (screen px, origin top left), x_deg,
    y_deg (from the screen centre), dispersion_px, dispersion_deg, n_samples, algorithm.
    """
    from gazelab._io import TABLE_SUFFIXES, write_table
    from gazelab.errors import ParameterError
    from gazelab.geometry import Geometry
    from gazelab.preprocessing import agreement, detect_fixations, read

    if out is not None and out.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError("--out", str(out), f"a file name ending in one of {list(TABLE_SUFFIXES)}")
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
def import_cmd(layout: str, source: Path, out: Path, sigma_px: float | None) -> None:
    """Import a public saliency dataset in its published LAYOUT from the folder SOURCE."""
    from gazelab.datasets.importers import get_importer

    kwargs = {} if sigma_px is None else {"sigma_px": sigma_px}
    report = get_importer(layout)(source, out, **kwargs)
    click.echo(
        f"imported {layout} into {report.path}: {report.observers} observers, {report.stimuli} stimuli, "
        f"{report.fixations} fixations ({report.fixations_outside} outside the images, dropped); "
        f"{report.size_bytes / 1e6:.1f} MB in {report.seconds:.1f} s"
    )


@cli.command("export")
@click.argument("layout", type=click.Choice(["folder", "bids"]))
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--subject", default=None, help="bids: subject label (letters and digits).")
@click.option("--session", default=None, help="bids: session label.")
@click.option("--task", default="freeview", show_default=True, help="bids: task label.")
@click.option("--screen-cm", nargs=2, type=float, default=None, metavar="W H", help="bids: screen size in cm.")
@click.option("--distance-cm", type=float, default=None, help="bids: viewing distance in cm.")
@click.option("--screen-px", nargs=2, type=int, default=None, metavar="W H", help="bids: screen resolution.")
def export_cmd(
    layout: str,
    source: Path,
    out: Path,
    subject: str | None,
    session: str | None,
    task: str,
    screen_cm: tuple[float, float] | None,
    distance_cm: float | None,
    screen_px: tuple[int, int] | None,
) -> None:
    """Export SOURCE to a LAYOUT.

    \b
    folder: SOURCE is a dataset .h5 -> images/ + maps/*.png + fixations.csv + stimuli.csv
    bids:   SOURCE is a recording   -> BIDS eye-tracking (physio.tsv.gz + json, events)
    """
    from gazelab.errors import ParameterError

    if layout == "folder":
        from gazelab.datasets.exporters import export_folder

        click.echo(f"wrote {export_folder(source, out)}")
        return
    from gazelab.datasets.exporters import export_bids
    from gazelab.geometry import Geometry
    from gazelab.preprocessing import read

    if subject is None or screen_cm is None or distance_cm is None:
        raise ParameterError("--subject/--screen-cm/--distance-cm", None, "all three for a BIDS export")
    rec = read(source)
    size = screen_px or rec.screen_px
    if size is None:
        raise ParameterError("--screen-px", None, f"the screen resolution: {source} does not state it")
    files = export_bids(
        rec,
        Geometry(size[0], size[1], screen_cm[0], screen_cm[1], distance_cm),
        out,
        subject=subject,
        session=session,
        task=task,
    )
    click.echo(f"wrote {len(files)} BIDS files under {out}")


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


@cli.command("run")
@click.argument("experiment", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--participant", "-p", required=True, help="Participant id (letters and digits).")
@click.option("--session", "-s", default="1", show_default=True, help="Session number or label.")
@click.option(
    "--tracker",
    type=click.Choice(["simulated", "eyelink", "webcam"]),
    default=None,
    help="Override the experiment's tracker backend.",
)
@click.option(
    "--camera",
    default=None,
    help="webcam: camera index or video file (overrides the experiment's tracker.camera).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output root (default: the experiment's 'output').",
)
@click.option("--resume", is_flag=True, help="Continue an existing session folder instead of refusing it.")
@click.option("--windowed", is_flag=True, help="A window instead of full screen (testing).")
@click.option(
    "--screenshots",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save screenshots of the instruction, calibration, validation and first trial screens here.",
)
def run_cmd(
    experiment: Path,
    participant: str,
    session: str,
    tracker: str | None,
    camera: str | None,
    out: Path | None,
    resume: bool,
    windowed: bool,
    screenshots: Path | None,
) -> None:
    """Run a session of EXPERIMENT (YAML) for one participant: instructions, calibration and
    validation, trials with drift checks. ESCAPE ends it early, saving everything so far."""
    from dataclasses import replace

    from gazelab.acquisition.config import load_config
    from gazelab.acquisition.runner import run_session

    config = load_config(experiment)
    if camera is not None:
        if not camera.isdigit() and not Path(camera).is_file():
            raise click.BadParameter(
                f"{camera!r} is neither a camera index nor an existing video file", param_hint="--camera"
            )
        cam: int | str = int(camera) if camera.isdigit() else str(Path(camera).resolve())
        config = replace(config, tracker=replace(config.tracker, camera=cam))
    folder = run_session(
        config,
        participant,
        session,
        tracker=tracker,
        out=out,
        resume=resume,
        fullscr=not windowed,
        screenshot_dir=screenshots,
        echo=click.echo,
    )
    click.echo(str(folder))


@cli.command("recover")
@click.argument("session", type=click.Path(exists=True, file_okay=False, path_type=Path))
def recover_cmd(session: Path) -> None:
    """Make a crashed SESSION folder readable (cut partial last lines, mark it recovered)."""
    from gazelab.acquisition.session import recover

    report = recover(session)
    click.echo(
        f"{session}: was {report['previous_status']}; kept {report.get('samples.tsv_lines', 0)} samples, "
        f"{report.get('messages.tsv_lines', 0)} messages; cut {report.get('samples.tsv_bytes_cut', 0)} "
        "bytes of a partial sample line"
    )


@cli.command("compare")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model", required=True, help="efficientnet_lite0 (pretrained, offline) or a torchvision classifier name."
)
@click.option(
    "--weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="State dict for a torchvision model (default: random init; nothing is downloaded).",
)
@click.option(
    "--method",
    type=click.Choice(["gradcam", "gradcampp", "cam", "rollout", "module"]),
    default="gradcam",
    show_default=True,
    help="Attention extraction method.",
)
@click.option("--layer", default=None, help="Target layer (default: the model's last convolutional stage).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--input-size", nargs=2, type=int, default=None, metavar="H W", help="Model input size, px.")
@click.option("--split", default=None, help="Only this stored split.")
@click.option(
    "--metric", "metrics", multiple=True, help="Metric to score (repeat; default cc nss kld sim auc_judd auc_shuffled)."
)
@click.option(
    "--footing",
    type=click.Choice(["observers", "all"]),
    default="observers",
    show_default=True,
    help="observers: each observer held out in turn (model, centre bias and ceiling alike); all: all fixations.",
)
@click.option(
    "--score-size", type=int, default=256, show_default=True, help="Longer side of the scoring maps, px (0: own size)."
)
@click.option("--no-ceiling", is_flag=True, help="Skip the inter-observer ceiling.")
@click.option(
    "--baseline-cache", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Reuse baseline scores."
)
@click.option("--no-resume", is_flag=True, help="Start over instead of continuing a report in --out.")
@click.option("--bootstrap", type=int, default=2000, show_default=True, help="Bootstrap resamples for the CIs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="cpu, cuda, ... (default: CUDA when available).")
def compare_cmd(
    dataset: Path,
    model: str,
    weights: Path | None,
    method: str,
    layer: str | None,
    out: Path,
    batch_size: int,
    input_size: tuple[int, int] | None,
    split: str | None,
    metrics: tuple[str, ...],
    footing: str,
    score_size: int,
    no_ceiling: bool,
    baseline_cache: Path | None,
    no_resume: bool,
    bootstrap: int,
    seed: int,
    device: str | None,
) -> None:
    """Compare a model's attention with the human gaze of DATASET: per-stimulus scores, a summary
    with bootstrap CIs between the centre-bias baseline and the human ceiling, and figures."""
    from gazelab.analysis.compare import DEFAULT_METRICS, compare

    report = compare(
        dataset,
        model=model,
        weights=weights,
        method=method,
        layer=layer,
        out=out,
        batch_size=batch_size,
        input_size=input_size,
        split=split,
        metrics=metrics or DEFAULT_METRICS,
        ceiling=not no_ceiling,
        footing=footing,
        score_size=score_size or None,
        baseline_cache=baseline_cache,
        resume=not no_resume,
        bootstrap=bootstrap,
        seed=seed,
        device=device,
    )
    click.echo(report.text())


@cli.command("align")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    default="resnet18",
    show_default=True,
    help="Backbone: alexnet, vgg16, resnet18/50, efficientnet_lite0, ...",
)
@click.option(
    "--attention",
    type=click.Choice(["cam", "spatial", "aib", "brnpa"]),
    default="aib",
    show_default=True,
    help="Attention head whose map is aligned.",
)
@click.option(
    "--loss",
    type=click.Choice(["kl", "cc", "nss", "mse", "pyramid"]),
    default="kl",
    show_default=True,
    help="Alignment loss to the human saliency maps.",
)
@click.option(
    "--lambda", "lam", type=float, default=1.0, show_default=True, help="Weight of the alignment loss (0: control)."
)
@click.option(
    "--lambda-schedule",
    type=click.Choice(["constant", "linear", "tanh", "step"]),
    default="linear",
    show_default=True,
    help="How lambda ramps up over --warmup-epochs.",
)
@click.option("--warmup-epochs", type=float, default=1.0, show_default=True)
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option(
    "--input-size", type=int, default=128, show_default=True, help="Images and maps resized to this square, px."
)
@click.option(
    "--labels",
    type=click.Choice(["dataset", "teacher"]),
    default="dataset",
    show_default=True,
    help="Stimulus labels, or the untrained model's own predictions (Neural Harmonizer protocol).",
)
@click.option(
    "--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="State dict for the trunk."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-augment", is_flag=True, help="No random horizontal flips.")
@click.option("--freeze-bn", is_flag=True, help="Batch-norm statistics fixed (fine-tuning a pretrained model).")
@click.option("--device", default=None, help="cpu, cuda, ... (default: CUDA when available).")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
def align_cmd(
    dataset: Path,
    model: str,
    attention: str,
    loss: str,
    lam: float,
    lambda_schedule: str,
    warmup_epochs: float,
    epochs: int,
    batch_size: int,
    lr: float,
    input_size: int,
    labels: str,
    weights: Path | None,
    seed: int,
    no_augment: bool,
    freeze_bn: bool,
    device: str | None,
    out: Path,
    resume: bool,
) -> None:
    """Train a model whose attention is pushed towards the human saliency maps of DATASET.

    The loss is task loss + lambda * alignment loss; each epoch logs held-out accuracy and the
    attention's CC, NSS, Spearman and KL against the human maps to OUT/metrics.csv and saves a
    checkpoint (--resume continues it)."""
    from gazelab.models import AlignConfig, align

    cfg = AlignConfig(
        model=model,
        attention=attention,
        loss=loss,
        lam=lam,
        lambda_schedule=lambda_schedule,
        warmup_epochs=warmup_epochs,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        input_size=input_size,
        labels=labels,
        seed=seed,
        augment=not no_augment,
        freeze_bn=freeze_bn,
        weights=str(weights) if weights else None,
    )
    res = align(dataset, out, cfg, resume=resume, device=device)
    cols = [
        c
        for c in ("epoch", "lambda", "train_loss", "val_accuracy", "val_cc", "val_nss", "val_spearman")
        if c in res.history
    ]
    _print_table(res.history[cols].round(4))
    click.echo(f"run folder: {res.out}")


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gazelab-demo"),
    show_default=True,
    help="Folder for the demo's files and report (must not hold a demo already).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated stimuli.")
@click.option("--participants", type=int, default=4, show_default=True, help="Simulated observers.")
def demo_cmd(out: Path, seed: int, participants: int) -> None:
    """Run the whole pipeline on the embedded default: simulated recording sessions on generated
    scenes, fixations, an HDF5 dataset, a PyTorch loader, a model-vs-human attention comparison
    and a short alignment run, ending in OUT/report/summary.md. No hardware, data or network."""
    from gazelab.demo import run_demo

    run_demo(out, seed=seed, participants=participants, echo=click.echo)


def main(argv: list[str] | None = None) -> None:
    """Run the ``gazelab`` command."""
    cli.main(args=argv, prog_name="gazelab", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
