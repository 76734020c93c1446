"""An attention-driven task built from gaze: classify the shape the observers look at, among distractors.

Each image shows ``n_shapes`` coloured shapes (circle, square, triangle, cross) on a noisy grey
background. One of them, the target, carries a small white dot; the label is the target's shape.
Simulated observers, told to find the dotted shape, fixate it most of the time and glance at the
distractors otherwise; their fixations give the human saliency maps (Gaussian, sigma in image
px), exactly as a real gaze dataset does. A network that attends to the wrong shape gets the
label wrong, so the task is the kind Lai et al. (TMM) call attention-driven: where humans look is
where the answer is.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from gazelab.datasets.importers._common import stimulus_row, write_imported
from gazelab.datasets.release import BuildReport
from gazelab.errors import ParameterError

__all__ = ["SHAPES", "make_distractor_task"]

#: Shape classes, in label order.
SHAPES = ("circle", "cross", "square", "triangle")
_NOTES = [
    "Synthetic attention-driven task: the label is the shape of the dotted target; "
    "gaze from simulated observers looking for it."
]


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, colour: tuple[int, int, int]) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        s = r * 0.85
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r * 0.95, cy + r * 0.8), (cx + r * 0.95, cy + r * 0.8)], fill=colour)
    else:  # cross
        t = r * 0.35
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=colour)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=colour)


def _place(rng: np.random.Generator, n: int, size: int, r: float) -> np.ndarray:
    for _ in range(1000):
        pts = rng.uniform(r + 2, size - r - 2, size=(n, 2))
        d = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1))
        if n < 2 or d[np.triu_indices(n, 1)].min() > 2.3 * r:
            return pts
    raise ParameterError("n_shapes", n, f"fewer shapes: {n} of radius {r:.0f} px do not fit in {size} px")


def make_distractor_task(
    out: str | Path,
    *,
    n_images: int = 800,
    size_px: int = 128,
    n_shapes: int = 3,
    n_observers: int = 8,
    fixations_per_observer: int = 5,
    target_share: float = 0.75,
    sigma_px: float = 8.0,
    val_fraction: float = 0.25,
    seed: int = 0,
    progress: bool | None = None,
) -> BuildReport:
    """Write the distractor task as a gazelab HDF5 dataset (labels, train/val splits, gaze maps).

    Parameters
    ----------
    out : str or Path
        The ``.h5`` file to write (atomically; an existing file is refused by the writer).
    n_images : int, optional
        Stimuli (default 800).
    size_px : int, optional
        Image side, px (default 128).
    n_shapes : int, optional
        Shapes per image, one target and ``n_shapes - 1`` distractors (default 3).
    n_observers : int, optional
        Simulated observers per image (default 8).
    fixations_per_observer : int, optional
        Fixations each observer makes after the first (central) one (default 5).
    target_share : float, optional
        Probability that a fixation lands on the target rather than a distractor (default 0.75).
    sigma_px : float, optional
        Gaussian sigma of the saliency maps, image px (default 8).
    val_fraction : float, optional
        Share of stimuli in the ``val`` split (default 0.25); the rest are ``train``.
    seed : int, optional
        Seed of images and gaze (default 0).
    progress : bool, optional
        Progress bar while writing (default: when stderr is a terminal).

    Returns
    -------
    BuildReport
        What the writer reports (path, counts).
    """
    _check_task(n_images, n_shapes, target_share)
    rng = np.random.default_rng(seed)
    r = size_px * 0.12
    n_val = max(1, round(n_images * val_fraction))
    gaze = _Gaze(n_observers, fixations_per_observer, target_share, r * 0.35, size_px / 2)
    stimuli, parts = [], []
    with tempfile.TemporaryDirectory(prefix="gazelab-task-") as tmp:
        for i in range(n_images):
            path = Path(tmp) / f"task{i:05d}.png"
            pts, kinds = _draw_image(rng, path, size_px, n_shapes, r)  # the target is shape 0
            split = "val" if i < n_val else "train"
            stimuli.append(
                stimulus_row(path, sigma_px=sigma_px, sigma_fraction=0.0, label=SHAPES[kinds[0]], split=split)
            )
            parts.extend(_observers(rng, i, pts, gaze))
        params = {"n_shapes": n_shapes, "target_share": target_share, "sigma_px": sigma_px, "seed": seed,
                  "n_observers": n_observers}  # fmt: skip
        return write_imported(out, stimuli, parts, layout="distractor-task", sources=[], params=params,
                              notes=_NOTES, title="gazelab distractor task (synthetic)", progress=progress)  # fmt: skip


def _check_task(n_images: int, n_shapes: int, target_share: float) -> None:
    if n_shapes < 1 or n_shapes > 6:
        raise ParameterError("n_shapes", n_shapes, "1 to 6 shapes")
    if not 0 <= target_share <= 1:
        raise ParameterError("target_share", target_share, "a probability in [0, 1]")
    if n_images < 2:
        raise ParameterError("n_images", n_images, "at least 2 images")


def _draw_image(
    rng: np.random.Generator, path: Path, size_px: int, n_shapes: int, r: float
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one task image into ``path``: noisy grey background, ``n_shapes`` coloured shapes of
    radius about ``r`` px, a white dot on the first one (the target). Returns the shapes' centres
    ``(n_shapes, 2)`` (x, y px) and their kinds (indices into :data:`SHAPES`)."""
    bg = rng.normal(128, 18, size=(size_px, size_px, 1)).clip(0, 255)
    img = Image.fromarray(np.repeat(bg, 3, axis=2).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    pts = _place(rng, n_shapes, size_px, r)
    kinds = rng.choice(len(SHAPES), size=n_shapes)
    for (cx, cy), k in zip(pts, kinds, strict=True):
        colour = tuple(int(c) for c in rng.integers(20, 200, size=3))
        _draw(draw, SHAPES[k], cx, cy, r * rng.uniform(0.85, 1.1), colour)
    tx, ty = pts[0]
    draw.ellipse([tx - 2.5, ty - 2.5, tx + 2.5, ty + 2.5], fill=(255, 255, 255))
    img.save(path)
    return pts, kinds


@dataclass(frozen=True)
class _Gaze:
    """How the simulated observers look: ``n_observers`` of them, each making a central fixation
    then ``n_fixations`` on the target (probability ``target_share``) or a distractor, scattered by
    ``scatter_px`` (sd) around the shape's centre; ``centre_px`` is the image centre."""

    n_observers: int
    n_fixations: int
    target_share: float
    scatter_px: float
    centre_px: float


def _observers(rng: np.random.Generator, stimulus: int, pts: np.ndarray, gaze: _Gaze) -> list[pd.DataFrame]:
    """The fixations of every simulated observer on one image (shape 0 is the target)."""
    n_shapes, n = len(pts), gaze.n_fixations
    parts = []
    for o in range(gaze.n_observers):
        on_target = rng.random(n) < gaze.target_share
        which = np.where(on_target, 0, rng.integers(1, max(2, n_shapes), n))
        which = np.where(which >= n_shapes, 0, which)
        xy = pts[which] + rng.normal(0, gaze.scatter_px, size=(n, 2))
        centre = np.full(2, gaze.centre_px) + rng.normal(0, 3, 2)
        xy = np.vstack([centre, xy])
        dur = rng.gamma(4.0, 60.0, size=len(xy))
        parts.append(
            pd.DataFrame(
                {
                    "stimulus": stimulus,
                    "observer": f"sim{o:02d}",
                    "x_px": xy[:, 0],
                    "y_px": xy[:, 1],
                    "onset_ms": np.concatenate([[0.0], np.cumsum(dur[:-1] + 40.0)]),
                    "duration_ms": dur,
                    "order": np.arange(len(xy)),
                }
            )
        )
    return parts
