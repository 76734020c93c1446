"""The ``compare`` command: model attention against human gaze."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import cli


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
