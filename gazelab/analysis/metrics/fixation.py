"""Fixation-based metrics: NSS and information gain (values of the map at the fixations)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gazelab.analysis.metrics._base import (
    MIT_EPS,
    Convention,
    _Batch,
    _batch,
    _counts,
    _density,
    _density_params,
    _doc,
    _dot,
    _Fix,
    _fixations_np,
    _np_rows,
    _on_cpu,
    _padded,
    _ref_rows,
    _result,
    _row,
    _same_map,
    _shared,
)


def _ig_np(b: _Batch, fix: list[_Fix], base: np.ndarray, convention: str) -> np.ndarray:
    a = _np_rows(b.maps)
    eps = MIT_EPS if convention == "mit" else 0.0
    out = np.empty(len(fix))
    shared = base.strides[0] == 0
    bp = None
    for i, f in enumerate(fix):
        p = _row(a, i)
        q = _row(base, i)
        if bp is None or not shared:
            bp = _density_params(q)
        if convention == "mit":
            idx, wt = f.unique()[0], None
        else:
            idx, wt = f.flat, f.weights
        vals = []
        for row, (c, s) in ((p, _density_params(p)), (q, bp)):
            x = row[idx].astype(np.float64)
            vals.append((x - c) / s if s > 0 else np.full(len(x), 1.0 / row.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log2(vals[0] + eps) - np.log2(vals[1] + eps)
        out[i] = float(d.mean()) if wt is None else float(d @ wt / wt.sum())
    return out


@_doc
def nss(saliency: Any, fixations: Any, *, convention: Convention = "mit") -> Any:
    r"""Normalized scanpath saliency (Peters et al. 2005): the mean standardised saliency at fixations.

    .. math:: \mathrm{NSS} = \frac{1}{\sum_i w_i} \sum_i w_i \, \frac{P_i - \mu_P}{\sigma_P}

    over the pixels i, with :math:`\mu_P, \sigma_P` the mean and standard deviation of the
    whole map P and :math:`w_i` the weight of pixel i: 1 if fixated, else 0 (MIT, binary
    fixation map, :math:`\sigma` with N - 1), or its fixation count (pysaliency, every fixation
    counts, population :math:`\sigma`). Unitless (standard deviations); chance is 0.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
        The prediction (any scale; NSS is invariant to ``a * P + b``, a > 0).
    fixations : array or tensor, shape like ``saliency``, or (N, 2)
        Fixation count map(s), or for a single map ``(x, y)`` positions in image px.
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit' (see above).

    {{returns}}
        A constant map scores 0 (where MIT's code returns NaN).

    {{raises_fixations}}

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> round(nss(s, np.array([[0, 0], [0, 1]])), 6)  # (3 - 1.5) / std([0, 1, 2, 3], ddof=1)
    1.161895
    """
    b = _batch(saliency, convention)
    if _on_cpu(b):
        return _shared(b, "nss", fixations=fixations, convention=convention)
    c = _counts(b, fixations).flatten(1)
    p = b.maps.flatten(1)
    var, mean = torch.var_mean(p, dim=1, correction=1 if convention == "mit" else 0)
    w = (c > 0).to(p.dtype) if convention == "mit" else c
    at_fix = _dot(p, w) / w.sum(1)
    std = var.sqrt()
    out = torch.where(std > 0, (at_fix - mean) / torch.where(std > 0, std, torch.ones_like(std)), torch.zeros_like(std))
    return b.out(out)


@_doc
def information_gain(saliency: Any, fixations: Any, baseline: Any, *, convention: Convention = "mit") -> Any:
    r"""Information gain over a baseline (Kümmerer et al. 2015), bits per fixation.

    Both maps are read as densities (shifted up if negative, divided by their sum; an all-zero
    map is uniform), then

    .. math:: \mathrm{IG} = \frac{1}{\sum_i w_i} \sum_i w_i
              \left[\log_2(\epsilon + \hat P_i) - \log_2(\epsilon + \hat B_i)\right]

    with :math:`w_i` the fixation weights of pixel i: MIT (``InfoGain.m``) counts each fixated
    pixel once and uses :math:`\epsilon` = 2.2204e-16; pysaliency (``information_gain`` of
    probabilistic models) counts every fixation and uses :math:`\epsilon = 0` (a zero density at a
    fixation gives -inf). Pixel densities are per pixel; a per-area constant would cancel. The
    benchmark baseline is the centre bias (:func:`gazelab.analysis.baselines.centre_bias_map`);
    0 means no better than it.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
        The prediction, a density or a map to be normalised to one.
    fixations : array or tensor, shape like ``saliency``, or (N, 2)
        Fixation count map(s), or ``(x, y)`` image px for a single map.
    baseline : array or tensor, shape like ``saliency``
        The baseline map(s) (e.g. the centre bias), normalised likewise.
    {{convention}}

    {{returns}}
        Bits per fixation.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 3.0]]); base = np.ones((1, 2))
    >>> round(information_gain(s, np.array([[0, 1]]), base), 6)  # log2(0.75 / 0.5)
    0.584963
    """
    b = _batch(saliency, convention)
    if _on_cpu(b):
        fix = _fixations_np(b, fixations)
        return _result(b, _ig_np(b, fix, _ref_rows(b, baseline, "baseline"), convention))
    c = _counts(b, fixations).flatten(1)
    base = _same_map(b, baseline, "baseline").to(b.maps.dtype).flatten(1)
    eps = MIT_EPS if convention == "mit" else 0.0
    # densities at the fixated pixels only (off them a -inf - -inf must not poison the sum)
    _, idx, _ = _padded(c, c > 0, 0.0)
    w, _, _ = _padded((c > 0).to(b.maps.dtype) if convention == "mit" else c, c > 0, 0.0)
    p_at = torch.gather(_density(b.maps.flatten(1)), 1, idx)
    b_at = torch.gather(_density(base), 1, idx)
    d = torch.log2(p_at + eps) - torch.log2(b_at + eps)
    d = torch.where(w > 0, d, torch.zeros_like(d))
    return b.out((w * d).sum(1) / w.sum(1))
