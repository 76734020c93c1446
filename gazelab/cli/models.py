"""The ``align`` command: training with attention alignment."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import _print_table, cli


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
