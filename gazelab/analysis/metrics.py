"""Saliency metrics (MIT / Tübingen benchmark definitions), batched in torch.

Every metric takes the saliency map (the prediction) first, then what it is scored against:

- *fixation metrics* ``(saliency, fixations)``: :func:`nss`, :func:`auc_judd`, :func:`auc_borji`,
  :func:`auc_shuffled` (plus ``other_fixations``) and :func:`information_gain` (plus ``baseline``);
- *map metrics* ``(saliency, reference)``: :func:`cc`, :func:`kld`, :func:`sim`, :func:`emd` and
  :func:`iou_topk`, the reference being the human fixation-density map.

Inputs
------
``saliency`` is a ``(H, W)`` map or a ``(B, H, W)`` batch (a ``(B, 1, H, W)`` batch is read as
``(B, H, W)``), a numpy array or a torch tensor on any device. ``fixations`` is either a fixation
*count map* of the same shape (fixations per pixel, >= 0; see
:func:`gazelab.preprocessing.maps.fixation_map`) or, with a single map, an ``(N, 2)`` array of
``(x, y)`` positions in image px, binned like :func:`~gazelab.preprocessing.maps.fixation_map`
(pixel ``(floor(y), floor(x))``; positions outside the image are dropped); an array of the
map's own shape is always read as a count map. Reference and
baseline maps have the saliency map's shape.

Outputs
-------
A Python float for a single map; for a batch, a 1-D array of length B of the input's library
(numpy in, numpy out; a tensor in, a tensor on the same device out). Computation stays on the
input's device (torch ops throughout) except :func:`emd`, whose linear program is solved by
scipy on the CPU. Float inputs keep their dtype (float32 on a GPU stays float32); the ROC
metrics always rank in float64.

Conventions
-----------
``convention='mit'`` (default) follows the MIT saliency benchmark's MATLAB code
(``cvzoya/saliency/code_forMetrics``); ``convention='pysaliency'`` follows pysaliency 0.2.22,
the Tübingen benchmark's library, where they differ (see ``docs/metrics.md`` for every case):

- NSS: MIT uses the sample standard deviation (N - 1) and each fixated *pixel* once (a binary
  fixation map); pysaliency the population standard deviation and every fixation (a pixel
  fixated twice counts twice).
- AUC-Judd: MIT counts each fixated pixel once; pysaliency every fixation. Both break ties
  with tiny random noise by default (``jitter``).
- KLD: MIT adds ``eps = 2.2204e-16`` inside the log and the quotient; pysaliency's
  ``image_based_kl_divergence`` adds ``1e-20`` to both maps before normalising.
- SIM: MIT min-max-normalises each map before normalising it to sum 1; pysaliency only shifts
  maps with negative values.
- Shuffled AUC: MIT samples, in each of 100 splits, as many of the other fixations as there are
  fixated pixels and uses 11 fixed thresholds; pysaliency uses all other fixations and the
  exact ROC.
- Information gain: MIT adds ``eps`` inside the logs and counts fixated pixels once;
  pysaliency takes plain logs of the densities and counts every fixation.

Two choices of ours for cases the benchmarks leave undefined (MIT returns NaN): a constant
saliency map scores NSS = CC = 0 (chance; as pysaliency), and an all-zero saliency map is read
as the uniform density by KLD, SIM and information gain. Empty fixations, an all-zero
reference map and shape mismatches raise :class:`~gazelab.errors.ParameterError`.

References
----------
Bylinskii, Judd, Oliva, Torralba & Durand, "What do different evaluation metrics tell us about
saliency models?", IEEE TPAMI 41(3), 2019. Kümmerer, Wallis & Bethge, "Information-theoretic model
comparison unifies saliency metrics", PNAS 112(52), 2015, and "Saliency benchmarking made easy",
ECCV 2018. Judd, Ehinger, Durand & Torralba, "Learning to predict where humans look", ICCV 2009.
Borji, Tavakoli, Sihite & Itti, "Analysis of scores, datasets, and models in visual saliency
prediction", ICCV 2013. Peters, Iyer, Itti & Koch, "Components of bottom-up gaze allocation in
natural images", Vision Research 45, 2005. Rubner, Tomasi & Guibas, "The earth mover's distance as
a metric for image retrieval", IJCV 40(2), 2000.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from gazelab.errors import ParameterError

__all__ = [
    "METRICS",
    "MetricSpec",
    "auc_borji",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "emd",
    "information_gain",
    "iou_topk",
    "kld",
    "nss",
    "register_metric",
    "sim",
]

Convention = Literal["mit", "pysaliency"]
#: MATLAB's ``eps`` as written in the MIT benchmark code (KLD, information gain).
MIT_EPS = 2.2204e-16
#: pysaliency's ``minimum_value`` added to both maps in ``image_based_kl_divergence``.
PYSALIENCY_KLD_MINIMUM = 1e-20
#: Size of the tie-breaking noise of AUC-Judd (MIT and pysaliency: 1e-7), relative to the map's range.
JITTER = 1e-7

Needs = Literal["fixations", "map", "fixations+others", "fixations+baseline"]


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes
    ----------
    name : str
        Registry key (e.g. ``'nss'``).
    function : callable
        The metric function.
    needs : {'fixations', 'map', 'fixations+others', 'fixations+baseline'}
        What it is scored against after the saliency map: a fixation count map; a reference
        map; fixations plus other stimuli's fixations (shuffled AUC); fixations plus a baseline
        map (information gain).
    higher_is_better : bool
        False for the distances (KLD, EMD).
    chance : float or None
        The score of an uninformative (constant) prediction where it is fixed by definition
        (AUCs 0.5, NSS 0, CC 0, IG 0), else None.
    """

    name: str
    function: Callable[..., Any]
    needs: Needs
    higher_is_better: bool
    chance: float | None = None


#: Name -> :class:`MetricSpec` of every registered metric.
METRICS: dict[str, MetricSpec] = {}
_NEEDS = ("fixations", "map", "fixations+others", "fixations+baseline")


def register_metric(
    name: str, *, needs: Needs, higher_is_better: bool = True, chance: float | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding a metric function to :data:`METRICS` under ``name``.

    Raises
    ------
    ParameterError
        If ``name`` is already registered or ``needs`` is not one of the four kinds.
    """
    if needs not in _NEEDS:
        raise ParameterError("needs", needs, f"one of {list(_NEEDS)}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in METRICS:
            raise ParameterError(
                "name", name, f"a metric name not yet registered (taken by {METRICS[name].function.__qualname__})"
            )
        METRICS[name] = MetricSpec(name, fn, needs, higher_is_better, chance)
        return fn

    return decorate


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
@dataclass
class _Batch:
    """The saliency batch as a float tensor (B, H, W), and how to return results."""

    maps: torch.Tensor
    single: bool
    numpy: bool

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.maps.shape[1]), int(self.maps.shape[2])

    def out(self, values: torch.Tensor) -> Any:
        if self.single:
            return float(values[0])
        if self.numpy:
            return values.detach().cpu().numpy().astype(np.float64)
        return values


def _tensor(x: Any, name: str) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        t, is_np = x.detach(), False
    else:
        try:
            a = np.asarray(x)
            t, is_np = torch.from_numpy(a if a.flags.writeable else a.copy()), True
        except (TypeError, ValueError, RuntimeError):
            raise ParameterError(name, type(x).__name__, "a numpy array or torch tensor") from None
    if not t.is_floating_point():
        t = t.to(torch.float64)
    return t, is_np


def _saliency(x: Any, name: str = "saliency") -> _Batch:
    t, is_np = _tensor(x, name)
    if t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim == 2:
        t, single = t[None], True
    elif t.ndim == 3:
        single = False
    else:
        raise ParameterError(name, tuple(t.shape), "a map (H, W) or a batch (B, H, W) (image px)")
    if t.shape[0] == 0 or t.shape[1] == 0 or t.shape[2] == 0:
        raise ParameterError(name, tuple(t.shape), "a non-empty map (H, W) or batch (B, H, W)")
    return _Batch(t, single, is_np)


def _same_map(batch: _Batch, x: Any, name: str) -> torch.Tensor:
    """A second map (reference, baseline, count map) of the saliency map's shape, on its device."""
    t, _ = _tensor(x, name)
    if t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim == 2 and batch.single:
        t = t[None]
    if tuple(t.shape) != tuple(batch.maps.shape):
        want = tuple(batch.maps.shape[1:]) if batch.single else tuple(batch.maps.shape)
        got = tuple(t.shape[1:]) if batch.single and t.ndim == 3 else tuple(t.shape)
        raise ParameterError(name, got, f"the saliency map's shape {want}")
    return t.to(device=batch.maps.device)


def _counts(batch: _Batch, fixations: Any, name: str = "fixations") -> torch.Tensor:
    """Fixation count maps (B, H, W), validated: finite, >= 0, at least one fixation per map."""
    h, w = batch.shape
    pts = _as_points(fixations, int(batch.maps.shape[0]), batch.single, tuple(batch.maps.shape))
    if pts is not None:  # (x, y) points: count maps on the device
        rows = [torch.from_numpy(_flat_points(p, h, w)).to(batch.maps.device) for p in pts]
        c = torch.stack([torch.bincount(r, minlength=h * w) for r in rows]).to(batch.maps.dtype).reshape(-1, h, w)
    else:
        t, _ = _tensor(fixations, name)
        c = _same_map(batch, t, name)
        if c.dtype != batch.maps.dtype:
            c = c.to(batch.maps.dtype)
        if not bool((c >= 0).all()):  # also catches NaN
            raise ParameterError(name, "negative or non-finite counts", "a fixation count map with counts >= 0")
    total = c.flatten(1).sum(1)
    empty = torch.nonzero(total <= 0).flatten().tolist()
    if empty:
        where = "the map" if batch.single else f"map(s) {empty[:10]}{' ...' if len(empty) > 10 else ''}"
        raise ParameterError(name, f"no fixation in {where}", "at least one fixation inside the image per map")
    return c


def _check_convention(convention: str) -> None:
    if convention not in ("mit", "pysaliency"):
        raise ParameterError("convention", convention, "'mit' or 'pysaliency'")


def _minmax(m: torch.Tensor) -> torch.Tensor:
    """Per-map min-max normalisation of (B, N) rows to [0, 1] (constant rows: all 0)."""
    lo = m.amin(1, keepdim=True)
    rng = m.amax(1, keepdim=True) - lo
    return (m - lo) / torch.where(rng > 0, rng, torch.ones_like(rng))


def _density(m: torch.Tensor, *, minimum: float = 0.0) -> torch.Tensor:
    """(B, N) rows as densities: shifted up if negative, ``minimum`` added, divided by the sum;
    an all-zero row becomes uniform."""
    lo = m.amin(1, keepdim=True)
    if bool((lo < 0).any()):
        m = m - lo.clamp(max=0)
    if minimum:
        m = m + minimum
    s = m.sum(1, keepdim=True)
    if bool((s > 0).all()):
        return m / s
    uniform = torch.full_like(m, 1.0 / m.shape[1])
    return torch.where(s > 0, m / torch.where(s > 0, s, torch.ones_like(s)), uniform)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot products of (B, N) tensors."""
    return torch.bmm(a.unsqueeze(1), b.unsqueeze(2)).reshape(-1)


def _padded(values: torch.Tensor, mask: torch.Tensor, fill: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The entries of (B, N) ``values`` where ``mask``, left-aligned in a (B, Kmax) tensor.

    Returns the padded values (``fill`` beyond each row's count), their flat indices into N (0
    beyond) and the count per row.
    """
    b_idx, i_idx = torch.nonzero(mask, as_tuple=True)
    n = torch.bincount(b_idx, minlength=mask.shape[0])
    kmax = max(int(n.max()) if n.numel() else 0, 1)
    start = torch.cumsum(n, 0) - n
    pos = torch.arange(b_idx.numel(), device=mask.device) - start[b_idx]
    out = torch.full((mask.shape[0], kmax), fill, dtype=values.dtype, device=values.device)
    out[b_idx, pos] = values[b_idx, i_idx]
    idx = torch.zeros((mask.shape[0], kmax), dtype=torch.long, device=values.device)
    idx[b_idx, pos] = i_idx
    return out, idx, n


def _generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


# --------------------------------------------------------------------------------------------
# CPU path: numpy kernels on zero-copy views, one map at a time (no full-batch temporaries)
# --------------------------------------------------------------------------------------------
# On the CPU, torch's elementwise kernels (comparisons, log, var) are several times slower than
# numpy's for these sizes, and batched (B, H*W) expressions make temporaries of B maps; so CPU
# tensors and numpy arrays are scored row by row with numpy (views, no copies), with sums and
# dot products in float64 (BLAS) and at most one map-sized scratch buffer. Fixations are kept
# sparse (flat pixel indices and counts): nothing map-sized is built from points.
#: Above this many distinct fixated pixels, AUC-Judd sorts the map once instead of counting the
#: pixels above each threshold in its own pass.
_JUDD_SORT_ABOVE = 32
#: A one-pass moment (sum of squares minus n mean^2) is trusted when the variance is at least this
#: share of the mean square; below it the row is recomputed with centred values (two passes).
_WELL_CONDITIONED = 1e-6
#: Elements per block of a row: a map is streamed from memory once per pass, block by block, and
#: every operation of the pass runs on the block while it is in the L2 cache (256 KiB float64).
_BLOCK = 32768


def _blocks(n: int) -> list[slice]:
    return [slice(s, min(s + _BLOCK, n)) for s in range(0, n, _BLOCK)]


def _vdot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two 1-D rows with numpy's own SIMD loop (no BLAS: its threads contend with
    the caller's on a busy machine and the sizes here are too small to gain from them)."""
    return float(np.einsum("i,i->", a, b))


def _min_sum(p: np.ndarray) -> tuple[float, float]:
    """Minimum and float64 sum of a row, in one streamed pass."""
    lo, s = math.inf, 0.0
    for sl in _blocks(p.size):
        blk = p[sl]
        lo = min(lo, float(blk.min()))
        s += float(blk.sum(dtype=np.float64))
    return lo, s


def _on_cpu(b: _Batch) -> bool:
    return b.maps.device.type == "cpu"


def _np_rows(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor (B, H, W) as a numpy view (float32/float64 kept; other floats -> float32)."""
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t.numpy()


def _row(a: np.ndarray, i: int) -> np.ndarray:
    r = a[i]
    return r.reshape(-1) if r.flags.c_contiguous else np.ascontiguousarray(r).reshape(-1)


@dataclass
class _Fix:
    """One map's fixations, sparse: flat pixel indices (repeats allowed) and their weights.

    ``weights`` None means every entry weighs 1 (points); from a count map the indices are
    distinct and the weights are the counts.
    """

    flat: np.ndarray
    weights: np.ndarray | None
    _unique: tuple[np.ndarray, np.ndarray] | None = None

    def unique(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct fixated pixels (sorted) and the number of fixations on each."""
        if self._unique is None:
            if self.weights is None:
                u, c = np.unique(self.flat, return_counts=True)
                self._unique = (u, c.astype(np.float64))
            else:
                self._unique = (self.flat, self.weights)
        return self._unique

    @property
    def total(self) -> float:
        return float(len(self.flat)) if self.weights is None else float(self.weights.sum())


def _as_points(x: Any, n_maps: int, single: bool, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    """Fixations given as points: a list of (N_i, 2) per map, else None (a count map)."""
    if isinstance(x, list | tuple) and not single:
        if len(x) != n_maps:
            raise ParameterError("fixations", f"{len(x)} point arrays", f"one (N, 2) array per map ({n_maps})")
        out = []
        for v in x:
            a = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            a = np.asarray(a, dtype=np.float64).reshape(-1, 2) if a.size else np.zeros((0, 2))
            out.append(a)
        return out
    nd = x.ndim if isinstance(x, torch.Tensor | np.ndarray) else np.ndim(x)
    shp = tuple(x.shape) if isinstance(x, torch.Tensor | np.ndarray) else np.shape(x)
    if single and nd == 2 and shp[1] == 2 and shp != shape[1:]:
        a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return [np.asarray(a, dtype=np.float64)]
    if not single and nd == 3 and shp[2] == 2 and shp != shape and shp[0] == n_maps:
        a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return list(np.asarray(a, dtype=np.float64))
    return None


def _flat_points(pts: np.ndarray, h: int, w: int) -> np.ndarray:
    """Flat pixel indices ``floor(y) * W + floor(x)`` of the points inside the image (NaN dropped)."""
    col, row = np.floor(pts[:, 0]), np.floor(pts[:, 1])
    keep = (col >= 0) & (col < w) & (row >= 0) & (row < h)  # NaN (padding) compares False
    return (row[keep] * w + col[keep]).astype(np.int64)


def _empty_error(empty: list[int], single: bool, name: str) -> ParameterError:
    where = "the map" if single else f"map(s) {empty[:10]}{' ...' if len(empty) > 10 else ''}"
    return ParameterError(name, f"no fixation in {where}", "at least one fixation inside the image per map")


def _fixations_np(b: _Batch, fixations: Any, name: str = "fixations") -> list[_Fix]:
    """The fixations of each map (CPU path): from points or count maps, validated."""
    n, (h, w) = b.maps.shape[0], b.shape
    pts = _as_points(fixations, n, b.single, tuple(b.maps.shape))
    out: list[_Fix] = []
    if pts is not None:
        out = [_Fix(_flat_points(p, h, w), None) for p in pts]
    else:
        t, _ = _tensor(fixations, name)
        c = _same_map(b, t, name)
        a = c.numpy() if c.dtype in (torch.float32, torch.float64) else c.to(torch.float64).numpy()
        shared = a.strides[0] == 0  # an expanded view: one count map for every row
        for i in range(1 if shared else n):
            row = _row(a, i)
            nz = np.flatnonzero(row)
            v = row[nz].astype(np.float64)
            if not bool((v > 0).all()):  # negative or NaN
                raise ParameterError(name, "negative or non-finite counts", "a fixation count map with counts >= 0")
            out.append(_Fix(nz, v))
        if shared:
            out = out * n
    empty = [i for i, f in enumerate(out) if f.total <= 0]
    if empty:
        raise _empty_error(empty, b.single, name)
    return out


def _result(b: _Batch, vals: np.ndarray) -> Any:
    return b.out(torch.from_numpy(np.asarray(vals, dtype=np.float64)).to(b.maps.dtype))


def _moments(p: np.ndarray) -> tuple[float, float]:
    """Mean and population variance of a row: one pass (sum, BLAS dot), two if ill-conditioned."""
    n = p.size
    p64 = p if p.dtype == np.float64 else p.astype(np.float64)
    s = ss = 0.0
    for sl in _blocks(n):
        blk = p64[sl]
        s += float(blk.sum())
        ss += _vdot(blk, blk)
    mean, msq = s / n, ss / n
    var = msq - mean * mean
    if var < _WELL_CONDITIONED * msq:
        if p.min() == p.max():  # constant
            return mean, 0.0
        d = p64 - mean
        var = _vdot(d, d) / n
    return mean, max(var, 0.0)


def _nss_np(b: _Batch, fix: list[_Fix], convention: str) -> np.ndarray:
    a = _np_rows(b.maps)
    out = np.empty(len(fix))
    for i, f in enumerate(fix):
        p = _row(a, i)
        mean, var = _moments(p)
        if convention == "mit":
            u, _ = f.unique()
            at = float(p[u].astype(np.float64).mean())
            var = var * p.size / (p.size - 1) if p.size > 1 else 0.0
        elif f.weights is None:
            at = float(p[f.flat].astype(np.float64).mean())
        else:
            at = float(p[f.flat].astype(np.float64) @ f.weights) / float(f.weights.sum())
        sd = math.sqrt(var)
        out[i] = (at - mean) / sd if sd > 0 else 0.0
    return out


def _noise(seed: int, idx: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers, a fixed function of (seed, pixel index) (splitmix64): the jitter of a
    pixel does not depend on the batch or on which other pixels needed one."""
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) + np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def _judd_np(p: np.ndarray, f: _Fix, *, unique: bool, jitter: bool, seed: int) -> float:
    """AUC-Judd of one flat map; thresholds = the (jittered) values at the fixated pixels."""
    n = p.size
    u, cnt = f.unique()
    k = len(u)
    if k >= n:  # no unfixated pixel: undefined
        return math.nan
    w = np.ones(k) if unique else cnt
    v = p[u].astype(np.float64)
    if jitter:
        lo, hi = float(p.min()), float(p.max())
        delta = JITTER * (hi - lo) if hi > lo else JITTER
        bounds = np.concatenate([v + delta, v - delta])
    else:
        bounds = v
    # pixels at or above each bound: one sort for many bounds, else one streamed pass with a
    # count per bound on each cached block
    if k > _JUDD_SORT_ABOVE:
        counts = n - np.searchsorted(np.sort(p), bounds, side="left")
    else:
        counts = np.zeros(len(bounds), dtype=np.int64)
        flags = np.empty(min(n, _BLOCK), dtype=bool)
        for sl in _blocks(n):
            blk = p[sl]
            f = flags[: len(blk)]
            for j, x in enumerate(bounds):
                np.greater_equal(blk, x, out=f)
                counts[j] += np.count_nonzero(f)
    if not jitter:
        t = v
        ge_all = counts.astype(np.float64)
    else:
        t = v + delta * _noise(seed, u)
        ge_all = np.empty(k)
        order_v = np.sort(v)
        groups: dict[float, tuple[np.ndarray, np.ndarray] | None] = {}
        for j in range(k):
            vj = float(v[j])
            c_hi = int(counts[j])
            if vj not in groups:
                c_lo = int(counts[k + j])
                fixated_in = int(
                    np.searchsorted(order_v, vj + delta, "left") - np.searchsorted(order_v, vj - delta, "left")
                )
                if c_lo - c_hi == fixated_in:
                    groups[vj] = None  # only fixated pixels lie within the jitter of vj
                else:  # other pixels within the jitter: draw theirs (ties, e.g. exact zeros)
                    band = np.flatnonzero((p >= vj - delta) & (p < vj + delta))
                    groups[vj] = (band, p[band].astype(np.float64) + delta * _noise(seed, band))
            g = groups[vj]
            if g is None:
                near = (v >= vj - delta) & (v < vj + delta)
                ge_all[j] = c_hi + np.count_nonzero(t[near] >= t[j])
            else:
                ge_all[j] = c_hi + np.count_nonzero(g[1] >= t[j])
    # fixated pixels (and their weight) at or above each threshold
    ge_fix = (t[None, :] >= t[:, None]).astype(np.float64)  # [j, m]: pixel m at/above threshold j
    tp = ge_fix @ w / w.sum()
    fp = (ge_all - ge_fix.sum(1)) / (n - k)
    order = np.argsort(-t, kind="stable")
    tp = np.concatenate([[0.0], tp[order], [1.0]])
    fp = np.concatenate([[0.0], fp[order], [1.0]])
    return float(np.trapezoid(tp, fp))


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


def _exact_auc_np(pos: np.ndarray, wpos: np.ndarray | None, neg: np.ndarray, wneg: np.ndarray | None) -> float:
    """Weighted Mann-Whitney AUC (ties 1/2) of positives against negatives (weights None: 1)."""
    if wneg is None:
        ns = np.sort(neg)
        cw = np.arange(len(ns) + 1, dtype=np.float64)
    else:
        order = np.argsort(neg, kind="stable")
        ns = neg[order]
        cw = np.concatenate([[0.0], np.cumsum(wneg[order])])
    below = cw[np.searchsorted(ns, pos, "left")]
    upto = cw[np.searchsorted(ns, pos, "right")]
    score = below + 0.5 * (upto - below)
    if wpos is None:
        return float(score.sum() / (len(pos) * cw[-1]))
    return float(score @ wpos / (wpos.sum() * cw[-1]))


def _density_params(p: np.ndarray, *, shift_to_min: bool = False, minimum: float = 0.0) -> tuple[float, float]:
    """(c, s) with the row's density = (p - c) / s: c = min(min, 0) (or the min), ``minimum``
    added; s = 0 means the row is read as uniform."""
    lo, total = _min_sum(p)
    c = lo if shift_to_min else min(lo, 0.0)
    c -= minimum
    s = total - p.size * c
    return c, s


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


def _ref_rows(b: _Batch, reference: Any, name: str = "reference") -> np.ndarray:
    r = _same_map(b, reference, name)
    if r.dtype != b.maps.dtype:
        r = r.to(b.maps.dtype)
    return _np_rows(r)


def _all_zero_error(rows: list[int], single: bool) -> ParameterError:
    where = "the map" if single else f"map(s) {rows[:10]}"
    return ParameterError("reference", f"all zero in {where}", "a human fixation-density map with some mass")


def _cc_np(b: _Batch, reference: Any) -> np.ndarray:
    a, g = _np_rows(b.maps), _ref_rows(b, reference)
    n = a.shape[1] * a.shape[2]
    out = np.empty(a.shape[0])
    const = []
    for i in range(a.shape[0]):
        p, r = _row(a, i), _row(g, i)
        if p.dtype != np.float64:
            p, r = p.astype(np.float64), r.astype(np.float64)
        sp = sr = spp = srr = spr = 0.0
        for sl in _blocks(n):
            bp, br = p[sl], r[sl]
            sp += float(bp.sum())
            sr += float(br.sum())
            spp += _vdot(bp, bp)
            srr += _vdot(br, br)
            spr += _vdot(bp, br)
        mp, mr, pp, rr = sp / n, sr / n, spp / n, srr / n
        vp, vr = pp - mp * mp, rr - mr * mr
        if vp < _WELL_CONDITIONED * pp or vr < _WELL_CONDITIONED * rr:  # centre first (two passes)
            p_const, r_const = p.min() == p.max(), r.min() == r.max()
            p, r = p - mp, r - mr
            vp, vr, cov = _vdot(p, p) / n, _vdot(r, r) / n, _vdot(p, r) / n
            vp, vr = (0.0 if p_const else vp), (0.0 if r_const else vr)
        else:
            cov = spr / n - mp * mr
        if vr <= 0:
            const.append(i)
            continue
        out[i] = cov / math.sqrt(vp * vr) if vp > 0 else 0.0
    if const:
        where = "the map" if b.single else f"map(s) {const[:10]}"
        raise ParameterError("reference", f"constant in {where}", "a human map that is not constant")
    return out


def _kld_np(b: _Batch, reference: Any, convention: str) -> np.ndarray:
    a, g = _np_rows(b.maps), _ref_rows(b, reference)
    n = a.shape[1] * a.shape[2]
    out = np.empty(a.shape[0])
    zero = []
    buf = np.empty(min(n, _BLOCK))
    buf2 = np.empty(min(n, _BLOCK))
    minimum = PYSALIENCY_KLD_MINIMUM if convention == "pysaliency" else 0.0
    for i in range(a.shape[0]):
        p, r = _row(a, i), _row(g, i)
        cr, sr = _density_params(r)
        if cr == 0 and sr == 0:  # no negative value and no mass: all zero
            zero.append(i)
            continue
        cp, sp = _density_params(p)
        if minimum:  # + minimum to both shifted maps (pysaliency), then divided by the sum
            sr, sp = sr + n * minimum, sp + n * minimum
        total = 0.0
        for sl in _blocks(n):  # G in gb, P in pb (densities), block by block
            gb, pb = buf2[: sl.stop - sl.start], buf[: sl.stop - sl.start]
            np.subtract(r[sl], cr, out=gb)
            if minimum:
                gb += minimum
            gb *= 1.0 / sr
            if sp > 0:
                np.subtract(p[sl], cp, out=pb)
                if minimum:
                    pb += minimum
                pb *= 1.0 / sp
            else:
                pb.fill(1.0 / n)
            if convention == "mit":
                pb += MIT_EPS
                np.divide(gb, pb, out=pb)
                pb += MIT_EPS
            else:
                np.divide(gb, pb, out=pb)
            np.log(pb, out=pb)
            total += _vdot(gb, pb)
        out[i] = total
    if zero:
        raise _all_zero_error(zero, b.single)
    return out


def _sim_np(b: _Batch, reference: Any, convention: str) -> np.ndarray:
    a, g = _np_rows(b.maps), _ref_rows(b, reference)
    n = a.shape[1] * a.shape[2]
    out = np.empty(a.shape[0])
    zero = []
    buf = np.empty(n)
    blk = np.empty(min(n, _BLOCK))
    to_min = convention == "mit"
    for i in range(a.shape[0]):
        p, r = _row(a, i), _row(g, i)
        cr, sr = _density_params(r, shift_to_min=to_min)
        if cr == 0 and sr == 0:  # all zero
            zero.append(i)
            continue
        cp, sp = _density_params(p, shift_to_min=to_min)
        if sp <= 0 or sr <= 0:  # a uniform map: sum of min(1/n, other density)
            other, (c, s) = (r, (cr, sr)) if sp <= 0 else (p, (cp, sp))
            if s <= 0:
                out[i] = 1.0
                continue
            np.subtract(other, c, out=buf)
            buf *= 1.0 / s
            np.minimum(buf, 1.0 / n, out=buf)
            out[i] = float(buf.sum())
            continue
        # sum_i min((p - cp)/sp, (r - cr)/sr) = (sum_i min(p, k r + cp - k cr) - n cp) / sp, k = sp/sr
        kk = sp / sr
        total = 0.0
        for sl in _blocks(n):
            bb = blk[: sl.stop - sl.start]
            np.multiply(r[sl], kk, out=bb)
            if cp != 0.0 or cr != 0.0:
                bb += cp - kk * cr
            np.minimum(p[sl], bb, out=bb)
            total += float(bb.sum())
        total -= n * cp
        if n * abs(cp) > 1e6 * sp:  # the offset swamps the mass: recompute without it
            np.subtract(r, cr, out=buf)
            buf *= 1.0 / sr
            np.minimum(buf, (p - cp) / sp, out=buf)
            out[i] = float(buf.sum())
        else:
            out[i] = total / sp
    if zero:
        raise _all_zero_error(zero, b.single)
    return out


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


def _shuffled_np(
    b: _Batch, fix: list[_Fix], others: list[_Fix], convention: str, n_splits: int, step: float, seed: int
) -> np.ndarray:
    a = _np_rows(b.maps)
    out = np.empty(len(fix))
    for i, (f, o) in enumerate(zip(fix, others, strict=True)):
        p = _row(a, i)
        if convention == "pysaliency":
            out[i] = _exact_auc_np(p[f.flat].astype(np.float64), f.weights, p[o.flat].astype(np.float64), o.weights)
            continue
        lo, rng = _minmax_np(p)
        u, _ = f.unique()
        ou, _ = o.unique()
        take = min(len(u), len(ou))
        sel = _sample_without_replacement(np.random.default_rng(seed), len(ou), (n_splits, take))
        pos = (p[u].astype(np.float64) - lo) / rng
        out[i] = _threshold_auc_np(pos, (p[ou[sel]].astype(np.float64) - lo) / rng, step)
    return out


# --------------------------------------------------------------------------------------------
# fixation metrics
# --------------------------------------------------------------------------------------------
@register_metric("nss", needs="fixations", chance=0.0)
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

    Returns
    -------
    float or 1-D array/tensor of length B
        A constant map scores 0 (where MIT's code returns NaN).

    Raises
    ------
    ParameterError
        If a map has no fixation, counts are negative, or the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> round(nss(s, np.array([[0, 0], [0, 1]])), 6)  # (3 - 1.5) / std([0, 1, 2, 3], ddof=1)
    1.161895
    """
    _check_convention(convention)
    b = _saliency(saliency)
    if _on_cpu(b):
        return _result(b, _nss_np(b, _fixations_np(b, fixations), convention))
    c = _counts(b, fixations).flatten(1)
    p = b.maps.flatten(1)
    var, mean = torch.var_mean(p, dim=1, correction=1 if convention == "mit" else 0)
    w = (c > 0).to(p.dtype) if convention == "mit" else c
    at_fix = _dot(p, w) / w.sum(1)
    std = var.sqrt()
    out = torch.where(std > 0, (at_fix - mean) / torch.where(std > 0, std, torch.ones_like(std)), torch.zeros_like(std))
    return b.out(out)


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


@register_metric("auc_judd", needs="fixations", chance=0.5)
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
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.
    jitter : bool, optional
        Add uniform noise of 1e-7 times the map's range before ranking (default True), as MIT
        and pysaliency do (MIT: ``rand / 1e7`` on the raw map; pysaliency: Gaussian ``1e-7``
        noise, seed 42), so tied values (e.g. the exact zeros of a truncated Gaussian map) are
        ranked at random; False counts all pixels tied with a threshold as above it
        (pysaliency's ``AUC_Judd(jitter=False)``), deterministic but lower on flat maps.
    seed : int, optional
        Seed of the jitter (default 0; torch's generator on the map's device).

    Returns
    -------
    float or 1-D array/tensor of length B

    Raises
    ------
    ParameterError
        If a map has no fixation, counts are negative, or the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> auc_judd(s, np.array([[0, 0], [0, 1]]), jitter=False)  # the best pixel is fixated
    1.0
    >>> round(auc_judd(s, np.array([[0, 1], [0, 0]]), jitter=False), 6)  # 2 of 3 unfixated pixels above it
    0.666667
    """
    _check_convention(convention)
    b = _saliency(saliency)
    if _on_cpu(b):
        a = _np_rows(b.maps)
        fix = _fixations_np(b, fixations)
        unique = convention == "mit"
        vals = [_judd_np(_row(a, i), f, unique=unique, jitter=jitter, seed=seed) for i, f in enumerate(fix)]
        return _result(b, np.array(vals))
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


@register_metric("auc_borji", needs="fixations", chance=0.5)
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

    Returns
    -------
    float or 1-D array/tensor of length B

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


@register_metric("auc_shuffled", needs="fixations+others", chance=0.5)
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
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.
    n_splits, step, seed : optional
        MIT convention only: number of splits (100), threshold step (0.1), seed (0).

    Returns
    -------
    float or 1-D array/tensor of length B

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
    _check_convention(convention)
    _check_splits(n_splits, step)
    b = _saliency(saliency)
    if _on_cpu(b):
        fix = _fixations_np(b, fixations)
        others = _fixations_np(b, other_fixations, "other_fixations")
        return _result(b, _shuffled_np(b, fix, others, convention, int(n_splits), float(step), seed))
    c = _counts(b, fixations).flatten(1)
    o = _counts(b, other_fixations, "other_fixations").flatten(1)
    p = b.maps.flatten(1).to(torch.float64)
    if convention == "pysaliency":
        pos, _, _ = _padded(p, c > 0, 0.0)
        wpos, _, _ = _padded(c.to(torch.float64), c > 0, 0.0)
        neg, _, _ = _padded(p, o > 0, 0.0)
        wneg, _, _ = _padded(o.to(torch.float64), o > 0, 0.0)
        return b.out(_exact_auc(pos, wpos, neg, wneg).to(b.maps.dtype))
    p = _minmax(p)
    pos, _, k = _padded(p, c > 0, -1.0)
    kmax = pos.shape[1]
    pos_ok = torch.arange(kmax, device=p.device)[None, :] < k[:, None]
    negv, _, m = _padded(p, o > 0, -1.0)
    keys = torch.full((p.shape[0], n_splits, negv.shape[1]), 2.0, dtype=torch.float64, device=p.device)
    for i, mi in enumerate(m.tolist()):  # each map its own stream from `seed`; padding (2.0) sorts last
        g = _generator(p.device, seed)
        keys[i, :, :mi] = torch.rand((n_splits, mi), generator=g, device=p.device, dtype=torch.float64)
    # the first kmax of a random permutation: the kmax smallest random keys
    order = torch.topk(keys, min(kmax, keys.shape[2]), dim=2, largest=False, sorted=True).indices
    take = torch.minimum(k, m)
    if order.shape[2] < kmax:  # fewer other fixated pixels than fixated pixels in every map
        order = torch.cat([order, order[..., :1].expand(-1, -1, kmax - order.shape[2])], 2)
    neg = torch.gather(negv[:, None, :].expand(-1, n_splits, -1), 2, order)
    neg_ok = (torch.arange(kmax, device=p.device)[None, None, :] < take[:, None, None]).expand_as(neg)
    return b.out(_threshold_auc(pos, pos_ok, neg, neg_ok, step).to(b.maps.dtype))


@register_metric("information_gain", needs="fixations+baseline", chance=0.0)
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
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.

    Returns
    -------
    float or 1-D array/tensor of length B
        Bits per fixation.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 3.0]]); base = np.ones((1, 2))
    >>> round(information_gain(s, np.array([[0, 1]]), base), 6)  # log2(0.75 / 0.5)
    0.584963
    """
    _check_convention(convention)
    b = _saliency(saliency)
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


# --------------------------------------------------------------------------------------------
# map metrics
# --------------------------------------------------------------------------------------------
def _reference(b: _Batch, reference: Any) -> torch.Tensor:
    r = _same_map(b, reference, "reference").to(b.maps.dtype).flatten(1)
    flat = torch.nonzero(~(r != 0).any(1)).flatten().tolist()
    if flat:
        where = "the map" if b.single else f"map(s) {flat[:10]}"
        raise ParameterError("reference", f"all zero in {where}", "a human fixation-density map with some mass")
    return r


@register_metric("cc", needs="map", chance=0.0)
def cc(saliency: Any, reference: Any) -> Any:
    r"""Pearson's linear correlation coefficient between the prediction and the human map.

    .. math:: \mathrm{CC} = \frac{\sum_i (P_i - \bar P)(G_i - \bar G)}
              {\sqrt{\sum_i (P_i - \bar P)^2 \sum_i (G_i - \bar G)^2}}

    over all pixels (MIT ``CC.m``, pysaliency ``CC``; identical). In [-1, 1]; invariant to
    ``a * P + b`` (a > 0). A constant prediction scores 0 (pysaliency; MIT gives NaN).

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    reference : array or tensor, shape like ``saliency``
        The human fixation-density map(s).

    Returns
    -------
    float or 1-D array/tensor of length B

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
    b = _saliency(saliency)
    if _on_cpu(b):
        return _result(b, _cc_np(b, reference))
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


@register_metric("kld", needs="map", higher_is_better=False, chance=None)
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
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.

    Returns
    -------
    float or 1-D array/tensor of length B

    Examples
    --------
    >>> import numpy as np
    >>> round(kld(np.array([[1.0, 1.0]]), np.array([[3.0, 1.0]])), 6)  # .75 ln 1.5 + .25 ln .5
    0.130812
    """
    _check_convention(convention)
    b = _saliency(saliency)
    if _on_cpu(b):
        return _result(b, _kld_np(b, reference, convention))
    r = _reference(b, reference)
    if convention == "mit":
        p, g = _density(b.maps.flatten(1)), _density(r)
        terms = g * torch.log(MIT_EPS + g / (p + MIT_EPS))
    else:
        p = _density(b.maps.flatten(1), minimum=PYSALIENCY_KLD_MINIMUM)
        g = _density(r, minimum=PYSALIENCY_KLD_MINIMUM)
        terms = g * (torch.log(g) - torch.log(p))
    return b.out(terms.sum(1))


@register_metric("sim", needs="map", chance=None)
def sim(saliency: Any, reference: Any, *, convention: Convention = "mit") -> Any:
    r"""Similarity (histogram intersection; Judd et al. 2012, Bylinskii et al. 2019).

    .. math:: \mathrm{SIM} = \sum_i \min(\hat P_i, \hat G_i)

    with :math:`\hat P, \hat G` the maps normalised to sum 1, after min-max normalisation to
    [0, 1] (MIT ``similarity.m``) or after a shift of maps with negative values only
    (pysaliency ``SIM``); an all-zero (or, MIT, constant) map becomes uniform. 1 for identical
    distributions, 0 for disjoint ones.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    reference : array or tensor, shape like ``saliency``
    convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.

    Returns
    -------
    float or 1-D array/tensor of length B

    Examples
    --------
    >>> import numpy as np
    >>> sim(np.array([[1.0, 1.0, 2.0]]), np.array([[0.0, 1.0, 1.0]]), convention="pysaliency")
    0.75
    """
    _check_convention(convention)
    b = _saliency(saliency)
    if _on_cpu(b):
        return _result(b, _sim_np(b, reference, convention))
    r = _reference(b, reference)
    p = b.maps.flatten(1)
    if convention == "mit":
        p, r = _minmax(p), _minmax(r)
    return b.out(torch.minimum(_density(p), _density(r)).sum(1))


def _downsample(m: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, H, W) -> (B, ceil(H/f), ceil(W/f)) by area averaging (adaptive average pooling)."""
    h, w = m.shape[1:]
    size = (max(1, math.ceil(h / factor)), max(1, math.ceil(w / factor)))
    return torch.nn.functional.adaptive_avg_pool2d(m[:, None], size)[:, 0]


def _emd_exact(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    """Exact EMD between two densities on the same grid (transportation LP, scipy HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, eye, kron

    ip, iq = np.flatnonzero(p > 0), np.flatnonzero(q > 0)
    a, bq = p[ip], q[iq]
    a, bq = a / a.sum(), bq / bq.sum()
    n, m = len(ip), len(iq)
    if n == 0 or m == 0:
        return 0.0
    c = cost[np.ix_(ip, iq)].ravel()
    rows = kron(eye(n, format="csr"), csr_array(np.ones((1, m))), format="csr")
    cols = kron(csr_array(np.ones((1, n))), eye(m, format="csr"), format="csr")
    from scipy.sparse import vstack

    a_eq = vstack([rows, cols[:-1]], format="csr")  # one constraint is redundant
    b_eq = np.concatenate([a, bq[:-1]])
    res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if not res.success:  # pragma: no cover - a feasible bounded LP; HiGHS does not fail on it
        raise RuntimeError(f"EMD linear program failed: {res.message}")
    return float(res.fun)


@register_metric("emd", needs="map", higher_is_better=False, chance=None)
def emd(saliency: Any, reference: Any, *, downsample: int = 32) -> Any:
    r"""Earth mover's distance (Rubner et al. 2000) between the prediction and the human map.

    Both maps are reduced by the factor ``downsample`` (area averaging to
    :math:`\lceil H/f \rceil \times \lceil W/f \rceil` cells; MIT ``EMD.m`` uses MATLAB's bicubic
    ``imresize(map, 1/32)``), shifted up if negative and normalised to sum 1; the EMD is the
    least total cost of moving the mass of :math:`\hat P` onto :math:`\hat G`,

    .. math:: \mathrm{EMD} = \min_{f \ge 0} \sum_{i,j} f_{ij} d_{ij} \quad \text{s.t.} \quad
              \sum_j f_{ij} = \hat P_i, \; \sum_i f_{ij} = \hat G_j

    with :math:`d_{ij}` the Euclidean distance between cells in *downsampled* px (as MIT, no
    extra-mass penalty since both sum to 1). Solved exactly as a transportation linear program
    by ``scipy.optimize.linprog`` (HiGHS) on the CPU, over the cells with mass only; a 480x640
    map (15 x 20 cells, up to 90,000 flows) takes about a second, so this is the one slow
    metric. Lower is better; 0 for equal maps.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    reference : array or tensor, shape like ``saliency``
    downsample : int, optional
        Reduction factor (default 32, as MIT); 1 keeps full resolution (slow beyond ~30x30).

    Returns
    -------
    float or 1-D array/tensor of length B
        In downsampled px (multiply by ``downsample`` for approximate image px).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((1, 4)); a[0, 0] = 1.0
    >>> g = np.zeros((1, 4)); g[0, 3] = 1.0
    >>> round(emd(a, g, downsample=1), 6)  # all mass moves 3 px
    3.0
    """
    if not isinstance(downsample, int | np.integer) or downsample < 1:
        raise ParameterError("downsample", downsample, "an integer reduction factor >= 1")
    b = _saliency(saliency)
    _reference(b, reference)
    r = _same_map(b, reference, "reference").to(b.maps.dtype)
    p = _downsample(b.maps.to(torch.float64), int(downsample))
    g = _downsample(r.to(torch.float64), int(downsample))
    hh, ww = p.shape[1:]
    p = _density(p.flatten(1)).cpu().numpy()
    g = _density(g.flatten(1)).cpu().numpy()
    yy, xx = np.divmod(np.arange(hh * ww), ww)
    cost = np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :])
    vals = [_emd_exact(p[i], g[i], cost) for i in range(p.shape[0])]
    return b.out(torch.tensor(vals, dtype=b.maps.dtype, device=b.maps.device))


@register_metric("iou_topk", needs="map", chance=None)
def iou_topk(saliency: Any, reference: Any, *, k_percent: float = 10.0) -> Any:
    r"""Intersection over union of the top-k % regions of the prediction and the human map.

    Each map's region is the set of pixels with a value at least its
    :math:`\lceil k \cdot HW / 100 \rceil`-th largest value (ties at the cut all included, so a
    region may exceed k %); :math:`\mathrm{IoU} = |A \cap B| / |A \cup B|`, in [0, 1]. Not a
    benchmark metric: a readable summary of the overlap of the most salient areas.

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
    reference : array or tensor, shape like ``saliency``
    k_percent : float, optional
        Share of the image's pixels in each region, in (0, 100] (default 10).

    Returns
    -------
    float or 1-D array/tensor of length B

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
