"""Human-attention alignment training: task loss + lambda(t) * alignment loss, data-parallel, with resume.

:func:`align` fine-tunes an :class:`~gazelab.models.AttentionNet` on a gazelab HDF5 dataset:
images and human saliency maps at one input size, labels from the dataset (``/stimuli/label``)
or, with ``labels='teacher'``, the soft predictions of the model before fine-tuning (distillation:
KL to its logits at a temperature, so the model keeps what it did). The map aligned with the human
maps is the attention head's (``saliency='head'``; CAM for the ``cam`` head) or the input-gradient
saliency of the target class (``saliency='gradient'``, trained through by double backpropagation:
the Neural Harmonizer's method, preset :data:`RECIPES` ``['harmonizer']``).

Every epoch logs, on a held-out split, agreement with the model before fine-tuning (top-1, top-5,
KL) and the aligned map's agreement with human gaze (CC, NSS, AUC-Judd, sAUC, Spearman, KL), to
``metrics.csv`` with a checkpoint (plain data and tensors: ``torch.load(weights_only=True)``);
epoch 0 is the model before training. ``resume=True`` continues from the checkpoint and gives the
same weights as an uninterrupted run (each epoch's randomness is seeded from ``seed`` and the
epoch). Under ``torchrun`` the same call trains with DistributedDataParallel
(:mod:`gazelab.models.distributed`); rank 0 writes the files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from gazelab._io import atomic_path
from gazelab.analysis import metrics as M
from gazelab.analysis.attention.gradient import gradient_saliency
from gazelab.datasets.gaze_dataset import GazeDataset, Split, make_splits
from gazelab.datasets.transforms import JointResize
from gazelab.errors import ParameterError, ParseError
from gazelab.models import distributed as D
from gazelab.models.losses import LOSSES, LambdaSchedule, alignment_loss
from gazelab.models.net import AttentionNet, combine_attention

__all__ = [
    "RECIPES",
    "AlignConfig",
    "TrainResult",
    "align",
    "attention_agreement",
    "load_data",
    "recipe",
    "spearman",
]


@dataclass
class AlignConfig:
    """Everything that defines a run (stored in the checkpoint; a resume must match it).

    Attributes
    ----------
    model : str
        Backbone name (:data:`gazelab.models.backbones.BACKBONES`).
    attention : str
        Head name (:data:`gazelab.models.net.HEADS`).
    loss : str
        Alignment loss (:data:`gazelab.models.losses.LOSSES`).
    lam : float
        Final lambda (0 trains without alignment: the control run).
    lambda_schedule : str
        ``constant``, ``linear``, ``tanh`` or ``step`` (see :class:`LambdaSchedule`).
    warmup_epochs : float
        Ramp length of the schedule.
    epochs : int
        Epochs to train.
    batch_size : int
        Images per step and process (the effective batch is ``batch_size * world_size``).
    lr : float or None
        Adam learning rate. Default (None): 1e-5 for pretrained trunks (``efficientnet_lite0``, or
        ``weights`` given), whose agreement with their own earlier predictions larger rates destroy
        (measured on NUS scene: 1e-4 keeps 0.66 of it, 1e-5 0.96, ``docs/models.md``), else 1e-3.
    weight_decay : float
        Adam weight decay.
    input_size : int
        Images and maps are resized to ``input_size x input_size`` px.
    labels : str
        ``dataset`` (the stimuli's labels, cross-entropy), ``teacher`` (distil the soft predictions
        of the model before fine-tuning: ``T^2 KL(softmax(t/T) || softmax(s/T))``) or ``auto``
        (``dataset`` when the file has labels, else ``teacher``).
    saliency : str
        Which map of the model is aligned: ``head`` (the attention head's map) or ``gradient``
        (input-gradient saliency of the target class, trained through by double backprop).
    temperature : float
        Distillation temperature T (``labels='teacher'``).
    label_smoothing : float
        Cross-entropy label smoothing (``labels='dataset'``; the Harmonizer uses 0.1).
    train_split, val_split : str
        Stored split names; when the file has none, a random stimulus split (80/20, ``seed``).
    train_limit, val_limit : int or None
        Use only the first N stimuli of each split (quick runs on a small machine).
    seed : int
        Seed of initialisation, split, shuffling, augmentation and noise.
    augment : bool
        Random horizontal flips of image and maps together.
    weights : str or None
        State dict for a torchvision trunk.
    high_res : bool or None
        Stride-16 ResNet trunk (default: only for ``brnpa``).
    freeze_bn : bool or None
        Keep the trunk in evaluation mode while training: batch-norm running statistics fixed,
        and no stochastic depth or dropout inside it (its weights still train). Default (None):
        True for pretrained trunks (``efficientnet_lite0``, or ``weights`` given), whose statistics
        a few fine-tuning images would drift and whose stochastic depth would make the student
        differ from its teacher at zero training (Adam turns that noise into full-size steps),
        False otherwise.
    amp : bool
        Mixed precision (autocast to bfloat16 where the GPU supports it, else float16 with a
        gradient scaler). GPU only.
    head_options : dict
        Extra head arguments (e.g. ``{"n_parts": 3}``).
    """

    model: str = "resnet18"
    attention: str = "aib"
    loss: str = "kl"
    lam: float = 1.0
    lambda_schedule: str = "linear"
    warmup_epochs: float = 1.0
    epochs: int = 5
    batch_size: int = 16
    lr: float | None = None
    weight_decay: float = 0.0
    input_size: int = 128
    labels: str = "dataset"
    saliency: str = "head"
    temperature: float = 2.0
    label_smoothing: float = 0.0
    train_split: str = "train"
    val_split: str = "val"
    train_limit: int | None = None
    val_limit: int | None = None
    seed: int = 0
    augment: bool = True
    weights: str | None = None
    high_res: bool | None = None
    freeze_bn: bool | None = None
    amp: bool = False
    head_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ParameterError` for a value outside its range."""
        if self.loss not in LOSSES:
            raise ParameterError("loss", self.loss, f"one of {sorted(LOSSES)}")
        if self.labels not in ("dataset", "teacher", "auto"):
            raise ParameterError("labels", self.labels, "'dataset', 'teacher' or 'auto'")
        if self.saliency not in ("head", "gradient"):
            raise ParameterError("saliency", self.saliency, "'head' (the attention head's map) or 'gradient'")
        for name in ("epochs", "batch_size", "input_size"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(name, getattr(self, name), "an integer >= 1")
        for name in ("train_limit", "val_limit"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ParameterError(name, getattr(self, name), "None or a number of stimuli >= 1")
        if self.lr is not None and not self.lr > 0:
            raise ParameterError("lr", self.lr, "None (the default for the trunk) or a learning rate > 0")
        if not self.temperature > 0:
            raise ParameterError("temperature", self.temperature, "a temperature > 0")
        if not 0 <= self.label_smoothing < 1:
            raise ParameterError("label_smoothing", self.label_smoothing, "a value in [0, 1)")
        LambdaSchedule(self.lam, self.lambda_schedule, self.warmup_epochs)

    @property
    def pretrained(self) -> bool:
        """Whether the trunk starts from trained weights (``efficientnet_lite0``, or ``weights`` given)."""
        return self.model == "efficientnet_lite0" or self.weights is not None

    @property
    def learning_rate(self) -> float:
        """``lr``, or its default: 1e-5 for a pretrained trunk, else 1e-3."""
        if self.lr is not None:
            return float(self.lr)
        return 1e-5 if self.pretrained else 1e-3

    @property
    def keeps_bn(self) -> bool:
        """Whether batch-norm statistics stay fixed (``freeze_bn``, or its pretrained default)."""
        if self.freeze_bn is not None:
            return bool(self.freeze_bn)
        return self.pretrained


#: Named recipes: settings :func:`recipe` lays over :class:`AlignConfig`'s defaults.
#: ``harmonizer``: the Neural Harmonizer (Fel et al. 2022): the pyramid loss on the input-gradient
#: saliency of the true class (double backprop), true labels when the dataset has them (else the
#: model's own soft predictions), label smoothing 0.1, constant lambda 1. ``cam-distill``: the CAM
#: head's map with the KL loss while distilling the model's own predictions.
RECIPES: dict[str, dict[str, Any]] = {
    "harmonizer": {
        "attention": "cam",
        "saliency": "gradient",
        "loss": "pyramid",
        "labels": "auto",
        "label_smoothing": 0.1,
        "lam": 1.0,
        "lambda_schedule": "constant",
    },
    "cam-distill": {
        "attention": "cam",
        "saliency": "head",
        "loss": "kl",
        "labels": "teacher",
        "lam": 1.0,
        "lambda_schedule": "constant",
    },
}


def recipe(name: str, **overrides: Any) -> AlignConfig:
    """An :class:`AlignConfig` from a named recipe (:data:`RECIPES`) with ``overrides`` on top.

    Examples
    --------
    >>> cfg = recipe("harmonizer", model="efficientnet_lite0", epochs=3)
    >>> cfg.saliency, cfg.loss, cfg.labels
    ('gradient', 'pyramid', 'auto')
    """
    if name not in RECIPES:
        raise ParameterError("recipe", name, f"one of {sorted(RECIPES)}")
    return replace(AlignConfig(), **{**RECIPES[name], **overrides})


@dataclass
class TrainResult:
    """What :func:`align` returns.

    Attributes
    ----------
    out : Path
        The run folder (``metrics.csv``, ``checkpoint.pt``, ``model.pt``, ``config.json``).
    history : pandas.DataFrame
        One row per epoch (all epochs, also those before a resume).
    model : AttentionNet
        The trained model (evaluation mode).
    """

    out: Path
    history: pd.DataFrame
    model: AttentionNet


@dataclass
class _Data:
    images: torch.Tensor  # (N, 3, S, S) uint8
    saliency: torch.Tensor  # (N, S, S) float32, sums to 1
    fixations: torch.Tensor  # (N, S, S) float32 counts
    labels: torch.Tensor  # (N,) int64, -1 where unknown
    ids: list[str]


def _split_rows(path: Path, cfg: AlignConfig) -> tuple[Split | str, Split | str]:
    import h5py

    with h5py.File(path, "r") as f:
        stored = list(f["stimuli/split"].asstr()[()])
    if cfg.train_split in stored and cfg.val_split in stored:
        rows = [np.flatnonzero(np.asarray(stored) == s) for s in (cfg.train_split, cfg.val_split)]
        names = (cfg.train_split, cfg.val_split)
    else:
        splits = make_splits(path, fractions=(0.8, 0.2), names=("train", "val"), seed=cfg.seed)
        rows = [np.asarray(splits[s].stimuli) for s in ("train", "val")]
        names = ("train", "val")
    limits = (cfg.train_limit, cfg.val_limit)
    chosen = zip(names, rows, limits, strict=True)
    return tuple(Split(n, stimuli=tuple(int(k) for k in r[:lim])) for n, r, lim in chosen)


def load_data(path: str | Path, split: Split | str | None, *, input_size: int, progress=None) -> _Data:
    """Read a split into memory at ``input_size`` px: images, saliency maps, fixation counts, labels.

    Parameters
    ----------
    path : str or Path
        The HDF5 dataset (this process opens its own read-only handle).
    split : Split, str or None
        Which stimuli (see :class:`~gazelab.datasets.GazeDataset`).
    input_size : int
        Side of the square the images and maps are resized to, px.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    _Data
        ``images`` uint8 ``(N, 3, S, S)``, ``saliency`` ``(N, S, S)`` summing to 1, ``fixations``
        ``(N, S, S)`` counts, ``labels`` ``(N,)`` int64 indices into the dataset's ``classes``
        (-1 for stimuli without a label), ``ids``.
    """
    ds = GazeDataset(
        path,
        split,
        transforms=JointResize((input_size, input_size)),
        targets=("saliency", "fixation_map", "label", "stimulus"),
    )
    n = len(ds)
    images = torch.empty((n, 3, input_size, input_size), dtype=torch.uint8)
    sal = torch.empty((n, input_size, input_size))
    fix = torch.empty((n, input_size, input_size))
    labels = torch.full((n,), -1, dtype=torch.int64)
    ids = []
    show = sys.stderr.isatty() if progress is None else progress
    for i in tqdm(range(n), desc="loading", unit="img", disable=not show, leave=False):
        item = ds[i]
        images[i] = (item["image"] * 255).round().to(torch.uint8)
        sal[i] = item["saliency"][0]
        fix[i] = item["fixation_map"][0]
        labels[i] = item["label"]
        ids.append(item["stimulus"])
    ds.close()
    return _Data(images, sal, fix, labels, ids)


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of each pair of maps ``(B, H, W)`` -> ``(B,)`` (ties: ordinal ranks)."""
    ra = a.flatten(1).argsort(1).argsort(1).to(torch.float64)
    rb = b.flatten(1).argsort(1).argsort(1).to(torch.float64)
    ra = ra - ra.mean(1, keepdim=True)
    rb = rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)


def attention_agreement(
    attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor, others: torch.Tensor | None = None
) -> dict[str, np.ndarray]:
    """Per-image agreement of model attention with human gaze: CC, NSS, AUC-Judd, sAUC, Spearman, KL.

    Parameters
    ----------
    attention : Tensor
        ``(B, h, w)`` model maps (upsampled bilinearly to the human maps' size).
    human : Tensor
        ``(B, H, W)`` human saliency maps.
    fixations : Tensor
        ``(B, H, W)`` fixation counts.
    others : Tensor, optional
        ``(B, H, W)`` counts of the fixations on *other* stimuli (the negatives of shuffled AUC);
        without it ``sauc`` is left out; it is NaN for an image whose ``others`` is empty.

    Returns
    -------
    dict
        ``cc``, ``nss``, ``auc_judd``, ``sauc``, ``spearman``, ``kld``: arrays of B values
        (metrics of :mod:`gazelab.analysis.metrics`, MIT conventions; Spearman over all pixels).
    """
    a = F.interpolate(attention[:, None].float(), size=human.shape[1:], mode="bilinear", align_corners=False)[:, 0]
    a = a.clamp_min(0) + 1e-12  # constant maps stay defined
    out = {"cc": M.cc(a, human), "nss": M.nss(a, fixations), "auc_judd": M.auc_judd(a, fixations)}
    out["kld"] = M.kld(a, human)
    if others is not None:  # NaN where no other stimulus has a fixation inside this image
        has = others.flatten(1).sum(1) > 0
        sauc = torch.full((a.shape[0],), float("nan"), dtype=torch.float64)
        if bool(has.any()):
            sauc[has.cpu()] = torch.as_tensor(M.auc_shuffled(a[has], fixations[has], others[has])).double().cpu()
        out["sauc"] = sauc
    res = {k: np.asarray(torch.as_tensor(v).detach().cpu(), dtype=float) for k, v in out.items()}
    res["spearman"] = spearman(a, human).cpu().numpy()
    return res


# -- the run: its state and the named steps of align() --------------------------------------------
@dataclass
class _Run:
    cfg: AlignConfig
    ctx: D.Context
    out: Path
    model: AttentionNet
    net: nn.Module  # the model, in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    schedule: LambdaSchedule
    train: _Data
    val: _Data
    teacher: nn.Module | None  # a frozen copy of the model before fine-tuning (labels='teacher')
    teacher_val: torch.Tensor  # (N_val, C) its held-out logits
    class_names: list[str]
    show: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    start: int = 0


def _amp_dtype(cfg: AlignConfig) -> torch.dtype | None:
    """The autocast type of ``amp`` (bfloat16 where the GPU has it, else float16), None without it."""
    if not cfg.amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(run: _Run) -> contextlib.AbstractContextManager:
    if not run.cfg.amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=_amp_dtype(run.cfg))


def _check_folder(out: Path, cfg: AlignConfig, ctx: D.Context, resume: bool) -> bool:
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise ParameterError("out", str(out), "a new folder (it holds a checkpoint: pass resume=True / --resume)")
    if cfg.amp and ctx.device.type != "cuda":
        raise ParameterError("amp", True, "a CUDA device (mixed precision is for GPUs; drop --amp on CPU)")
    return resume and ckpt.exists()


def _load_splits(dataset: Path, cfg: AlignConfig, show: bool) -> tuple[_Data, _Data, list[str]]:
    train_split, val_split = _split_rows(dataset, cfg)
    probe = GazeDataset(dataset, targets=("label",))
    classes = list(probe.classes)
    if cfg.labels == "dataset" and not classes:
        raise ParameterError("labels", "dataset", "a dataset with stimulus labels, or labels='teacher'")
    train = load_data(dataset, train_split, input_size=cfg.input_size, progress=show)
    val = load_data(dataset, val_split, input_size=cfg.input_size, progress=show)
    if len(train.ids) == 0 or len(val.ids) == 0:
        raise ParameterError("dataset", str(dataset), "stimuli in both the training and the held-out split")
    return train, val, classes


def _build(cfg: AlignConfig, *, n_classes: int) -> AttentionNet:
    return AttentionNet(
        cfg.model, cfg.attention, n_classes, weights=cfg.weights, high_res=cfg.high_res, **cfg.head_options
    )


def _n_classes(cfg: AlignConfig, classes: list[str]) -> int:
    if cfg.labels == "dataset":
        return len(classes)
    return 1000 if cfg.model == "efficientnet_lite0" else 10  # the pretrained head's ImageNet classes


@torch.no_grad()
def _logits(model: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(model(images[i : i + batch_size].to(device).float().div_(255))["logits"].float().cpu())
    return torch.cat(out)


def _teacher(model: AttentionNet, val: _Data, cfg: AlignConfig, dev: torch.device):
    """The model before fine-tuning: a frozen copy (for distillation) and its held-out logits.

    The copy runs on each training batch as the student sees it, so that before the first step
    student and teacher agree bit for bit and distillation starts from exactly zero gradient
    (logits precomputed in other batches differ by float rounding, which Adam, being scale-free,
    would turn into full learning-rate steps).
    """
    val_logits = _logits(model, val.images, cfg.batch_size, dev)
    if cfg.labels != "teacher":
        return None, val_logits
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    return teacher, val_logits


def _restore(run: _Run, path: Path) -> None:
    try:  # tensors and plain data only: a planted checkpoint cannot run code
        state = torch.load(path, map_location=run.ctx.device, weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError and friends: not our checkpoint
        raise ParseError(
            path, f"not a gazelab checkpoint of tensors and plain data ({type(exc).__name__}); refused"
        ) from None
    diff = {k: v for k, v in asdict(run.cfg).items() if k not in ("epochs", "amp") and state["config"].get(k) != v}
    if diff:
        raise ParameterError("config", diff, f"the settings of the run in {run.out} to resume it")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    run.history = list(state["history"])
    run.start = int(state["epoch"]) + 1


def _prepare(dataset: Path, out: Path, cfg: AlignConfig, ctx: D.Context, resume: bool, show: bool) -> _Run:
    """Data, model, teacher, optimizer; the checkpoint when resuming; epoch 0 when starting."""
    resume = _check_folder(out, cfg, ctx, resume)
    train, val, classes = _load_splits(dataset, cfg, show)
    if cfg.labels == "auto":
        cfg = replace(cfg, labels="dataset" if classes else "teacher")
    cfg = replace(cfg, lr=cfg.learning_rate)  # the rate used, in config.json and the checkpoint
    torch.manual_seed(cfg.seed)
    model = _build(cfg, n_classes=_n_classes(cfg, classes)).to(ctx.device)
    teacher, teacher_val = _teacher(model, val, cfg, ctx.device)
    scaler = torch.amp.GradScaler("cuda", enabled=_amp_dtype(cfg) == torch.float16)
    run = _Run(
        cfg,
        ctx,
        out,
        model,
        D.wrap(model, ctx),
        torch.optim.Adam(model.param_groups(cfg.lr), lr=cfg.lr, weight_decay=cfg.weight_decay),
        scaler,
        LambdaSchedule(cfg.lam, cfg.lambda_schedule, cfg.warmup_epochs),
        train,
        val,
        teacher,
        teacher_val,
        classes,
        show,
    )
    if resume:
        _restore(run, out / "checkpoint.pt")
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    if run.start == 0:
        row = {"epoch": 0, "lambda": math.nan, "world_size": ctx.world_size, "train_items": 0}
        run.history.append({**row, **_evaluate(run), "seconds": 0.0, "images_per_s": math.nan})
    return run


def _train_mode(run: _Run) -> None:
    """Training mode; a kept pretrained trunk stays in evaluation mode (see ``AlignConfig.freeze_bn``)."""
    run.net.train()
    if run.cfg.keeps_bn:
        run.model.trunk.eval()


def _task_loss(run: _Run, logits: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None) -> torch.Tensor:
    if teacher is not None:  # distillation (Hinton et al. 2015): T^2 KL(teacher || student) at temperature T
        # the gradient is taken as T (softmax(s/T) - softmax(t/T)) / B, exactly zero where student ==
        # teacher: autograd through log_softmax leaves ~1e-16 residues there, which Adam (scale-free)
        # grows step by step into full learning-rate steps, drifting the model
        t = run.cfg.temperature
        student = F.log_softmax(logits.double() / t, 1)
        kl = F.kl_div(student, F.log_softmax(teacher.double() / t, 1), log_target=True, reduction="batchmean")
        diff = (F.softmax(logits.double() / t, 1) - F.softmax(teacher.double() / t, 1)).detach()
        surrogate = (diff * logits.double()).sum() * (t / len(logits))
        return (surrogate + (kl * t * t - surrogate).detach()).float()
    return F.cross_entropy(logits.float(), y, label_smoothing=run.cfg.label_smoothing)


def _step(run: _Run, idx: torch.Tensor, flips: torch.Tensor, lam: float) -> dict[str, float]:
    """One optimisation step on the items ``idx``; returns the batch's sums."""
    cfg, dev, data = run.cfg, run.ctx.device, run.train
    fl = flips[idx]
    x = _flip(data.images[idx], fl).to(dev).float().div_(255)
    human = _flip(data.saliency[idx], fl).to(dev)
    fix = _flip(data.fixations[idx], fl).to(dev)
    teacher = None
    if run.teacher is not None:
        with torch.no_grad(), _autocast(run):
            teacher = run.teacher(x)["logits"].float()
    y = data.labels[idx].to(dev) if teacher is None else teacher.argmax(1)
    gradient = cfg.saliency == "gradient"
    if gradient:
        x.requires_grad_(True)
    with _autocast(run):
        out = run.net(x, y)
        task = _task_loss(run, out["logits"], y, teacher)
        if gradient:
            att = gradient_saliency(out["logits"], x, y, create_graph=True)
        else:
            att = combine_attention(out["attention"])
        al = alignment_loss(cfg.loss, att.float(), human, fix)
        loss = task + out["aux_loss"].float() + lam * al
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    k = len(idx)
    return {
        "loss": float(loss.detach()) * k,
        "task": float(task.detach()) * k,
        "align": float(al.detach()) * k,
        "correct": float((out["logits"].detach().argmax(1) == y).sum()),
        "items": float(k),
    }


def _flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[mask] = x[mask].flip(-1)
    return x


def _train_epoch(run: _Run, epoch: int) -> dict[str, Any]:
    """One epoch over this process' share of the items; sums reduced over processes."""
    cfg, ctx = run.cfg, run.ctx
    t0 = time.perf_counter()
    n = len(run.train.ids)
    mine = D.shard(n, epoch, cfg.seed, ctx)
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    flips = torch.rand(n, generator=gen) < 0.5 if cfg.augment else torch.zeros(n, dtype=torch.bool)
    torch.manual_seed(cfg.seed * 100_003 + epoch + 7_919 * ctx.rank)
    _train_mode(run)
    sums = {"loss": 0.0, "task": 0.0, "align": 0.0, "correct": 0.0, "items": 0.0}
    starts = range(0, len(mine), cfg.batch_size)
    bar = tqdm(starts, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not run.show, leave=False)
    with D.uneven(run.net, ctx):
        for b, i in enumerate(bar):
            lam = run.schedule(epoch + b / max(1, len(starts)))
            for k, v in _step(run, torch.tensor(mine[i : i + cfg.batch_size]), flips, lam).items():
                sums[k] += v
            bar.set_postfix(loss=f"{sums['loss'] / sums['items']:.3f}")
    sums = D.reduce_sums(sums, ctx)
    seconds = time.perf_counter() - t0
    items = max(sums["items"], 1.0)
    return {
        "epoch": epoch + 1,
        "lambda": float(run.schedule(epoch + 1 - 1e-9)),
        "world_size": ctx.world_size,
        "train_items": int(sums["items"]),
        "train_loss": sums["loss"] / items,
        "train_task_loss": sums["task"] / items,
        "train_alignment_loss": sums["align"] / items,
        "train_accuracy": sums["correct"] / items,
        "images_per_s": sums["items"] / seconds,
        "_seconds": seconds,
    }


def _maps(run: _Run, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits, the head's map and (for ``saliency='gradient'``) the gradient saliency of the predicted class."""
    model = run.model
    if run.cfg.saliency != "gradient":
        with torch.no_grad():
            out = model(x)
        return {"logits": out["logits"].float(), "aligned": combine_attention(out["attention"]).float()}
    x = x.clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(x)
        grad = gradient_saliency(out["logits"], x, out["logits"].detach().argmax(1))
    head = combine_attention(out["attention"]).detach().float()
    return {"logits": out["logits"].detach().float(), "aligned": grad.detach().float(), "head": head}


def _teacher_scores(logits: torch.Tensor, teacher: torch.Tensor) -> dict[str, np.ndarray]:
    t1 = teacher.argmax(1)
    top5 = logits.topk(min(5, logits.shape[1]), 1).indices
    kl = F.kl_div(F.log_softmax(logits, 1), F.log_softmax(teacher, 1), log_target=True, reduction="none").sum(1)
    return {
        "teacher_top1": (logits.argmax(1) == t1).double().numpy(),
        "teacher_top5": (top5 == t1[:, None]).any(1).double().numpy(),
        "teacher_kl": kl.double().numpy(),
    }


def _evaluate(run: _Run) -> dict[str, float]:
    """Held-out scores: this process' share of the images, summed over processes, then means."""
    cfg, ctx, val = run.cfg, run.ctx, run.val
    run.model.eval()
    rows = torch.arange(ctx.rank, len(val.ids), ctx.world_size)
    total_fix = val.fixations.sum(0)
    sums: dict[str, float] = {}
    for i in range(0, len(rows), cfg.batch_size):
        r = rows[i : i + cfg.batch_size]
        with _autocast(run):
            pred = _maps(run, val.images[r].to(ctx.device).float().div_(255))
        logits = pred["logits"].cpu()
        scores = _teacher_scores(logits, run.teacher_val[r])
        known = val.labels[r] >= 0
        scores["accuracy"] = (logits.argmax(1) == val.labels[r]).double().numpy()[known.numpy()]
        others = total_fix[None] - val.fixations[r]
        for prefix in ("aligned", "head"):
            if prefix in pred:
                agree = attention_agreement(pred[prefix].cpu(), val.saliency[r], val.fixations[r], others)
                tag = "" if prefix == "aligned" else "head_"
                scores.update({f"{tag}{k}": v for k, v in agree.items()})
        for k, v in scores.items():
            v = np.asarray(v, dtype=float)
            if k.endswith("sauc"):  # undefined (NaN) where no other image has a fixation inside: left out
                v = v[np.isfinite(v)]
            sums[k] = sums.get(k, 0.0) + float(np.sum(v))
            sums[f"n_{k}"] = sums.get(f"n_{k}", 0.0) + float(len(v))
    sums = D.reduce_sums(sums, ctx)
    keys = [k for k in sums if not k.startswith("n_")]
    return {f"val_{k}": (sums[k] / sums[f"n_{k}"] if sums[f"n_{k}"] else math.nan) for k in sorted(keys)}


def _save(path: Path, obj: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Python numbers only, so the checkpoint loads with ``weights_only=True``."""
    return {k: (v if isinstance(v, str | int) and not isinstance(v, bool) else float(v)) for k, v in row.items()}


def _end_epoch(run: _Run, epoch: int, row: dict[str, Any]) -> None:
    """Log the epoch; rank 0 writes the checkpoint and metrics.csv."""
    seconds = row.pop("_seconds")
    run.history.append(_plain({**row, **_evaluate(run), "seconds": seconds}))
    if run.ctx.is_main:
        state = {
            "config": asdict(run.cfg),
            "epoch": epoch,
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(),
            "history": run.history,
            "class_names": run.class_names,
        }
        _save(run.out / "checkpoint.pt", state)
        with atomic_path(run.out / "metrics.csv") as tmp:
            pd.DataFrame(run.history).to_csv(tmp, index=False)
    if run.show and run.ctx.is_main:
        h = run.history[-1]
        tqdm.write(
            f"epoch {epoch + 1}: loss {h['train_loss']:.3f}, teacher top-1 {h['val_teacher_top1']:.3f}, "
            f"val CC {h['val_cc']:.3f}, NSS {h['val_nss']:.3f}, {h['images_per_s']:.1f} img/s"
        )


def _finish(run: _Run) -> TrainResult:
    frame = pd.DataFrame(run.history)
    if run.ctx.is_main:
        with atomic_path(run.out / "metrics.csv") as tmp:
            frame.to_csv(tmp, index=False)
        state = {"config": asdict(run.cfg), "model": run.model.state_dict(), "class_names": run.class_names}
        _save(run.out / "model.pt", state)
    D.barrier(run.ctx)
    run.model.eval()
    return TrainResult(run.out, frame, run.model)


def align(
    dataset: str | Path,
    out: str | Path,
    config: AlignConfig | None = None,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """Train a model whose attention is pushed towards human gaze; log, checkpoint, resume.

    The loss per batch is ``task + aux + lambda(epoch) * alignment(map, human)``: task is the
    cross-entropy to the dataset's labels, or with ``labels='teacher'`` the distillation
    ``T^2 KL(softmax(teacher/T) || softmax(student/T))`` to the logits of the model before
    fine-tuning; aux is the head's regulariser (AIB's KL and quantisation terms); map is the
    head's attention or the input-gradient saliency (``config.saliency``); lambda follows
    ``config.lambda_schedule`` (``config.lam = 0`` is the control run).

    Under ``torchrun`` (``torchrun --standalone --nproc_per_node=N -m gazelab align ...``) each
    process trains on its share of the items with DistributedDataParallel (gloo on CPU, NCCL on
    GPU); sums are reduced over processes and rank 0 writes the files.

    Parameters
    ----------
    dataset : str or Path
        A gazelab HDF5 dataset with saliency maps (and labels unless ``labels='teacher'``).
    out : str or Path
        Run folder, created if missing. A folder that already holds a checkpoint is refused
        unless ``resume=True``.
    config : AlignConfig, optional
        The run's settings (defaults: ``AlignConfig()``; named presets: :func:`recipe`).
    resume : bool, optional
        Continue from ``out/checkpoint.pt``: its config must match ``config`` except
        ``epochs`` (which may grow) and ``amp``.
    device : str, optional
        ``'cpu'`` or ``'cuda'`` (default: CUDA when available, else CPU).
    progress : bool, optional
        Progress bars (default: when stderr is a terminal; rank 0 only).

    Returns
    -------
    TrainResult
        ``history`` has one row per epoch, epoch 0 being the model before training: ``world_size``,
        ``train_items`` (summed over processes), training losses and accuracy, held-out
        ``val_teacher_top1`` / ``val_teacher_top5`` / ``val_teacher_kl`` (against the model before
        fine-tuning), ``val_accuracy`` (dataset labels), the aligned map's ``val_cc``,
        ``val_nss``, ``val_auc_judd``, ``val_sauc``, ``val_spearman``, ``val_kld`` (and the head's
        map as ``val_head_*`` when the gradient saliency is aligned), ``seconds``, ``images_per_s``.

    Raises
    ------
    ParameterError
        Bad settings, a dataset without labels for ``labels='dataset'``, ``amp`` without a GPU, or
        an existing run folder without ``resume``.
    """
    cfg = config or AlignConfig()
    cfg.check()
    ctx = D.setup(device)
    show = (sys.stderr.isatty() if progress is None else progress) and ctx.is_main
    try:
        run = _prepare(Path(dataset), Path(out), cfg, ctx, resume, show)
        for epoch in range(run.start, run.cfg.epochs):
            _end_epoch(run, epoch, _train_epoch(run, epoch))
        return _finish(run)
    finally:
        D.teardown(ctx)
