"""Fixation maps and Gaussian saliency (fixation-density) maps, in image px.

Definitions
-----------
- A fixation at image position ``(x, y)`` (continuous image px, origin at the image's top-left
  corner) falls in pixel ``(row, col) = (floor(y), floor(x))``. Fixations outside the image
  are dropped (and counted by :func:`to_image_px`).
- The *fixation map* of a stimulus counts the fixations per pixel (optionally weighted, e.g.
  by duration in ms).
- The *saliency map* is the fixation map convolved with a 2-D Gaussian of standard deviation
  ``sigma_px`` (image px), truncated at ``truncate * sigma_px`` (default 4, the kernel
  renormalised to sum 1 over its support), exactly as ``scipy.ndimage.gaussian_filter`` does.
  ``sigma_px`` comes from a sigma in degrees of visual angle (default 1 deg, the MIT saliency
  benchmark convention) through :func:`sigma_deg_to_image_px`.
- Boundaries: ``mode='reflect'`` (default, as scipy and pysaliency) mirrors the Gaussian at the
  image edges (half-sample symmetric), so no mass leaves the image; ``mode='constant'`` lets
  the part of the Gaussian beyond the edge fall off the map.
- Normalisation: ``'sum'`` (default) divides by the total so the map is a probability
  distribution over pixels (what KL divergence, information gain and NSS-style metrics
  expect); ``'max'`` scales the peak to 1 (for display); ``None`` keeps fixation units.

Speed
-----
A Gaussian density of a few fixations does not need a 2-D convolution: the map equals
``Py.T @ diag(w) @ Px``, where row k of ``Py`` (``Px``) is the 1-D truncated, reflected
Gaussian profile of fixation k along the rows (columns). That costs ``O(K * H * W)`` for K
fixations instead of ``O(H * W * 8 sigma)``; with many fixations per map the separable
convolution of the fixation map is used instead. Both give ``gaussian_filter``'s output to
rounding error.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import correlate1d

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry, Placement

__all__ = [
    "fixation_map",
    "gaussian_kernel",
    "normalize_map",
    "saliency_map",
    "saliency_maps",
    "sigma_deg_to_image_px",
    "to_image_px",
]

Mode = Literal["reflect", "constant"]
Normalize = Literal["sum", "max"] | None


def sigma_deg_to_image_px(sigma_deg: float, geometry: Geometry, placement: Placement | None = None) -> float:
    """Convert a Gaussian sigma from degrees of visual angle to image px.

    The angle is measured at the screen centre (``2 * distance * tan(sigma / 2)``, horizontal
    pixel pitch) and divided by the image's on-screen scale (screen px per image px).

    Parameters
    ----------
    sigma_deg : float
        Sigma in degrees (e.g. 1.0).
    geometry : Geometry
        The screen.
    placement : Placement, optional
        The stimulus placement; default scale 1 (image px = screen px).

    Returns
    -------
    float
        Sigma in image px.

    Examples
    --------
    >>> g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    >>> round(sigma_deg_to_image_px(1.0, g), 3)
    37.936
    >>> round(sigma_deg_to_image_px(1.0, g, Placement.centered(g, (640, 480), scale="fit")), 3)
    16.861
    """
    if not sigma_deg > 0:
        raise ParameterError("sigma_deg", sigma_deg, "an angle > 0 (deg)")
    scale = 1.0 if placement is None else placement.scale
    return geometry.deg_to_px_length(sigma_deg) / scale


def to_image_px(
    x_screen_px: ArrayLike, y_screen_px: ArrayLike, placement: Placement
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Map fixations from screen px to image px.

    Parameters
    ----------
    x_screen_px, y_screen_px : array_like
        Fixation positions in screen px.
    placement : Placement
        Where the image was on the screen.

    Returns
    -------
    x_img, y_img : ndarray
        Positions in image px (all of them, inside or not).
    inside : ndarray of bool
        True where the fixation falls on the image; ``(~inside).sum()`` is the number dropped.
    """
    x, y = placement.screen_to_image(x_screen_px, y_screen_px)
    return x, y, placement.contains(x, y)


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ParameterError("shape", shape, "(height, width) in image px") from None
    if h <= 0 or w <= 0:
        raise ParameterError("shape", shape, "(height, width) with both > 0 image px")
    return h, w


def _pixels(x: ArrayLike, y: ArrayLike, shape: tuple[int, int], weights: ArrayLike | None):
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ParameterError("y", y.shape, f"the same number of values as x ({x.shape})")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape:
        raise ParameterError("weights", w.shape, f"one weight per fixation ({x.shape})")
    h, wd = shape
    col = np.floor(x)
    row = np.floor(y)
    keep = (col >= 0) & (col < wd) & (row >= 0) & (row < h) & np.isfinite(w)
    return row[keep].astype(np.int64), col[keep].astype(np.int64), w[keep]


def fixation_map(
    x_px: ArrayLike, y_px: ArrayLike, shape: tuple[int, int], *, weights: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Count fixations per image pixel.

    Parameters
    ----------
    x_px, y_px : array_like
        Fixation positions in image px; positions outside the image are ignored.
    shape : (int, int)
        Image ``(height, width)`` in px.
    weights : array_like, optional
        Weight per fixation (e.g. duration in ms); default 1.

    Returns
    -------
    ndarray, shape (height, width)
        Counts (or summed weights).

    Examples
    --------
    >>> fixation_map([0.5, 2.9, 2.1, 9.0], [0.2, 1.0, 1.5, 0.0], (2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]
    """
    h, w = _check_shape(shape)
    row, col, wt = _pixels(x_px, y_px, (h, w), weights)
    out = np.zeros(h * w)
    np.add.at(out, row * w + col, wt)
    return out.reshape(h, w)


def gaussian_kernel(sigma_px: float, *, truncate: float = 4.0) -> tuple[NDArray[np.float64], int]:
    """The 1-D Gaussian weights used for the maps (``scipy.ndimage``'s, normalised to sum 1).

    Returns
    -------
    weights : ndarray, shape (2 * radius + 1,)
    radius : int
        ``int(truncate * sigma_px + 0.5)`` px.
    """
    if not sigma_px > 0 or not math.isfinite(sigma_px):
        raise ParameterError("sigma_px", sigma_px, "a finite sigma > 0 (image px)")
    if not truncate > 0:
        raise ParameterError("truncate", truncate, "a number of sigmas > 0")
    radius = int(truncate * float(sigma_px) + 0.5)
    d = np.arange(-radius, radius + 1, dtype=float)
    k = np.exp(-0.5 * d * d / (float(sigma_px) ** 2))
    return k / k.sum(), radius


def _profiles(idx: NDArray[np.int64], n: int, kernel: NDArray[np.float64], radius: int, mode: Mode) -> NDArray:
    """Row k: the 1-D response along an axis of length n to a unit impulse at idx[k]."""
    j = np.arange(n)
    out = np.zeros((len(idx), n))
    if mode == "constant":
        images = [idx]
    else:  # half-sample symmetric reflection: ... | d c b a | a b c d | d c b a | ...
        reach = radius // n + 1
        images = []
        for k in range(-reach, reach + 1):
            images.append(idx + 2 * k * n)
            images.append(-1 - idx + 2 * k * n)
    for p in images:
        d = p[:, None] - j[None, :]
        ok = np.abs(d) <= radius
        if ok.any():
            out += np.where(ok, kernel[np.clip(d + radius, 0, 2 * radius)], 0.0)
    return out


def normalize_map(m: NDArray[np.float64], normalize: Normalize) -> NDArray[np.float64]:
    """Scale a map to sum 1 (``'sum'``), peak 1 (``'max'``) or leave it (``None``); an all-zero map stays zero."""
    if normalize is None:
        return m
    if normalize not in ("sum", "max"):
        raise ParameterError("normalize", normalize, "'sum', 'max' or None")
    total = m.sum() if normalize == "sum" else m.max(initial=0.0)
    return m / total if total > 0 else m


def saliency_map(
    x_px: ArrayLike,
    y_px: ArrayLike,
    shape: tuple[int, int],
    sigma_px: float,
    *,
    weights: ArrayLike | None = None,
    mode: Mode = "reflect",
    truncate: float = 4.0,
    normalize: Normalize = "sum",
) -> NDArray[np.float64]:
    """Gaussian fixation-density map of one stimulus.

    Parameters
    ----------
    x_px, y_px : array_like
        Fixation positions in image px (outside the image: ignored).
    shape : (int, int)
        Image ``(height, width)`` in px.
    sigma_px : float
        Gaussian sigma in image px (see :func:`sigma_deg_to_image_px`).
    weights : array_like, optional
        Weight per fixation (e.g. duration, ms); default 1.
    mode : {'reflect', 'constant'}, optional
        Boundary handling (default 'reflect'; see the module documentation).
    truncate : float, optional
        Kernel radius in sigmas (default 4).
    normalize : {'sum', 'max', None}, optional
        Default 'sum' (a probability map).

    Returns
    -------
    ndarray, shape (height, width), float64
        Equal to ``scipy.ndimage.gaussian_filter(fixation_map(...), sigma_px, mode=mode,
        truncate=truncate)`` followed by the normalisation, to rounding error.

    Examples
    --------
    >>> m = saliency_map([50.5], [40.5], (80, 100), sigma_px=5.0)
    >>> float(m.sum()), np.unravel_index(int(m.argmax()), m.shape)
    (1.0, (np.int64(40), np.int64(50)))
    """
    h, w = _check_shape(shape)
    if mode not in ("reflect", "constant"):
        raise ParameterError("mode", mode, "'reflect' or 'constant'")
    kernel, radius = gaussian_kernel(sigma_px, truncate=truncate)
    row, col, wt = _pixels(x_px, y_px, (h, w), weights)
    if len(row) == 0:
        return np.zeros((h, w))
    if len(row) <= 2 * (2 * radius + 1):
        py = _profiles(row, h, kernel, radius, mode)
        px = _profiles(col, w, kernel, radius, mode)
        py *= wt[:, None]
        # a sum of K outer products; einsum (single-threaded, steady) for few fixations, BLAS for more
        m = np.einsum("kh,kw->hw", py, px) if len(row) <= 64 else py.T @ px
    else:
        counts = np.zeros(h * w)
        np.add.at(counts, row * w + col, wt)
        m = correlate1d(counts.reshape(h, w), kernel, axis=0, mode=mode, cval=0.0)
        m = correlate1d(m, kernel, axis=1, mode=mode, cval=0.0)
    return normalize_map(m, normalize)


def saliency_maps(
    fixations: pd.DataFrame,
    shapes: dict[object, tuple[int, int]],
    sigma_px: float | dict[object, float],
    *,
    key: str = "stimulus",
    weight: str | None = None,
    mode: Mode = "reflect",
    truncate: float = 4.0,
    normalize: Normalize = "sum",
) -> dict[object, NDArray[np.float64]]:
    """Saliency maps of many stimuli (or stimulus/observer groups) from one fixation table.

    Parameters
    ----------
    fixations : pandas.DataFrame
        With ``x_px``, ``y_px`` in image px and the grouping column ``key``.
    shapes : dict
        ``(height, width)`` per group key; every key gets a map (zero if no fixation).
    sigma_px : float or dict
        Sigma in image px, one for all or one per key.
    key : str, optional
        Grouping column (default 'stimulus'); pass e.g. a column combining stimulus and
        observer for per-observer maps.
    weight : str, optional
        Column of fixation weights (e.g. 'duration_ms'); default unweighted.
    mode, truncate, normalize
        As for :func:`saliency_map`.

    Returns
    -------
    dict
        Key -> map (height, width).
    """
    groups = {k: g for k, g in fixations.groupby(key, sort=False)} if len(fixations) else {}
    out: dict[object, NDArray[np.float64]] = {}
    for k, shape in shapes.items():
        g = groups.get(k)
        s = sigma_px[k] if isinstance(sigma_px, dict) else sigma_px
        if g is None:
            out[k] = np.zeros(_check_shape(shape))
            continue
        out[k] = saliency_map(
            g["x_px"].to_numpy(),
            g["y_px"].to_numpy(),
            shape,
            s,
            weights=None if weight is None else g[weight].to_numpy(),
            mode=mode,
            truncate=truncate,
            normalize=normalize,
        )
    return out
