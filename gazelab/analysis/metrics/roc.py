"""ROC-based metrics: AUC-Judd, AUC-Borji and shuffled AUC (fixated values against negatives)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gazelab.analysis.metrics._base import (
    JITTER,
    Convention,
    _Batch,
    _batch,
    _counts,
    _doc,
    _Fix,
    _fixations_np,
    _generator,
    _minmax,
    _np_rows,
    _on_cpu,
    _padded,
    _result,
    _row,
    _saliency,
    _shared,
)
from gazelab.errors import ParameterError


def _noise(seed: int, idx: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers, a fixed function of (seed, pixel index) (splitmix64): the jitter of a
    pixel does not depend on the batch or on which other pixels needed one."""
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) + np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def _minmax_np(p: np.ndarray) -> tuple[float, float]:
    lo, hi = float(p.min()), float(p.max())
    return lo, (hi - lo if hi > lo else 1.0)


def _threshold_auc_np(pos: np.ndarray, neg: np.ndarray, step: float) -> float:
    """MIT's split AUC on [0, 1] values: pos (K,), neg (S, M); mean over the S splits."""
    n_thr = int(math.floor(1.0 / step + 1e-9)) + 1
    thr = np.arange(n_thr, dtype=np.float64)[::-1] * step
    tp = (pos[:, None] >= thr).sum(0) / len(pos)
    fp = (neg[..., None] >= thr).sum(1) / neg.shape[1]  # (S, T)
    s = neg.shape[0]
    zeros, ones = np.zeros((s, 1)), np.ones((s, 1))
    tp = np.concatenate([zeros, np.broadcast_to(tp, (s, n_thr)), ones], 1)
    fp = np.concatenate([zeros, fp, ones], 1)
    return float(np.trapezoid(tp, fp, axis=1).mean())


def _sample_without_replacement(rng: np.random.Generator, m: int, size: tuple[int, int]) -> np.ndarray:
    """(S, k) draws from range(m), distinct within each row, uniform over k-subsets.

    Duplicates are redrawn until none is left; the process is symmetric in the labels, so each
    row is a uniform k-subset (as MATLAB's ``randperm(m, k)``), at O(k) cost per row for k << m.
    """
    s, k = size
    if k * 4 > m:  # dense: a permutation per row
        return np.argsort(rng.random((s, m)), axis=1)[:, :k]
    idx = rng.integers(0, m, size)
    while True:
        idx.sort(axis=1)
        dup = np.zeros(idx.shape, bool)
        dup[:, 1:] = idx[:, 1:] == idx[:, :-1]
        nd = int(dup.sum())
        if nd == 0:
            return idx
        idx[dup] = rng.integers(0, m, nd)


def _borji_np(b: _Batch, fix: list[_Fix], n_splits: int, step: float, seed: int) -> np.ndarray:
    a = _np_rows(b.maps)
    out = np.empty(len(fix))
    for i, f in enumerate(fix):
        p = _row(a, i)
        lo, rng = _minmax_np(p)
        u, _ = f.unique()
        pos = (p[u].astype(np.float64) - lo) / rng
        idx = np.random.default_rng(seed).integers(0, p.size, (n_splits, len(u)))
        out[i] = _threshold_auc_np(pos, (p[idx].astype(np.float64) - lo) / rng, step)
    return out


def _shuffled_np(b: _Batch, fix: list[_Fix], others: list[_Fix], n_splits: int, step: float, seed: int) -> np.ndarray:
    """MIT's shuffled AUC on the CPU (random splits, fixed thresholds), map by map."""
    a = _np_rows(b.maps)
    out = np.empty(len(fix))
    for i, (f, o) in enumerate(zip(fix, others, strict=True)):
        p = _row(a, i)
        lo, rng = _minmax_np(p)
        u, _ = f.unique()
        ou, _ = o.unique()
        take = min(len(u), len(ou))
        sel = _sample_without_replacement(np.random.default_rng(seed), len(ou), (n_splits, take))
        pos = (p[u].astype(np.float64) - lo) / rng
        out[i] = _threshold_auc_np(pos, (p[ou[sel]].astype(np.float64) - lo) / rng, step)
    return out


def _judd_rows(p: torch.Tensor, c: torch.Tensor, *, unique: bool) -> torch.Tensor:
    """AUC-Judd of (B, N) float64 maps against (B, N) count maps (thresholds: fixated values)."""
    fixated = c > 0
    thr, _, k = _padded(p, fixated, math.inf)  # fixated values, +inf padding
    wts, _, _ = _padded(torch.ones_like(c) if unique else c, fixated, 0.0)
    thr, order = torch.sort(thr, dim=1)  # ascending; padding last
    wts = torch.gather(wts, 1, order)
    bsz, kmax = thr.shape
    n_pix = p.shape[1]
    # pixels >= each threshold: bin every pixel by the number of thresholds <= its value
    ranks = torch.searchsorted(thr.contiguous(), p.contiguous(), right=True)  # (B, N) in 0..k
    flat = ranks + (torch.arange(bsz, device=p.device) * (kmax + 1))[:, None]
    hist = torch.bincount(flat.flatten(), minlength=bsz * (kmax + 1)).reshape(bsz, kmax + 1)
    # ge_all[j] = #pixels with rank > j = #pixels >= thr[j]
    ge_all = hist.flip(1).cumsum(1).flip(1)[:, 1:].to(torch.float64)
    # fixated pixels >= thr[j] (ties counted) and their weight
    n_less = torch.searchsorted(thr.contiguous(), thr.contiguous(), right=False)  # #thresholds < thr[j]
    kk = k[:, None].to(torch.float64)
    pix_ge = (kk - n_less.to(torch.float64)).clamp(min=0)
    cum_w = torch.cat([torch.zeros_like(wts[:, :1]), wts.cumsum(1)], 1)  # cum_w[j] = weight of the j smallest
    total_w = cum_w.gather(1, k[:, None])
    w_ge = (total_w - cum_w.gather(1, n_less.clamp(max=kmax))).clamp(min=0)
    tp = w_ge / total_w
    fp = (ge_all - pix_ge) / (n_pix - kk)
    pad = torch.arange(kmax, device=p.device)[None, :] >= k[:, None]
    tp = torch.where(pad, torch.zeros_like(tp), tp)
    fp = torch.where(pad, torch.zeros_like(fp), fp)
    # points by decreasing threshold, from (0, 0) to (1, 1); padding sits at (0, 0)
    zeros, ones = torch.zeros_like(tp[:, :1]), torch.ones_like(tp[:, :1])
    tp = torch.cat([zeros, tp.flip(1), ones], 1)
    fp = torch.cat([zeros, fp.flip(1), ones], 1)
    return torch.trapezoid(tp, fp, dim=1)


@_doc
def auc_judd(
    saliency: Any, fixations: Any, *, convention: Convention = "mit", jitter: bool = True, seed: int = 0
) -> Any:
    r"""AUC-Judd (Judd et al. 2009): area under the ROC of fixated vs non-fixated pixels.

    The saliency values at the fixated pixels are the thresholds. At threshold :math:`\theta`
    the true-positive rate is the share of fixations on pixels with :math:`P \ge \theta` and
    the false-positive rate the share of *non-fixated* pixels with :math:`P \ge \theta`; the
    curve runs from (0, 0) to (1, 1) and its area is taken by the trapezoid rule:

    .. math:: \mathrm{AUC} = \sum_j \tfrac12 (\mathrm{FPR}_{j+1} - \mathrm{FPR}_j)(\mathrm{TPR}_{j+1} + \mathrm{TPR}_j)

    MIT counts each fixated pixel once; pysaliency counts every fixation (a pixel fixated twice
    weighs twice in the TPR). Chance is 0.5, the human ceiling about 0.92 (MIT300).

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
        The prediction (only the ranking of its values matters).
    fixations : array or tensor, shape like ``saliency``, or (N, 2)
        Fixation count map(s), or for a single map ``(x, y)`` positions in image px.
    {{convention}}
    jitter : bool, optional
        Add uniform noise of 1e-7 times the map's range before ranking (default True), as MIT
        and pysaliency do (MIT: ``rand / 1e7`` on the raw map; pysaliency: Gaussian ``1e-7``
        noise, seed 42), so tied values (e.g. the exact zeros of a truncated Gaussian map) are
        ranked at random; False counts all pixels tied with a threshold as above it
        (pysaliency's ``AUC_Judd(jitter=False)``), deterministic but lower on flat maps.
    seed : int, optional
        Seed of the jitter (default 0; torch's generator on the map's device).

    {{returns}}

    {{raises_fixations}}

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> auc_judd(s, np.array([[0, 0], [0, 1]]), jitter=False)  # the best pixel is fixated
    1.0
    >>> round(auc_judd(s, np.array([[0, 1], [0, 0]]), jitter=False), 6)  # 2 of 3 unfixated pixels above it
    0.666667
    """
    b = _batch(saliency, convention)
    if _on_cpu(b):
        return _shared(b, "auc_judd", fixations=fixations, convention=convention, jitter=jitter, seed=seed)
    c = _counts(b, fixations).flatten(1)
    p = b.maps.flatten(1).to(torch.float64)
    if jitter:
        p = _minmax(p)
        noise = torch.empty_like(p)
        for i in range(p.shape[0]):  # each map its own stream from `seed`: batched == single
            noise[i] = torch.rand(p.shape[1], generator=_generator(p.device, seed), dtype=p.dtype, device=p.device)
        p = p + JITTER * noise
    return b.out(_judd_rows(p, c, unique=convention == "mit").to(b.maps.dtype))


def _threshold_auc(pos: torch.Tensor, pos_ok: torch.Tensor, neg: torch.Tensor, neg_ok: torch.Tensor, step: float):
    """MIT's split AUC: thresholds 0, step, ... on [0, 1] maps; pos (B, K), neg (B, S, M).

    Returns the mean over the S splits of the trapezoid area, per map.
    """
    n_thr = int(math.floor(1.0 / step + 1e-9)) + 1
    thr = torch.arange(n_thr, dtype=torch.float64, device=pos.device).flip(0) * step  # high to low
    npos = pos_ok.sum(1, keepdim=True).to(torch.float64)
    tp = ((pos[:, :, None] >= thr) & pos_ok[:, :, None]).sum(1) / npos  # (B, T)
    nneg = neg_ok.sum(2, keepdim=True).to(torch.float64)
    fp = ((neg[..., None] >= thr) & neg_ok[..., None]).sum(2) / nneg  # (B, S, T)
    tp = tp[:, None, :].expand_as(fp)
    zeros, ones = torch.zeros_like(fp[..., :1]), torch.ones_like(fp[..., :1])
    auc = torch.trapezoid(torch.cat([zeros, tp, ones], -1), torch.cat([zeros, fp, ones], -1), dim=-1)
    return auc.mean(1)


def _check_splits(n_splits: int, step: float) -> None:
    if not isinstance(n_splits, int | np.integer) or n_splits < 1:
        raise ParameterError("n_splits", n_splits, "an integer >= 1")
    if not (0 < step <= 1):
        raise ParameterError("step", step, "a threshold step in (0, 1] (maps are min-max normalised)")


@_doc
def auc_borji(saliency: Any, fixations: Any, *, n_splits: int = 100, step: float = 0.1, seed: int = 0) -> Any:
    r"""AUC-Borji (Borji et al. 2013): fixated pixels vs uniformly random pixels.

    The map is min-max normalised to [0, 1]. In each of ``n_splits`` splits, as many pixels as
    there are fixated pixels (K) are drawn uniformly at random (with replacement, fixated ones
    included) as negatives; thresholds :math:`\theta = 0, s, 2s, \dots \le 1` (``step`` s) give
    :math:`\mathrm{TPR}(\theta) = \#\{\text{fixated } P \ge \theta\}/K` and
    :math:`\mathrm{FPR}(\theta) = \#\{\text{random } P \ge \theta\}/K`; the trapezoid area of the
    curve from (0, 0) to (1, 1) is averaged over the splits. MIT's definition (``AUC_Borji.m``);
    pysaliency has no counterpart (its ``AUC(nonfixations='uniform')`` is the exact ROC against
    all pixels). Each fixated pixel counts once. The random draws (torch, ``seed``) differ from
    MATLAB's, so scores agree with MIT's only statistically (split-to-split sd / sqrt(n_splits)).

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    fixations : array or tensor, shape like ``saliency``, or (N, 2)
        Fixation count map(s), or for a single map ``(x, y)`` positions in image px.
    n_splits : int, optional
        Number of random negative sets (default 100).
    step : float, optional
        Threshold step on the normalised map (default 0.1).
    seed : int, optional
        Seed of the random negatives (default 0); every map of a batch draws from its own
        generator seeded with it, so a map scores the same alone or in any batch.

    {{returns}}

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros((10, 10)); s[0, 0] = 1.0
    >>> auc_borji(s, np.array([[0.5, 0.5]]))  # random pixels are almost never the peak
    0.985
    """
    _check_splits(n_splits, step)
    b = _saliency(saliency)
    if _on_cpu(b):
        return _result(b, _borji_np(b, _fixations_np(b, fixations), int(n_splits), float(step), seed))
    c = _counts(b, fixations).flatten(1)
    p = _minmax(b.maps.flatten(1).to(torch.float64))
    pos, _, k = _padded(p, c > 0, -1.0)
    pos_ok = torch.arange(pos.shape[1], device=p.device)[None, :] < k[:, None]
    idx = torch.zeros((p.shape[0], n_splits, pos.shape[1]), dtype=torch.long, device=p.device)
    for i, ki in enumerate(k.tolist()):  # each map its own stream from `seed`: batched == single
        g = _generator(p.device, seed)
        idx[i, :, :ki] = torch.randint(0, p.shape[1], (n_splits, ki), generator=g, device=p.device)
    neg = torch.gather(p, 1, idx.flatten(1)).reshape(p.shape[0], n_splits, pos.shape[1])
    neg_ok = pos_ok[:, None, :].expand_as(neg)
    return b.out(_threshold_auc(pos, pos_ok, neg, neg_ok, step).to(b.maps.dtype))


def _exact_auc(pos, wpos, neg, wneg) -> torch.Tensor:
    """Weighted Mann-Whitney AUC (ties count 1/2) of (B, K) positives vs (B, M) negatives."""
    out = []
    for i in range(pos.shape[0]):  # one map at a time keeps the (K, M) comparison small
        kp, kn = wpos[i] > 0, wneg[i] > 0
        pv, pw = pos[i][kp], wpos[i][kp]
        nv, nw = neg[i][kn], wneg[i][kn]
        nv, order = torch.sort(nv)
        cw = torch.cat([torch.zeros_like(nw[:1]), nw[order].cumsum(0)])
        below = cw[torch.searchsorted(nv, pv, right=False)]
        upto = cw[torch.searchsorted(nv, pv, right=True)]
        out.append((pw * (below + 0.5 * (upto - below))).sum() / (pw.sum() * nw.sum()))
    return torch.stack(out)


@_doc
def auc_shuffled(
    saliency: Any,
    fixations: Any,
    other_fixations: Any,
    *,
    convention: Convention = "mit",
    n_splits: int = 100,
    step: float = 0.1,
    seed: int = 0,
) -> Any:
    r"""Shuffled AUC (sAUC; Borji et al. 2013): fixations vs other stimuli's fixations.

    Negatives are the pixels fixated on *other* stimuli, so a centre bias shared by all images
    earns nothing (a pure centre-bias map scores about 0.5).

    - MIT (``AUC_shuffled.m``): the map is min-max normalised; in each of ``n_splits`` splits,
      :math:`M = \min(K, \#\text{other fixated pixels})` of the other fixated pixels are drawn
      without replacement; TPR/FPR at thresholds :math:`0, s, 2s, \dots \le 1` as in
      :func:`auc_borji`; the areas are averaged over splits. Each pixel counts once.
    - pysaliency (``AUC(nonfixations='shuffled')``): the exact ROC of the values at all
      fixations against the values at all other fixations, every fixation counted, ties
      counted one half (the Mann-Whitney statistic):
      :math:`\sum_{i,j} w_i v_j ([P_i > P_j] + \tfrac12 [P_i = P_j]) / (\sum w \sum v)`.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    fixations : array or tensor, shape like ``saliency``, or (N, 2)
        This stimulus' fixation count map(s), or ``(x, y)`` image px for a single map.
    other_fixations : array or tensor, shape like ``saliency``, or (N, 2)
        Count map(s) of other stimuli's fixations, in this stimulus' pixel grid (rescale their
        positions to this image's size first; pysaliency truncates the rescaled positions).
    {{convention}}
    n_splits, step, seed : optional
        MIT convention only: number of splits (100), threshold step (0.1), seed (0).

    {{returns}}

    Raises
    ------
    ParameterError
        If a map has no fixation or no other fixation, or shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> fix = np.array([[0, 0], [0, 0], [0, 1]]); other = np.array([[1, 0], [0, 1], [0, 0]])
    >>> auc_shuffled(s, fix, other, convention="pysaliency")
    1.0
    """
    b = _batch(saliency, convention)
    _check_splits(n_splits, step)
    if _on_cpu(b) and convention == "pysaliency":
        return _shared(b, "auc_shuffled", fixations=fixations, other_fixations=other_fixations, convention=convention)
    if _on_cpu(b):
        fix = _fixations_np(b, fixations)
        others = _fixations_np(b, other_fixations, "other_fixations")
        return _result(b, _shuffled_np(b, fix, others, int(n_splits), float(step), seed))
    c = _counts(b, fixations).flatten(1)
    o = _counts(b, other_fixations, "other_fixations").flatten(1)
    p = b.maps.flatten(1).to(torch.float64)
    if convention == "pysaliency":
        return b.out(_shuffled_exact_torch(p, c, o).to(b.maps.dtype))
    return b.out(_shuffled_splits_torch(_minmax(p), c, o, int(n_splits), float(step), seed).to(b.maps.dtype))


def _shuffled_exact_torch(p: torch.Tensor, c: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
    """pysaliency's shuffled AUC on the device: every fixation (weights: counts) against every
    other fixation, of (B, N) maps ``p`` and count maps ``c`` (this stimulus) and ``o`` (others)."""
    pos, _, _ = _padded(p, c > 0, 0.0)
    wpos, _, _ = _padded(c.to(torch.float64), c > 0, 0.0)
    neg, _, _ = _padded(p, o > 0, 0.0)
    wneg, _, _ = _padded(o.to(torch.float64), o > 0, 0.0)
    return _exact_auc(pos, wpos, neg, wneg)


def _split_negatives(negv: torch.Tensor, m: torch.Tensor, kmax: int, n_splits: int, seed: int) -> torch.Tensor:
    """(B, S, kmax) draws without replacement from each map's M_i negatives (``negv`` padded):
    the first kmax of a random permutation per split (the kmax smallest random keys); each map
    draws from its own stream seeded with ``seed``."""
    keys = torch.full((negv.shape[0], n_splits, negv.shape[1]), 2.0, dtype=torch.float64, device=negv.device)
    for i, mi in enumerate(m.tolist()):  # each map its own stream from `seed`; padding (2.0) sorts last
        g = _generator(negv.device, seed)
        keys[i, :, :mi] = torch.rand((n_splits, mi), generator=g, device=negv.device, dtype=torch.float64)
    order = torch.topk(keys, min(kmax, keys.shape[2]), dim=2, largest=False, sorted=True).indices
    if order.shape[2] < kmax:  # fewer other fixated pixels than fixated pixels in every map
        order = torch.cat([order, order[..., :1].expand(-1, -1, kmax - order.shape[2])], 2)
    return torch.gather(negv[:, None, :].expand(-1, n_splits, -1), 2, order)


def _shuffled_splits_torch(p: torch.Tensor, c: torch.Tensor, o: torch.Tensor, n_splits: int, step: float,
                           seed: int) -> torch.Tensor:  # fmt: skip
    """MIT's shuffled AUC on the device: of min-max normalised (B, N) maps ``p``, the fixated pixels
    against as many other fixated pixels per split, at fixed thresholds."""
    pos, _, k = _padded(p, c > 0, -1.0)
    kmax = pos.shape[1]
    pos_ok = torch.arange(kmax, device=p.device)[None, :] < k[:, None]
    negv, _, m = _padded(p, o > 0, -1.0)
    neg = _split_negatives(negv, m, kmax, n_splits, seed)
    take = torch.minimum(k, m)
    neg_ok = (torch.arange(kmax, device=p.device)[None, None, :] < take[:, None, None]).expand_as(neg)
    return _threshold_auc(pos, pos_ok, neg, neg_ok, step)
