"""The ``align`` command: training with attention alignment (one process, or data-parallel under torchrun)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gazelab.cli._base import _print_table, cli

_COLUMNS = ("epoch", "world_size", "train_items", "train_loss", "val_teacher_top1", "val_cc", "val_nss", "val_auc_judd")


@cli.command("align")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--recipe",
    type=click.Choice(["harmonizer", "cam-distill"]),
    default=None,
    help="Preset: harmonizer = pyramid loss on the input-gradient saliency (double backprop), true labels "
    "when the dataset has them, else the model's own soft predictions; cam-distill = KL on the CAM while "
    "distilling the model's predictions. Options given explicitly override it.",
)
@click.option("--model", default=None, help="Backbone: alexnet, vgg16, resnet18/50, efficientnet_lite0, ... [resnet18]")
@click.option(
    "--attention",
    type=click.Choice(["cam", "spatial", "aib", "brnpa"]),
    default=None,
    help="Attention head. [aib]",
)
@click.option(
    "--saliency",
    type=click.Choice(["head", "gradient"]),
    default=None,
    help="Map aligned with the human maps: the head's attention, or the input-gradient saliency. [head]",
)
@click.option(
    "--loss",
    type=click.Choice(["kl", "cc", "nss", "mse", "pyramid"]),
    default=None,
    help="Alignment loss to the human saliency maps. [kl]",
)
@click.option("--lambda", "lam", type=float, default=None, help="Weight of the alignment loss (0: control). [1.0]")
@click.option(
    "--lambda-schedule",
    type=click.Choice(["constant", "linear", "tanh", "step"]),
    default=None,
    help="How lambda ramps up over --warmup-epochs. [linear]",
)
@click.option("--warmup-epochs", type=float, default=None, help="[1.0]")
@click.option("--epochs", type=int, default=None, help="[5]")
@click.option("--batch-size", type=int, default=None, help="Images per step and process. [16]")
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Adam learning rate. [1e-5 for pretrained trunks (efficientnet_lite0, --weights), else 1e-3]",
)
@click.option("--input-size", type=int, default=None, help="Images and maps resized to this square, px. [128]")
@click.option(
    "--labels",
    type=click.Choice(["dataset", "teacher", "auto"]),
    default=None,
    help="Stimulus labels (cross-entropy), or distil the model's own soft predictions before fine-tuning "
    "(teacher), or dataset when the file has labels else teacher (auto). [dataset]",
)
@click.option("--temperature", type=float, default=None, help="Distillation temperature. [2.0]")
@click.option(
    "--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="State dict for the trunk."
)
@click.option("--seed", type=int, default=None, help="[0]")
@click.option("--no-augment", is_flag=True, default=None, help="No random horizontal flips.")
@click.option(
    "--freeze-bn/--train-bn",
    default=None,
    help="Keep batch-norm statistics fixed, or update them. [fixed for pretrained trunks]",
)
@click.option("--train-limit", type=int, default=None, help="Only the first N training stimuli (quick runs).")
@click.option("--val-limit", type=int, default=None, help="Only the first N held-out stimuli.")
@click.option("--amp", is_flag=True, default=None, help="Mixed precision (bfloat16/float16 autocast); GPU only.")
@click.option("--device", default=None, help="cpu, cuda (default: CUDA if available; cuda:LOCAL_RANK under torchrun).")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
def align_cmd(dataset: Path, recipe: str | None, weights: Path | None, no_augment: bool | None, device: str | None,
              out: Path, resume: bool, **options) -> None:  # fmt: skip
    """Train a model whose attention is pushed towards the human saliency maps of DATASET.

    The loss is task loss + lambda * alignment loss; each epoch logs to OUT/metrics.csv the held-out
    agreement with the model before fine-tuning (teacher top-1/top-5/KL) and the aligned map's CC,
    NSS, AUC-Judd and sAUC against the human maps, and saves a checkpoint (--resume continues it).
    Data-parallel: torchrun --standalone --nproc_per_node=N -m gazelab align DATASET ... (rank 0
    writes OUT)."""
    from gazelab.models import AlignConfig, align
    from gazelab.models import recipe as make_recipe

    given = {k: v for k, v in options.items() if v is not None}
    if no_augment:
        given["augment"] = False
    if weights:
        given["weights"] = str(weights)
    cfg = make_recipe(recipe, **given) if recipe else AlignConfig(**given)
    res = align(dataset, out, cfg, resume=resume, device=device)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one report
        cols = [c for c in _COLUMNS if c in res.history]
        _print_table(res.history[cols].round(4))
        click.echo(f"run folder: {res.out}")
