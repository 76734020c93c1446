"""Human-attention alignment training: task loss + lambda(t) * alignment loss, with resume.

:func:`align` trains an :class:`~gazelab.models.AttentionNet` on a gazelab HDF5 dataset:
images and human saliency maps at one input size, labels from the dataset (``/stimuli/label``)
or from the model's own predictions before training (``labels='teacher'``, the Neural
Harmonizer's protocol when the model is pretrained). Every epoch it logs, on a held-out split,
the task accuracy and the agreement of the model's attention with the human maps (CC, NSS,
Spearman, KL), writes ``metrics.csv`` and a checkpoint; ``resume=True`` continues from the
checkpoint and gives the same weights as an uninterrupted run (every epoch's randomness is
seeded from ``seed`` and the epoch number).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gazelab._io import atomic_path
from gazelab.analysis import metrics as M
from gazelab.datasets.gaze_dataset import GazeDataset, Split, make_splits
from gazelab.datasets.transforms import Resize
from gazelab.errors import ParameterError, ParseError
from gazelab.models.losses import LOSSES, LambdaSchedule, alignment_loss
from gazelab.models.net import AttentionNet, combine_attention

__all__ = ["AlignConfig", "TrainResult", "align", "attention_agreement", "load_data", "spearman"]


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
        Images per step.
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam weight decay.
    input_size : int
        Images and maps are resized to ``input_size x input_size`` px.
    labels : str
        ``dataset`` (the stimuli's labels) or ``teacher`` (the untrained model's own predictions).
    train_split, val_split : str
        Stored split names; when the file has none, a random stimulus split (80/20, ``seed``).
    seed : int
        Seed of initialisation, shuffling, augmentation and noise.
    augment : bool
        Random horizontal flips of image and maps together.
    weights : str or None
        State dict for a torchvision trunk.
    high_res : bool or None
        Stride-16 ResNet trunk (default: only for ``brnpa``).
    freeze_bn : bool
        Keep batch-norm layers in evaluation mode (their running statistics fixed) while
        training: for fine-tuning a pretrained model on few images, where batch statistics
        would drift it.
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
    lr: float = 1e-3
    weight_decay: float = 0.0
    input_size: int = 128
    labels: str = "dataset"
    train_split: str = "train"
    val_split: str = "val"
    seed: int = 0
    augment: bool = True
    weights: str | None = None
    high_res: bool | None = None
    freeze_bn: bool = False
    head_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ParameterError` for a value outside its range."""
        if self.loss not in LOSSES:
            raise ParameterError("loss", self.loss, f"one of {sorted(LOSSES)}")
        if self.labels not in ("dataset", "teacher"):
            raise ParameterError("labels", self.labels, "'dataset' or 'teacher'")
        for name in ("epochs", "batch_size", "input_size"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(name, getattr(self, name), "an integer >= 1")
        if not self.lr > 0:
            raise ParameterError("lr", self.lr, "a learning rate > 0")
        LambdaSchedule(self.lam, self.lambda_schedule, self.warmup_epochs)


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
    labels: torch.Tensor  # (N,) int64
    ids: list[str]


def _split_rows(path: Path, cfg: AlignConfig) -> tuple[Split | str, Split | str]:
    import h5py

    with h5py.File(path, "r") as f:
        stored = set(f["stimuli/split"].asstr()[()])
    if cfg.train_split in stored and cfg.val_split in stored:
        return cfg.train_split, cfg.val_split
    splits = make_splits(path, fractions=(0.8, 0.2), names=("train", "val"), seed=cfg.seed)
    return splits["train"], splits["val"]


def load_data(
    path: str | Path, split: Split | str | None, *, input_size: int, class_names: list[str] | None = None, progress=None
) -> _Data:
    """Read a split into memory at ``input_size`` px: images, saliency maps, fixation counts, labels.

    Parameters
    ----------
    path : str or Path
        The HDF5 dataset.
    split : Split, str or None
        Which stimuli (see :class:`~gazelab.datasets.GazeDataset`).
    input_size : int
        Side of the square the images and maps are resized to, px.
    class_names : list of str, optional
        Label names in class-index order (default: the dataset's sorted label names; stimuli
        without a label get -1).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    _Data
        ``images`` uint8 ``(N, 3, S, S)``, ``saliency`` ``(N, S, S)`` summing to 1, ``fixations``
        ``(N, S, S)`` counts, ``labels`` ``(N,)`` int64, ``ids``.
    """
    ds = GazeDataset(
        path,
        split,
        transform=Resize((input_size, input_size)),
        targets=("saliency", "fixation_map", "label", "stimulus"),
    )
    names = class_names if class_names is not None else ds.label_names
    index = {n: i for i, n in enumerate(names)}
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
        labels[i] = index.get(item["label"], -1)
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


def attention_agreement(attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image agreement of model attention with human gaze: CC, NSS, Spearman, KL.

    Parameters
    ----------
    attention : Tensor
        ``(B, h, w)`` model maps (upsampled bilinearly to the human maps' size).
    human : Tensor
        ``(B, H, W)`` human saliency maps.
    fixations : Tensor
        ``(B, H, W)`` fixation counts.

    Returns
    -------
    dict
        ``cc``, ``nss``, ``spearman``, ``kld``: arrays of B values (metrics of
        :mod:`gazelab.analysis.metrics`; Spearman over all pixels).
    """
    a = F.interpolate(attention[:, None].float(), size=human.shape[1:], mode="bilinear", align_corners=False)[:, 0]
    a = a.clamp_min(0) + 1e-12  # constant maps stay defined
    out = {
        "cc": M.cc(a, human),
        "nss": M.nss(a, fixations),
        "kld": M.kld(a, human),
    }
    res = {k: np.asarray(torch.as_tensor(v).detach().cpu(), dtype=float) for k, v in out.items()}
    res["spearman"] = spearman(a, human).cpu().numpy()
    return res


def _predict(model: AttentionNet, images: torch.Tensor, batch_size: int, device: torch.device) -> dict[str, Any]:
    model.eval()
    logits, att = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size].to(device).float().div_(255)
            out = model(x)
            logits.append(out["logits"].cpu())
            att.append(combine_attention(out["attention"]).cpu())
    return {"logits": torch.cat(logits), "attention": torch.cat(att)}


def _evaluate(model: AttentionNet, data: _Data, cfg: AlignConfig, device: torch.device) -> dict[str, float]:
    pred = _predict(model, data.images, cfg.batch_size, device)
    known = data.labels >= 0
    acc = float((pred["logits"].argmax(1)[known] == data.labels[known]).float().mean()) if known.any() else math.nan
    agree = attention_agreement(pred["attention"], data.saliency, data.fixations)
    return {"val_accuracy": acc, **{f"val_{k}": float(np.mean(v)) for k, v in agree.items()}}


def _flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[mask] = x[mask].flip(-1)
    return x


def _save(path: Path, obj: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


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

    The loss per batch is ``CE(logits, labels) + aux + lambda(epoch) * alignment(attention,
    human)``, where aux is the head's regulariser (AIB's KL and quantisation terms) and
    lambda follows ``config.lambda_schedule`` (``config.lam = 0`` is the control run).

    Parameters
    ----------
    dataset : str or Path
        A gazelab HDF5 dataset with saliency maps (and labels unless ``labels='teacher'``).
    out : str or Path
        Run folder, created if missing. A folder that already holds a checkpoint is refused
        unless ``resume=True``.
    config : AlignConfig, optional
        The run's settings (defaults: ``AlignConfig()``).
    resume : bool, optional
        Continue from ``out/checkpoint.pt``: its config must match ``config`` except
        ``epochs``, which may grow (train further).
    device : str, optional
        ``'cpu'``, ``'cuda'``, ... (default: CUDA when available, else CPU).
    progress : bool, optional
        Progress bars (default: when stderr is a terminal).

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        Bad settings, a dataset without labels for ``labels='dataset'``, or an existing run
        folder without ``resume``.
    """
    cfg = config or AlignConfig()
    cfg.check()
    dataset, out = Path(dataset), Path(out)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise ParameterError("out", str(out), "a new folder (it holds a checkpoint: pass resume=True / --resume)")
    if resume and not ckpt_path.exists():
        resume = False
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    show = sys.stderr.isatty() if progress is None else progress
    out.mkdir(parents=True, exist_ok=True)

    train_split, val_split = _split_rows(dataset, cfg)
    probe = GazeDataset(dataset, targets=("label",))
    class_names = probe.label_names
    if cfg.labels == "dataset" and not class_names:
        raise ParameterError("labels", "dataset", "a dataset with stimulus labels, or labels='teacher'")
    train = load_data(dataset, train_split, input_size=cfg.input_size, class_names=class_names, progress=show)
    val = load_data(dataset, val_split, input_size=cfg.input_size, class_names=class_names, progress=show)

    torch.manual_seed(cfg.seed)
    if cfg.labels == "dataset":
        n_classes = len(class_names)
    else:  # the untrained model's own predictions (its ImageNet classes for the pretrained CNN)
        n_classes = 1000 if cfg.model == "efficientnet_lite0" else 10
    model = _build(cfg, n_classes=n_classes).to(dev)
    if cfg.labels == "teacher":
        train.labels = _predict(model, train.images, cfg.batch_size, dev)["logits"].argmax(1)
        val.labels = _predict(model, val.images, cfg.batch_size, dev)["logits"].argmax(1)
    optimizer = torch.optim.Adam(model.param_groups(cfg.lr), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = LambdaSchedule(cfg.lam, cfg.lambda_schedule, cfg.warmup_epochs)

    history: list[dict[str, Any]] = []
    start = 0
    if resume:
        try:  # tensors and plain data only: a planted checkpoint cannot run code
            state = torch.load(ckpt_path, map_location=dev, weights_only=True)
        except Exception as exc:  # pickle.UnpicklingError and friends: not our checkpoint
            raise ParseError(
                ckpt_path, f"not a gazelab checkpoint of tensors and plain data ({type(exc).__name__}); refused"
            ) from None
        diff = {k: v for k, v in asdict(cfg).items() if k != "epochs" and state["config"].get(k) != v}
        if diff:
            raise ParameterError("config", diff, f"the settings of the run in {out} to resume it")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = list(state["history"])
        start = int(state["epoch"]) + 1
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    if start == 0:
        history.append({"epoch": 0, "lambda": math.nan, **_evaluate(model, val, cfg, dev), "seconds": 0.0})

    n = len(train.labels)
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen)
        flips = torch.rand(n, generator=gen) < 0.5 if cfg.augment else torch.zeros(n, dtype=torch.bool)
        model.train()
        if cfg.freeze_bn:
            for m in model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        sums = {"loss": 0.0, "task": 0.0, "align": 0.0, "correct": 0.0, "seen": 0}
        steps = range(0, n, cfg.batch_size)
        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not show, leave=False)
        for b, i in enumerate(bar):
            idx = order[i : i + cfg.batch_size]
            fl = flips[idx]
            x = _flip(train.images[idx], fl).to(dev).float().div_(255)
            human = _flip(train.saliency[idx], fl).to(dev)
            fix = _flip(train.fixations[idx], fl).to(dev)
            y = train.labels[idx].to(dev)
            lam = schedule(epoch + b / max(1, len(steps)))
            outp = model(x, y)
            task = F.cross_entropy(outp["logits"], y)
            att = combine_attention(outp["attention"])
            al = alignment_loss(cfg.loss, att, human, fix)
            loss = task + outp["aux_loss"] + lam * al
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            k = len(idx)
            sums["loss"] += float(loss.detach()) * k
            sums["task"] += float(task.detach()) * k
            sums["align"] += float(al.detach()) * k
            sums["correct"] += float((outp["logits"].argmax(1) == y).sum())
            sums["seen"] += k
            bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}")
        row = {
            "epoch": epoch + 1,
            "lambda": schedule(epoch + 1 - 1e-9),
            "train_loss": sums["loss"] / n,
            "train_task_loss": sums["task"] / n,
            "train_alignment_loss": sums["align"] / n,
            "train_accuracy": sums["correct"] / n,
            **_evaluate(model, val, cfg, dev),
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        _save(
            ckpt_path,
            {
                "config": asdict(cfg),
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "class_names": class_names,
            },
        )
        pd.DataFrame(history).to_csv(out / "metrics.csv", index=False)
        if show:
            tqdm.write(
                f"epoch {epoch + 1}: loss {row['train_loss']:.3f}, val accuracy {row['val_accuracy']:.3f}, "
                f"val CC {row['val_cc']:.3f}, NSS {row['val_nss']:.3f}"
            )
    frame = pd.DataFrame(history)
    with atomic_path(out / "metrics.csv") as tmp:
        frame.to_csv(tmp, index=False)
    _save(out / "model.pt", {"config": asdict(cfg), "model": model.state_dict(), "class_names": class_names})
    model.eval()
    return TrainResult(out, frame, model)


def _build(cfg: AlignConfig, *, n_classes: int) -> AttentionNet:
    return AttentionNet(
        cfg.model, cfg.attention, n_classes, weights=cfg.weights, high_res=cfg.high_res, **cfg.head_options
    )
