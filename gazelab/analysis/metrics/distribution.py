"""Distribution-based metrics: CC, KLD, SIM and top-k IoU (the prediction against the human map)."""

from __future__ import annotations

import math
from typing import Any

import torch

from gazelab.analysis.metrics._base import (
    MIT_EPS,
    PYSALIENCY_KLD_MINIMUM,
    Convention,
    _batch,
    _density,
    _doc,
    _dot,
    _minmax,
    _on_cpu,
    _reference,
    _saliency,
    _same_map,
    _shared,
)
from gazelab.errors import ParameterError


@_doc
def cc(saliency: Any, reference: Any) -> Any:
    r"""Pearson's linear correlation coefficient between the prediction and the human map.

    .. math:: \mathrm{CC} = \frac{\sum_i (P_i - \bar P)(G_i - \bar G)}
              {\sqrt{\sum_i (P_i - \bar P)^2 \sum_i (G_i - \bar G)^2}}

    over all pixels (MIT ``CC.m``, pysaliency ``CC``; identical). In [-1, 1]; invariant to
    ``a * P + b`` (a > 0). A constant prediction scores 0 (pysaliency; MIT gives NaN).

    Parameters
    ----------
    {{map_params}}
        The human fixation-density map(s).

    {{returns}}

    Raises
    ------
    ParameterError
        If a reference map is constant (its correlation is undefined) or the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> round(cc(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[2.0, 4.0], [6.0, 9.0]])), 6)
    0.994377
    """
    b = _batch(saliency)
    if _on_cpu(b):
        return _shared(b, "cc", reference=reference)
    r = _same_map(b, reference, "reference").to(b.maps.dtype).flatten(1)
    p = b.maps.flatten(1)
    p = p - p.mean(1, keepdim=True)
    r = r - r.mean(1, keepdim=True)
    sp, sr = _dot(p, p), _dot(r, r)
    const = torch.nonzero(sr <= 0).flatten().tolist()
    if const:
        where = "the map" if b.single else f"map(s) {const[:10]}"
        raise ParameterError("reference", f"constant in {where}", "a human map that is not constant")
    denom = torch.sqrt(sp * sr)
    out = torch.where(sp > 0, _dot(p, r) / torch.where(sp > 0, denom, torch.ones_like(denom)), torch.zeros_like(sp))
    return b.out(out)


@_doc
def kld(saliency: Any, reference: Any, *, convention: Convention = "mit") -> Any:
    r"""Kullback-Leibler divergence of the prediction from the human density, in nats.

    Both maps are shifted up if negative and normalised to sum 1 (an all-zero prediction is
    uniform), then

    - MIT (``KLdiv.m``): :math:`\mathrm{KL}(G \| P) = \sum_i G_i \ln(\epsilon + G_i / (P_i + \epsilon))`,
      :math:`\epsilon = 2.2204 \times 10^{-16}` (pysaliency's ``MIT_KLDiv`` is the same);
    - pysaliency (``image_based_kl_divergence``): :math:`10^{-20}` is added to both maps
      before normalising, then :math:`\sum_i G_i (\ln G_i - \ln P_i)`.

    0 for a perfect prediction; lower is better; invariant to scaling either map.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
        The prediction P.
    reference : array or tensor, shape like ``saliency``
        The human fixation density G.
    {{convention}}

    {{returns}}

    Examples
    --------
    >>> import numpy as np
    >>> round(kld(np.array([[1.0, 1.0]]), np.array([[3.0, 1.0]])), 6)  # .75 ln 1.5 + .25 ln .5
    0.130812
    """
    b = _batch(saliency, convention)
    if _on_cpu(b):
        return _shared(b, "kld", reference=reference, convention=convention)
    r = _reference(b, reference)
    if convention == "mit":
        p, g = _density(b.maps.flatten(1)), _density(r)
        terms = g * torch.log(MIT_EPS + g / (p + MIT_EPS))
    else:
        p = _density(b.maps.flatten(1), minimum=PYSALIENCY_KLD_MINIMUM)
        g = _density(r, minimum=PYSALIENCY_KLD_MINIMUM)
        terms = g * (torch.log(g) - torch.log(p))
    return b.out(terms.sum(1))


@_doc
def sim(saliency: Any, reference: Any, *, convention: Convention = "mit") -> Any:
    r"""Similarity (histogram intersection; Judd et al. 2012, Bylinskii et al. 2019).

    .. math:: \mathrm{SIM} = \sum_i \min(\hat P_i, \hat G_i)

    with :math:`\hat P, \hat G` the maps normalised to sum 1, after min-max normalisation to
    [0, 1] (MIT ``similarity.m``) or after a shift of maps with negative values only
    (pysaliency ``SIM``); an all-zero (or, MIT, constant) map becomes uniform. 1 for identical
    distributions, 0 for disjoint ones.

    Parameters
    ----------
    {{map_params}}
    {{convention}}

    {{returns}}

    Examples
    --------
    >>> import numpy as np
    >>> sim(np.array([[1.0, 1.0, 2.0]]), np.array([[0.0, 1.0, 1.0]]), convention="pysaliency")
    0.75
    """
    b = _batch(saliency, convention)
    if _on_cpu(b):
        return _shared(b, "sim", reference=reference, convention=convention)
    r = _reference(b, reference)
    p = b.maps.flatten(1)
    if convention == "mit":
        p, r = _minmax(p), _minmax(r)
    return b.out(torch.minimum(_density(p), _density(r)).sum(1))


@_doc
def iou_topk(saliency: Any, reference: Any, *, k_percent: float = 10.0) -> Any:
    r"""Intersection over union of the top-k % regions of the prediction and the human map.

    Each map's region is the set of pixels with a value at least its
    :math:`\lceil k \cdot HW / 100 \rceil`-th largest value (ties at the cut all included, so a
    region may exceed k %); :math:`\mathrm{IoU} = |A \cap B| / |A \cup B|`, in [0, 1]. Not a
    benchmark metric: a readable summary of the overlap of the most salient areas.

    Parameters
    ----------
    {{map_params}}
    k_percent : float, optional
        Share of the image's pixels in each region, in (0, 100] (default 10).

    {{returns}}

    Examples
    --------
    >>> import numpy as np
    >>> iou_topk(np.array([[4.0, 3.0, 2.0, 1.0]]), np.array([[4.0, 1.0, 3.0, 2.0]]), k_percent=50)
    0.3333333333333333
    """
    if not (0 < float(k_percent) <= 100):
        raise ParameterError("k_percent", k_percent, "a share of the pixels in (0, 100] (%)")
    b = _saliency(saliency)
    r = _reference(b, reference)
    p = b.maps.flatten(1)
    k = max(1, math.ceil(float(k_percent) * p.shape[1] / 100.0 - 1e-9))
    a = p >= torch.topk(p, k, dim=1).values[:, -1:]
    g = r >= torch.topk(r, k, dim=1).values[:, -1:]
    inter = (a & g).sum(1).to(torch.float64)
    union = (a | g).sum(1).to(torch.float64)
    return b.out((inter / union).to(b.maps.dtype))
