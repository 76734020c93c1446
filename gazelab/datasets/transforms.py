"""Joint transforms for gaze samples: geometry applied identically to image, maps and fixations.

They go in ``transforms=`` of :class:`~gazelab.datasets.GazeDataset` (torchvision's joint slot)
and follow torchvision's calling convention ``t(image, target) -> (image, target)``, where
``target`` is the item's dict of maps and fixations. Their names start with ``Joint`` so that
they never shadow torchvision's (``torchvision.transforms.v2.Resize`` touches the image only and
belongs in ``transform=``). Each can also be called on one *sample* dict, ``t(sample)``.

A *sample* is a dict with ``image`` (tensor ``(C, H, W)``, or ``(T, C, H, W)`` for a video clip,
whose frames all get the same transform; uint8 while the dataset applies the
geometric transforms, float in [0, 1] afterwards), optional maps (``saliency``,
``fixation_map``: ``(1, h, w)`` tensors, possibly at another resolution than the image until
the first :class:`JointResize`), ``fixations`` (float tensor ``(N, 2)`` of ``(x, y)`` in the
coordinate frame ``frame`` = ``(width, height)`` px, continuous, origin at the top-left corner)
and ``frame``. Geometric transforms update all of them; photometric transforms belong in
``transform`` of :class:`~gazelab.datasets.GazeDataset`, which touches the image only.

Saliency maps stay probability maps: after resampling or cropping they are renormalised to sum 1
(an all-zero map stays zero). Fixations that a crop removes are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from gazelab.errors import ParameterError

__all__ = [
    "MAP_KEYS",
    "JointCenterCrop",
    "JointCompose",
    "JointRandomCrop",
    "JointRandomHorizontalFlip",
    "JointResize",
    "JointTransform",
]

Sample = dict[str, Any]
MAP_KEYS = ("saliency", "fixation_map")


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ParameterError("size", size, "(height, width) > 0 px")
    return h, w


def _renorm(m: torch.Tensor) -> torch.Tensor:
    """Renormalise each map (the last two dims) to sum 1; all-zero maps stay zero."""
    total = m.sum(dim=(-2, -1), keepdim=True)
    return torch.where(total > 0, m / total.clamp_min(torch.finfo(m.dtype).tiny), m)


def _resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of (..., C, H, W) (a clip's frames are resized together)."""
    lead = t.shape[:-3]
    flat = t.reshape(-1, *t.shape[-3:])
    out = F.interpolate(flat, size=size, mode="bilinear", antialias=True, align_corners=False)
    return out.reshape(*lead, *out.shape[-3:])


class JointTransform:
    """Base of the joint transforms: ``t(image, target) -> (image, target)`` or ``t(sample) -> sample``.

    Subclasses implement :meth:`apply` on one sample dict (``image`` plus the target's keys).
    """

    def apply(self, sample: Sample) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, image: Any, target: dict[str, Any] | None = None) -> Any:
        if isinstance(image, dict) and target is None:
            return self.apply(image)
        sample = self.apply({**(target or {}), "image": image})
        image = sample.pop("image")
        return image, sample


class JointCompose(JointTransform):
    """Apply joint transforms in order (each a :class:`JointTransform` or a ``sample -> sample`` callable)."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def apply(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self) -> str:
        return f"JointCompose({self.transforms!r})"


class JointResize(JointTransform):
    """Resize image, maps and fixations to ``size = (height, width)`` px.

    The image uses antialiased bilinear interpolation; saliency maps antialiased bilinear then
    renormalised to sum 1; fixation maps are rebuilt from the moved fixations when present
    (else area-resampled); fixations are scaled by ``width / frame_width``, ``height /
    frame_height``. Each element is scaled from its own size, so an image decoded at a reduced
    size (JPEG draft mode) still lines up with full-resolution maps.
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size(size)

    def apply(self, sample: Sample) -> Sample:
        h, w = self.size
        sample["image"] = _resize(sample["image"], (h, w))  # uint8 stays uint8: torch's fast path
        if "saliency" in sample:
            sample["saliency"] = _renorm(_resize(sample["saliency"], (h, w)).clamp_min(0))
        fw, fh = sample["frame"]
        if "fixations" in sample:
            sample["fixations"] = sample["fixations"] * torch.tensor([w / fw, h / fh], dtype=torch.float32)
        if "fixation_map" in sample:
            sample["fixation_map"] = (
                _points_map(sample["fixations"], h, w)
                if "fixations" in sample
                else F.interpolate(sample["fixation_map"][None], size=(h, w), mode="area")[0]
            )
        sample["frame"] = (w, h)
        return sample

    def __repr__(self) -> str:
        return f"JointResize({self.size})"


def _points_map(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    m = torch.zeros(h * w)
    if len(points):
        col = points[:, 0].floor().long().clamp(0, w - 1)
        row = points[:, 1].floor().long().clamp(0, h - 1)
        m.index_add_(0, row * w + col, torch.ones(len(points)))
    return m.view(1, h, w)


def _crop(sample: Sample, top: int, left: int, h: int, w: int) -> Sample:
    img = sample["image"]
    H, W = img.shape[-2:]
    for key in MAP_KEYS:
        if key in sample and tuple(sample[key].shape[-2:]) != (H, W):
            raise ParameterError(
                "transform",
                "crop before JointResize",
                f"maps of the image's size ({W}x{H}); "
                f"{key} is {sample[key].shape[-1]}x{sample[key].shape[-2]}: put JointResize first",
            )
    sample["image"] = img[..., top : top + h, left : left + w]
    if "saliency" in sample:
        sample["saliency"] = _renorm(sample["saliency"][..., top : top + h, left : left + w])
    if "fixation_map" in sample:
        sample["fixation_map"] = sample["fixation_map"][..., top : top + h, left : left + w]
    if "fixations" in sample:
        p = sample["fixations"] - torch.tensor([left, top], dtype=torch.float32)
        keep = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        sample["fixations"] = p[keep]
        for extra in ("fixation_durations_ms", "fixation_observers"):
            if extra in sample:
                sample[extra] = sample[extra][keep]
    sample["frame"] = (w, h)
    return sample


class JointRandomCrop(JointTransform):
    """Crop a random ``size = (height, width)`` window (same window for every element).

    Parameters
    ----------
    size : int or (int, int)
        Output size in px.
    generator : torch.Generator, optional
        Source of randomness (default torch's global generator), for reproducible crops.
    """

    def __init__(self, size: int | Sequence[int], *, generator: torch.Generator | None = None) -> None:
        self.size = _size(size)
        self.generator = generator

    def apply(self, sample: Sample) -> Sample:
        h, w = self.size
        H, W = sample["image"].shape[-2:]
        if h > H or w > W:
            raise ParameterError("size", self.size, f"at most the image size ({H}, {W})")
        top = int(torch.randint(0, H - h + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, W - w + 1, (1,), generator=self.generator))
        return _crop(sample, top, left, h, w)

    def __repr__(self) -> str:
        return f"JointRandomCrop({self.size})"


class JointCenterCrop(JointTransform):
    """Crop the central ``size = (height, width)`` window."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size(size)

    def apply(self, sample: Sample) -> Sample:
        h, w = self.size
        H, W = sample["image"].shape[-2:]
        if h > H or w > W:
            raise ParameterError("size", self.size, f"at most the image size ({H}, {W})")
        return _crop(sample, (H - h) // 2, (W - w) // 2, h, w)

    def __repr__(self) -> str:
        return f"JointCenterCrop({self.size})"


class JointRandomHorizontalFlip(JointTransform):
    """Mirror image, maps and fixations left-right with probability ``p``.

    Parameters
    ----------
    p : float, optional
        Probability of flipping (default 0.5).
    generator : torch.Generator, optional
        Source of randomness.
    """

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        if not 0 <= p <= 1:
            raise ParameterError("p", p, "a probability in [0, 1]")
        self.p = p
        self.generator = generator

    def apply(self, sample: Sample) -> Sample:
        if float(torch.rand((), generator=self.generator)) >= self.p:
            return sample
        sample["image"] = sample["image"].flip(-1)
        for key in MAP_KEYS:
            if key in sample:
                sample[key] = sample[key].flip(-1)
        if "fixations" in sample:
            fw = sample["frame"][0]
            p = sample["fixations"].clone()
            p[:, 0] = fw - p[:, 0]
            sample["fixations"] = p
        return sample

    def __repr__(self) -> str:
        return f"JointRandomHorizontalFlip(p={self.p})"
