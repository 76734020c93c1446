"""Alignment losses between a model's attention map and the human saliency map, and lambda schedules.

All losses take ``attention`` ``(B, h, w)`` (or ``(B, 1, h, w)``), non-negative, on the model's
grid, and ``human`` ``(B, H, W)`` (or ``(B, 1, H, W)``), the human saliency map (a density or
any non-negative map). The attention is upsampled bilinearly (``align_corners=False``) to the
human map's size before comparing. Each returns the batch mean, a scalar tensor, and is 0 when
the two maps are equal (up to the invariance stated).

======== ============================================================ ==========================
name     per-image loss                                               invariant to
======== ============================================================ ==========================
kl       ``sum H log(eps + H / (A + eps))`` with A, H scaled to sum 1 scale of either map
         (MIT's KL(human || model), eps = 2.2204e-16)
cc       ``1 - pearson(A, H)``                                         scale and offset
nss      ``1 - NSS(A) / NSS(H)`` where NSS(M) is the mean of the       scale and offset of A
         standardised M weighted by the fixation counts (or by H)
mse      mean squared difference of A and H each scaled to mean 1      scale of either map
pyramid  the Neural Harmonizer's loss: z-score then ReLU both maps,    scale of A
         rescale H to A's maximum (no gradient through H), then the
         mean over 5 levels of a binomial (1 4 6 4 1) pyramid of the
         per-level MSE
======== ============================================================ ==========================

References: Bylinskii et al., "What do different evaluation metrics tell us about saliency
models?", TPAMI 2019 (KL, CC, NSS); Fel et al., "Harmonizing the object recognition strategies
of deep neural networks with humans", NeurIPS 2022 (pyramid loss).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gazelab.errors import ParameterError

__all__ = ["LOSSES", "LambdaSchedule", "alignment_loss"]

_EPS = 2.2204e-16
_TINY = 1e-8


def _as3d(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 3:
        raise ParameterError(name, tuple(t.shape), "a (B, H, W) or (B, 1, H, W) tensor")
    return t


def _prepare(attention: torch.Tensor, human: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a = _as3d(attention, "attention")
    h = _as3d(human, "human").to(a.dtype)
    if a.shape[0] != h.shape[0]:
        raise ParameterError("human", tuple(h.shape), f"a batch of {a.shape[0]} maps like attention")
    if a.shape[1:] != h.shape[1:]:
        a = F.interpolate(a[:, None], size=h.shape[1:], mode="bilinear", align_corners=False)[:, 0]
    return a.clamp_min(0), h


def _unit_sum(m: torch.Tensor) -> torch.Tensor:
    return m / m.sum(dim=(1, 2), keepdim=True).clamp_min(_TINY)


def _standardise(m: torch.Tensor) -> torch.Tensor:
    mean = m.mean(dim=(1, 2), keepdim=True)
    std = m.std(dim=(1, 2), keepdim=True, unbiased=False)
    return (m - mean) / std.clamp_min(_TINY)


def kl_loss(attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None) -> torch.Tensor:
    """KL(human || attention), both scaled to sum 1 (MIT convention), batch mean, nats."""
    a, h = _prepare(attention, human)
    p, q = _unit_sum(h), _unit_sum(a)
    return (p * torch.log(_EPS + p / (q + _EPS))).sum(dim=(1, 2)).mean()


def cc_loss(attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None) -> torch.Tensor:
    """1 - Pearson correlation of the two maps, batch mean (0 when equal, 2 when opposite)."""
    a, h = _prepare(attention, human)
    za, zh = _standardise(a), _standardise(h)
    return (1.0 - (za * zh).mean(dim=(1, 2))).mean()


def nss_loss(attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None) -> torch.Tensor:
    """``1 - NSS(attention) / NSS(human)``: the model's NSS relative to the human map's own.

    NSS(M) is the mean of the standardised map M at the fixations, here weighted by the
    fixation counts ``fixations`` ``(B, H, W)`` when given, else by the human map itself. The
    human map's own NSS is the reference, so the loss is 0 when the maps are equal and 1 for
    a map no better than chance.
    """
    a, h = _prepare(attention, human)
    w = h if fixations is None else _as3d(fixations, "fixations").to(a.dtype)
    if w.shape != h.shape:
        raise ParameterError("fixations", tuple(w.shape), f"count maps shaped like human {tuple(h.shape)}")
    w = _unit_sum(w)
    nss_a = (_standardise(a) * w).sum(dim=(1, 2))
    nss_h = (_standardise(h) * w).sum(dim=(1, 2)).detach()
    return (1.0 - nss_a / nss_h.clamp_min(_TINY)).mean()


def mse_loss(attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference of the maps, each scaled to mean 1 (scale-free), batch mean."""
    a, h = _prepare(attention, human)
    n = a.shape[1] * a.shape[2]
    return F.mse_loss(_unit_sum(a) * n, _unit_sum(h) * n)


_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _pyramid_down(m: torch.Tensor) -> torch.Tensor:
    k = _BINOMIAL.to(m)
    kernel = (k[:, None] * k[None, :])[None, None]
    x = F.pad(m[:, None], (2, 2, 2, 2), mode="reflect")
    return F.conv2d(x, kernel, stride=2)[:, 0]


def pyramid_loss(
    attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None, *, levels: int = 5
) -> torch.Tensor:
    """The Neural Harmonizer's multi-scale loss (Fel et al. 2022), batch mean.

    Both maps are z-scored per image and rectified; the human map is rescaled to the model
    map's maximum (no gradient flows through the human side); both are reduced through a
    ``levels``-level pyramid (the full map then halvings with a 5x5 binomial kernel); the loss
    is the mean over levels of the per-level mean squared error.
    """
    a, h = _prepare(attention, human)
    za = F.relu(_standardise(a))
    zh = F.relu(_standardise(h))
    peak_a = za.amax(dim=(1, 2), keepdim=True)
    zh = (zh / zh.amax(dim=(1, 2), keepdim=True).clamp_min(_TINY) * peak_a).detach()
    total = za.new_zeros(())
    for level in range(levels):
        total = total + F.mse_loss(za, zh)
        if level < levels - 1:
            if min(za.shape[1:]) < 6:
                return total / (level + 1)
            za, zh = _pyramid_down(za), _pyramid_down(zh)
    return total / levels


#: Alignment losses by name.
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "kl": kl_loss,
    "cc": cc_loss,
    "nss": nss_loss,
    "mse": mse_loss,
    "pyramid": pyramid_loss,
}


def alignment_loss(
    name: str, attention: torch.Tensor, human: torch.Tensor, fixations: torch.Tensor | None = None
) -> torch.Tensor:
    """The alignment loss ``name`` between model attention and human saliency (see the module doc).

    Parameters
    ----------
    name : {'kl', 'cc', 'nss', 'mse', 'pyramid'}
        The loss.
    attention : Tensor
        ``(B, h, w)`` or ``(B, 1, h, w)`` non-negative model attention (model grid).
    human : Tensor
        ``(B, H, W)`` or ``(B, 1, H, W)`` human saliency maps (image px of the batch).
    fixations : Tensor, optional
        ``(B, H, W)`` fixation counts, used by ``nss`` (default: the human map as weights).

    Returns
    -------
    Tensor
        Scalar, the batch mean; differentiable in ``attention``.

    Examples
    --------
    >>> import torch
    >>> m = torch.rand(2, 8, 8)
    >>> [round(float(alignment_loss(n, m, m)), 6) for n in ("kl", "cc", "nss", "mse", "pyramid")]
    [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    if name not in LOSSES:
        raise ParameterError("loss", name, f"one of {sorted(LOSSES)}")
    return LOSSES[name](attention, human, fixations)


@dataclass(frozen=True)
class LambdaSchedule:
    """The weight of the alignment loss over training: ``total = task + lambda(t) * alignment``.

    Parameters
    ----------
    value : float
        The final (or constant) lambda.
    kind : {'constant', 'linear', 'tanh', 'step'}
        ``constant``: lambda throughout. ``linear``: 0 -> value over the first ``warmup``
        epochs. ``tanh``: ``value * tanh(3 t / warmup)`` (the smooth ramp of AIB's code).
        ``step``: 0 for the first ``warmup`` epochs, then value.
    warmup : float
        Epochs of ramp (fractions allowed; ignored by ``constant``).
    """

    value: float = 1.0
    kind: str = "constant"
    warmup: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "linear", "tanh", "step"):
            raise ParameterError("lambda schedule", self.kind, "'constant', 'linear', 'tanh' or 'step'")
        if self.value < 0 or not math.isfinite(self.value):
            raise ParameterError("lambda", self.value, "a finite number >= 0")
        if self.warmup < 0:
            raise ParameterError("warmup", self.warmup, "epochs >= 0")

    def __call__(self, epoch: float) -> float:
        """Lambda at ``epoch`` (0-based, fractional within an epoch)."""
        if self.kind == "constant" or self.warmup == 0:
            return self.value
        t = epoch / self.warmup
        if self.kind == "linear":
            return self.value * min(1.0, t)
        if self.kind == "tanh":
            return self.value * math.tanh(3.0 * t)
        return self.value if epoch >= self.warmup else 0.0
