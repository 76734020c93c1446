"""All the metrics a user asks for on a batch, in one pass that shares the work.

:func:`score` computes any set of registered metrics of a batch of saliency maps. On the CPU,
NSS, CC, KLD, SIM, AUC-Judd and (pysaliency convention) shuffled AUC share their work:

1. one streamed pass over the maps (and the reference maps) gathers every per-map statistic
   they need: sums, sums of squares, minima, maxima, the dot product of map and reference;
2. a second pass, only for KLD, SIM and AUC-Judd, reads each map again while it is still in the
   cache and feeds all three from the same block: the KLD terms, the SIM minima, and AUC-Judd's
   sum over pixels of a table value per bucket of the map's values (1024 to 16384 buckets): the ROC
   area is linear in the pixel counts above the thresholds, so each pixel adds the coefficients of
   the thresholds below its bucket, and the few pixels in a threshold's own bucket are compared
   with it exactly, all at once after the pass;
3. the values at the fixations are gathered once and serve NSS, AUC-Judd and shuffled AUC.

Both passes walk the batch in work units of about 64k pixels (part of a map, or several small
maps) with every operation vectorised over the unit's maps, so the Python loop runs over fixed
amounts of work, never once per metric and map; per-map scalars are float64, every sum is
accumulated in float64 and the results equal the single-metric functions' (same definitions,
same conventions, ties and jitter). Other metrics (AUC-Borji, MIT shuffled AUC, information gain,
EMD, top-k IoU) and inputs on a GPU are computed by their own functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gazelab.analysis.metrics._base import (
    _WELL_CONDITIONED,
    JITTER,
    MIT_EPS,
    PYSALIENCY_KLD_MINIMUM,
    _all_zero_error,
    _Batch,
    _check_convention,
    _Fix,
    _fixations_np,
    _np_rows,
    _on_cpu,
    _ref_rows,
    _result,
    _saliency,
)
from gazelab.errors import ParameterError

__all__ = ["DEFAULT_SUITE", "score"]

#: The metrics :func:`score` computes by default (the MIT / Tübingen benchmark's core six).
DEFAULT_SUITE = ("nss", "cc", "kld", "sim", "auc_judd", "auc_shuffled")
#: Pixels per work unit: a unit's temporaries stay in the L2 cache.
_UNIT = 65536
#: Value buckets of AUC-Judd's table (per map, between its minimum and maximum): a power of
#: two with about 32 pixels per bucket, within these bounds, so that few pixels share a threshold's
#: buckets and need an exact comparison while the table stays small.
_BUCKETS = (1024, 16384)


def _units(n_maps: int, n_px: int) -> Iterator[tuple[slice, slice]]:
    """(maps, pixels) slices of about ``_UNIT`` pixels each, covering a (B, N) batch."""
    if n_px >= _UNIT:
        for r in range(n_maps):
            for c in range(0, n_px, _UNIT):
                yield slice(r, r + 1), slice(c, min(c + _UNIT, n_px))
    else:
        g = max(1, _UNIT // n_px)
        for r in range(0, n_maps, g):
            yield slice(r, min(r + g, n_maps)), slice(0, n_px)


def _as64(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float64 else x.astype(np.float64)


def _rowdot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products of (R, C) float64 blocks (one row: BLAS ``ddot``)."""
    if x.shape[0] == 1:
        return np.array([np.dot(x[0], y[0])])
    return np.einsum("ij,ij->i", x, y)


@dataclass
class _Stats:
    """Per-map statistics of the first pass (float64, shape (B,))."""

    n: int
    p_sum: np.ndarray
    p_sq: np.ndarray
    p_min: np.ndarray
    p_max: np.ndarray
    g_sum: np.ndarray | None = None
    g_sq: np.ndarray | None = None
    g_min: np.ndarray | None = None
    pg: np.ndarray | None = None


def _first_pass(a: np.ndarray, g: np.ndarray | None, names: set[str]) -> _Stats:
    """What the metrics ``names`` need of the maps (and references): sums, sums of squares, minima,
    maxima, dot products; one streamed pass."""
    b, n = a.shape
    sq, lo, hi, pg = (
        bool(names & {"nss", "cc"}),
        bool(names & {"kld", "sim", "auc_judd"}),
        "auc_judd" in names,
        "cc" in names,
    )
    st = _Stats(n, np.zeros(b), np.zeros(b), np.full(b, np.inf), np.full(b, -np.inf))
    if g is not None:
        st.g_sum, st.g_sq, st.pg, st.g_min = np.zeros(b), np.zeros(b), np.zeros(b), np.full(b, np.inf)
    for rows, cols in _units(b, n):
        p = _as64(a[rows, cols])
        st.p_sum[rows] += p.sum(1)
        if sq:
            st.p_sq[rows] += _rowdot(p, p)
        if lo:
            np.minimum(st.p_min[rows], p.min(1), out=st.p_min[rows])
        if hi:
            np.maximum(st.p_max[rows], p.max(1), out=st.p_max[rows])
        if g is not None:
            r = _as64(g[rows, cols])
            st.g_sum[rows] += r.sum(1)
            if pg:
                st.g_sq[rows] += _rowdot(r, r)
                st.pg[rows] += _rowdot(p, r)
            if lo:
                np.minimum(st.g_min[rows], r.min(1), out=st.g_min[rows])
    return st


def _centred(x: np.ndarray, mean: float) -> np.ndarray:
    """x - mean of an ill-conditioned row (a constant row: exact zeros)."""
    return np.zeros_like(x, dtype=np.float64) if x.min() == x.max() else _as64(x) - mean


# -- moments: NSS and CC -------------------------------------------------------------------------------
def _variance(a: np.ndarray, st: _Stats) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population variance of every map; ill-conditioned rows recomputed centred."""
    mean, msq = st.p_sum / st.n, st.p_sq / st.n
    var = msq - mean * mean
    for i in np.flatnonzero(var < _WELL_CONDITIONED * msq):  # nearly constant maps only (rare)
        d = _centred(a[i], mean[i])
        var[i] = float(np.einsum("i,i->", d, d)) / st.n
    return mean, np.maximum(var, 0.0)


def _nss(a: np.ndarray, st: _Stats, fx: _Fixed, convention: str) -> np.ndarray:
    mean, var = _variance(a, st)
    if convention == "mit":
        rows, vals, w = fx.u_rows, fx.u_vals, None
        var = var * st.n / (st.n - 1) if st.n > 1 else np.zeros_like(var)
    else:
        rows, vals, w = fx.rows, fx.vals, fx.weights
    b = len(mean)
    wsum = np.bincount(rows, weights=w, minlength=b)
    at = np.bincount(rows, weights=vals if w is None else vals * w, minlength=b) / wsum
    sd = np.sqrt(var)
    return np.where(sd > 0, (at - mean) / np.where(sd > 0, sd, 1.0), 0.0)


def _cc(a: np.ndarray, g: np.ndarray, st: _Stats) -> np.ndarray:
    n = st.n
    mp, mr, pp, rr = st.p_sum / n, st.g_sum / n, st.p_sq / n, st.g_sq / n
    vp, vr, cov = pp - mp * mp, rr - mr * mr, st.pg / n - mp * mr
    for i in np.flatnonzero((vp < _WELL_CONDITIONED * pp) | (vr < _WELL_CONDITIONED * rr)):  # centre first
        p = _centred(a[i].reshape(-1), mp[i])
        r = _centred(g[i].reshape(-1), mr[i])
        vp[i], vr[i], cov[i] = (float(np.einsum("i,i->", x, y)) / n for x, y in ((p, p), (r, r), (p, r)))
    const = np.flatnonzero(vr <= 0).tolist()
    if const:
        where = "the map" if len(vr) == 1 else f"map(s) {const[:10]}"
        raise ParameterError("reference", f"constant in {where}", "a human map that is not constant")
    return np.where(vp > 0, cov / np.sqrt(np.where(vp > 0, vp, 1.0) * vr), 0.0)


# -- the values at the fixations -----------------------------------------------------------------------
@dataclass
class _Fixed:
    """Every map's fixations, concatenated: map row, flat pixel, weight (None: 1 each), map value;
    and the distinct fixated pixels (``u_*``) with their fixation counts."""

    rows: np.ndarray
    flat: np.ndarray
    weights: np.ndarray | None
    vals: np.ndarray
    u_rows: np.ndarray
    u_flat: np.ndarray
    u_count: np.ndarray
    u_vals: np.ndarray


def _take(a: np.ndarray, rows: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Values ``a[rows, flat]`` of a (B, N) batch as float64 (one flat gather where ``a`` is contiguous)."""
    vals = np.take(a.reshape(-1), rows * a.shape[1] + flat) if a.flags.c_contiguous else a[rows, flat]
    return vals.astype(np.float64, copy=False)


def _fixed(a: np.ndarray, fix: list[_Fix], *, unique: bool = True) -> _Fixed:
    n = a.shape[1]
    rows = np.repeat(np.arange(len(fix)), [len(f.flat) for f in fix])
    flat = np.concatenate([f.flat for f in fix]).astype(np.int64)
    if all(f.weights is None for f in fix):
        weights = None
    else:
        weights = np.concatenate([np.ones(len(f.flat)) if f.weights is None else f.weights for f in fix])
    vals = _take(a, rows, flat)
    if not unique:
        return _Fixed(rows, flat, weights, vals, *(np.zeros(0),) * 4)
    if weights is None:
        key, count = np.unique(rows * n + flat, return_counts=True)
        count = count.astype(np.float64)
    else:  # count maps: the pixels are already distinct
        key, count = rows * n + flat, weights
    u_rows, u_flat = np.divmod(key, n)
    return _Fixed(rows, flat, weights, vals, u_rows, u_flat, count, _take(a, u_rows, u_flat))


# -- the second pass: KLD, SIM and AUC-Judd's table ---------------------------------------------------
@dataclass
class _Affine:
    """A density of every map as ``scale * (map + shift)`` (uniform rows: scale 0, shift 1 / (n scale'))."""

    shift: np.ndarray
    scale: np.ndarray
    uniform: np.ndarray
    minimum: float = 0.0  # added after the shift (pysaliency's KLD), so a tiny one is not lost to rounding

    def of(self, x: np.ndarray, rows: slice) -> np.ndarray:
        d = x + self.shift[rows, None]
        if self.minimum:
            d += self.minimum
        d *= self.scale[rows, None]
        return d


def _densities(lo: np.ndarray, total: np.ndarray, n: int, *, to_min: bool, minimum: float) -> _Affine:
    c = lo if to_min else np.minimum(lo, 0.0)
    s = total - n * c
    if minimum:
        s = s + n * minimum
    uniform = s <= 0
    return _Affine(-c, np.where(uniform, 0.0, 1.0 / np.where(uniform, 1.0, s)), uniform, minimum)


@dataclass
class _Judd:
    """AUC-Judd thresholds (one per distinct fixated pixel), the ROC's linear coefficients and what
    the pass accumulates.

    The trapezoid under the ROC points (FP_j, TP_j) is linear in the false-positive rates, so
    AUC = const + sum_j coef_j FP_j with coefficients that depend on the thresholds alone; and
    sum_j coef_j (pixels >= t_j) = sum over pixels of the coefficients of the thresholds at or below
    the pixel. The pass therefore adds up, per pixel, one value of a table indexed by the pixel's
    bucket (the thresholds wholly below the bucket); only pixels in a bucket that holds a threshold
    are compared with it exactly (their table value is flagged by ``_FLAG``).
    """

    rows: np.ndarray  # (J,) map row of each threshold
    lo: np.ndarray  # band [lo, hi) within which the jitter decides; lo == hi without jitter
    hi: np.ndarray
    t: np.ndarray  # the (jittered) threshold
    key_lo: np.ndarray  # (B,) bucket origin and scale of each map
    key_scale: np.ndarray
    seed: int
    delta: np.ndarray  # (B,) jitter size
    coef: np.ndarray  # (J,) each threshold's coefficient (<= 0) of its pixel count
    const: np.ndarray  # (B,) the ROC area's constant part
    pix_ge: np.ndarray  # (J,) fixated pixels at or above each threshold (not negatives)
    nb: int  # buckets per map
    reg_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (B * nb,) CSR of the
    reg_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # thresholds by (map, bucket)
    reg_j: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    table: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (B * nb,) sum of coef below each bucket
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (B,) sum over pixels of coef at or below
    ge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (J,) own-bucket pixels above
    near: list = field(default_factory=list)  # (values, map bucket, pixel index) of the threshold buckets' pixels

    def keys(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Bucket of values ``x`` of maps ``rows``: the pixels' formula (float32, monotone in x), clipped."""
        k = np.floor((x.astype(np.float32) - self.key_lo[rows]) * self.key_scale[rows])
        return np.clip(k, 0, self.nb - 1).astype(np.int64)


#: Added to the table value of a bucket that holds a threshold (table values lie in [-1, 0]).
_FLAG = -2.0


def _noise(seed: int, idx: np.ndarray) -> np.ndarray:
    from gazelab.analysis.metrics.roc import _noise as noise

    return noise(seed, idx)


def _roc_coefficients(t: np.ndarray, w: np.ndarray, rows: np.ndarray, b: int):
    """Coefficients of the trapezoid over the ROC points in the false-positive rates.

    Points: (0, 0), then (FP_j, TP_j) by descending threshold, then (1, 1); TP_j is the fixation
    weight at or above t_j. The area sum_i (x_i+1 - x_i)(y_i + y_i+1) / 2 has coefficient
    (y_i-1 - y_i+1) / 2 for each inner x_i and (y_last + 1) / 2 for the final x = 1.
    Returns (coef (J,), const (B,), fixated thresholds at or above each (J,)).
    """
    k = np.bincount(rows, minlength=b)
    kmax = max(int(k.max()) if len(k) else 0, 1)
    pos = np.arange(len(rows)) - (np.cumsum(k) - k)[rows]
    t_pad = np.full((b, kmax), np.inf)
    t_pad[rows, pos] = t
    w_pad = np.zeros((b, kmax))
    w_pad[rows, pos] = w
    order = np.argsort(t_pad, 1, kind="stable")
    t_sorted = np.take_along_axis(t_pad, order, 1)
    cum_w = np.concatenate([np.zeros((b, 1)), np.cumsum(np.take_along_axis(w_pad, order, 1), 1)], 1)
    n_less = torch.searchsorted(torch.from_numpy(t_sorted), torch.from_numpy(t_pad), right=False).numpy()
    total_w = cum_w[np.arange(b), k][:, None]
    tp = (total_w - np.take_along_axis(cum_w, n_less, 1)) / np.where(total_w > 0, total_w, 1.0)
    pad = np.arange(kmax)[None, :] >= k[:, None]
    tp[pad] = 1.0  # padding: points (1, 1), which add no area
    desc = np.argsort(np.where(pad, np.inf, -t_pad), 1, kind="stable")
    y = np.concatenate([np.zeros((b, 1)), np.take_along_axis(tp, desc, 1), np.ones((b, 1))], 1)
    coef_desc = (y[:, :-2] - y[:, 2:]) / 2
    coef = np.empty_like(coef_desc)
    np.put_along_axis(coef, desc, coef_desc, 1)
    const = (y[:, -2] + 1) / 2 + np.where(pad, coef, 0.0).sum(1)
    return coef[rows, pos], const, (k[:, None] - n_less)[rows, pos]


def _judd_setup(st: _Stats, fx: _Fixed, *, jitter: bool, seed: int, convention: str) -> _Judd:
    b = len(st.p_min)
    nb = min(_BUCKETS[1], max(_BUCKETS[0], 1 << max(0, (st.n // 32).bit_length() - 1)))
    rng = st.p_max - st.p_min
    delta = np.where(rng > 0, JITTER * rng, JITTER) if jitter else np.zeros(b)
    rows, v = fx.u_rows, fx.u_vals
    d = delta[rows]
    t = v + d * _noise(seed, fx.u_flat) if jitter else v
    # buckets from float32 values: any monotone formula keeps the counts exact (a threshold's own
    # buckets are compared in float64); the 2**-12 margin keeps the maximum below the last bucket's end
    lo32 = st.p_min.astype(np.float32)
    rng32 = st.p_max.astype(np.float32) - lo32
    with np.errstate(divide="ignore"):
        scale = np.where(rng32 > 0, np.float32(nb * (1.0 - 2.0**-12)) / rng32, np.float32(0.0))
    coef, const, pix_ge = _roc_coefficients(t, np.ones(len(t)) if convention == "mit" else fx.u_count, rows, b)
    jd = _Judd(rows, v - d, v + d, t, lo32, scale.astype(np.float32), seed, delta, coef, const, pix_ge, nb)
    _register(jd, b)
    return jd


def _register(jd: _Judd, b: int) -> None:
    """File each threshold under the buckets its band touches, and build the per-bucket table."""
    nb, rows = jd.nb, jd.rows
    k_lo, k_hi = jd.keys(jd.lo, rows), jd.keys(jd.hi, rows)
    span = k_hi - k_lo + 1
    reg_j = np.repeat(np.arange(len(rows)), span)
    reg_key = rows[reg_j] * nb + k_lo[reg_j] + (np.arange(len(reg_j)) - np.repeat(np.cumsum(span) - span, span))
    order = np.argsort(reg_key, kind="stable")
    jd.reg_j, reg_key = reg_j[order], reg_key[order]
    jd.reg_count = np.bincount(reg_key, minlength=b * nb)
    jd.reg_start = np.cumsum(jd.reg_count) - jd.reg_count
    below = np.zeros((b, nb + 1))
    np.add.at(below, (rows, k_hi + 1), jd.coef)  # a threshold is wholly below the buckets after its band
    jd.table = np.cumsum(below[:, :nb], 1).reshape(-1)
    jd.table[jd.reg_count > 0] += _FLAG
    jd.total = np.zeros(b)
    jd.ge = np.zeros(len(rows), np.int64)


def _judd_unit(jd: _Judd, p: np.ndarray, rows: slice, cols: slice) -> None:
    """Add up a unit's table values and compare the pixels in a threshold's bucket with it exactly."""
    r = np.arange(rows.start, rows.stop)
    k = p.astype(np.float32)
    k -= jd.key_lo[r, None]
    k *= jd.key_scale[r, None]
    key = k.astype(np.intp)
    if len(r) > 1:
        key += (r * jd.nb)[:, None] - rows.start * jd.nb
    vals = np.take(jd.table[rows.start * jd.nb : rows.stop * jd.nb], key)
    near = np.flatnonzero(vals < _FLAG / 2)
    jd.total[rows] += vals.sum(1)
    if len(near):
        jd.total[rows] -= _FLAG * np.bincount(near // p.shape[1], minlength=len(r))
        jd.near.append((p.ravel()[near], key.ravel()[near] + rows.start * jd.nb, near % p.shape[1] + cols.start))


def _judd_near(jd: _Judd) -> None:
    """Count the pixels of the threshold buckets (all units' at once) above each of their bucket's thresholds."""
    if not jd.near:
        return
    vals, comp, pix = (np.concatenate(x) for x in zip(*jd.near, strict=True))
    start, count = jd.reg_start[comp], jd.reg_count[comp]
    jit = None
    for m in range(int(count.max())):
        ok = np.flatnonzero(count > m)
        j = jd.reg_j[start[ok] + m]
        x = vals[ok]
        above = x >= jd.hi[j]
        band = ~above & (x >= jd.lo[j])
        if band.any():
            if jit is None:
                jit = np.full(len(vals), np.nan)
            need = ok[band][np.isnan(jit[ok[band]])]
            jit[need] = vals[need] + jd.delta[comp[need] // jd.nb] * _noise(jd.seed, pix[need])
            above[band] = jit[ok[band]] >= jd.t[j[band]]
        jd.ge += np.bincount(j[above], minlength=len(jd.ge))


def _judd_finish(jd: _Judd, n: int) -> np.ndarray:
    """AUC-Judd of every map: const + sum_j coef_j (pixels >= t_j - fixated ones) / negatives."""
    _judd_near(jd)
    b = len(jd.total)
    k = np.bincount(jd.rows, minlength=b)
    own = np.bincount(jd.rows, weights=jd.coef * (jd.ge - jd.pix_ge), minlength=b)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = jd.const + (jd.total + own) / (n - k)
    return np.where(k >= n, np.nan, auc)


@dataclass
class _Second:
    """What the second pass accumulates."""

    kld: np.ndarray | None = None
    sim: np.ndarray | None = None


def _map_pair_setup(st: _Stats, names: set[str], convention: str) -> dict[str, tuple[_Affine, _Affine]]:
    """Density normalisations (prediction, reference) of KLD and SIM, checked."""
    out = {}
    zero = np.flatnonzero((np.minimum(st.g_min, 0.0) == 0) & (st.g_sum - st.n * np.minimum(st.g_min, 0.0) == 0))
    if len(zero):
        raise _all_zero_error(zero.tolist(), len(st.g_min) == 1)
    if "kld" in names:
        m = PYSALIENCY_KLD_MINIMUM if convention == "pysaliency" else 0.0
        out["kld"] = tuple(_densities(lo, s, st.n, to_min=False, minimum=m) for lo, s in
                           ((st.p_min, st.p_sum), (st.g_min, st.g_sum)))  # fmt: skip
    if "sim" in names:
        to_min = convention == "mit"
        out["sim"] = tuple(_densities(lo, s, st.n, to_min=to_min, minimum=0.0) for lo, s in
                           ((st.p_min, st.p_sum), (st.g_min, st.g_sum)))  # fmt: skip
    return out


def _kld_unit(p: np.ndarray, r: np.ndarray, dp: _Affine, dg: _Affine, rows: slice, n: int, mit: bool) -> np.ndarray:
    """sum over the unit's pixels of G ln(eps + G / (P + eps)) (MIT) or G ln(G / P), G and P densities."""
    gb, pb = dg.of(r, rows), dp.of(p, rows)
    uni = dp.uniform[rows]
    if uni.any():
        pb[uni] = 1.0 / n
    if mit:
        pb += MIT_EPS
        np.divide(gb, pb, out=pb)
        pb += MIT_EPS
    else:
        np.divide(gb, pb, out=pb)
    np.log(pb, out=pb)
    return np.einsum("ij,ij->i", gb, pb)


def _sim_unit(p: np.ndarray, r: np.ndarray, dp: _Affine, dg: _Affine, rows: slice, n: int) -> np.ndarray:
    """sum over the unit's pixels of min(P, G), both densities."""
    gb, pb = dg.of(r, rows), dp.of(p, rows)
    for uni, m in ((dp.uniform[rows], pb), (dg.uniform[rows], gb)):
        if uni.any():
            m[uni] = 1.0 / n
    np.minimum(pb, gb, out=pb)
    return pb.sum(1)


def _kld_fast(dp: _Affine, dg: _Affine) -> bool:
    """Non-negative maps with mass: KLD in five operations per pixel (see :func:`_kld_fast_unit`)."""
    return not (dp.shift.any() or dg.shift.any() or dp.uniform.any() or dg.uniform.any())


def _kld_fast_unit(
    p: np.ndarray, r: np.ndarray, dp: _Affine, dg: _Affine, rows: slice, mit: bool, exact_p: bool = False
) -> np.ndarray:
    """The unit's share of S, with KLD = ln k + S / s_G (k = s_P / s_G; s the maps' sums, plus n m).

    MIT: G/s_G ln(eps + (G/s_G) / (P/s_P + eps)) = G/s_G [ln k + ln(G / (P + eps s_P) + eps / k)];
    pysaliency: (G + m)/s_G [ln k + ln((G + m) / (P + m))]; ``exact_p``: P + m rounds to P everywhere.
    """
    sp, sg = 1.0 / dp.scale[rows, None], 1.0 / dg.scale[rows, None]
    if mit:
        x = p + MIT_EPS * sp
        np.divide(r, x, out=x)
        x += MIT_EPS * sg / sp
        g = r
    else:
        g = r + dg.minimum
        if exact_p:  # p + m == p for every pixel: one pass less
            x = np.divide(g, p)
        else:
            x = p + dp.minimum
            np.divide(g, x, out=x)
    np.log(x, out=x)
    return _rowdot(g, x)


def _kld_fast_finish(s: np.ndarray, dp: _Affine, dg: _Affine) -> np.ndarray:
    return np.log(dg.scale / dp.scale) + s * dg.scale


def _sim_fast(dp: _Affine, dg: _Affine, n: int) -> bool:
    """Both maps with mass, and an offset that does not swamp it: SIM in three or four operations."""
    return not (dp.uniform.any() or dg.uniform.any() or (n * np.abs(dp.shift) * dp.scale > 1e6).any())


def _sim_fast_unit(p: np.ndarray, r: np.ndarray, dp: _Affine, dg: _Affine, rows: slice) -> np.ndarray:
    """The unit's share of S, SIM = a_P (S + n c_P): min(a_P (P + c_P), a_G (G + c_G)) =
    a_P [min(P, k G + k c_G - c_P) + c_P], k = a_G / a_P."""
    k = (dg.scale / dp.scale)[rows, None]
    x = r * k
    c = k * dg.shift[rows, None] - dp.shift[rows, None]
    if c.any():
        x += c
    np.minimum(p, x, out=x)
    return x.sum(1)


def _second_pass(
    a: np.ndarray, g: np.ndarray | None, st: _Stats, names: set[str], convention: str, jd: _Judd | None
) -> _Second:
    norms = _map_pair_setup(st, names, convention) if g is not None and names & {"kld", "sim"} else {}
    out = _Second(*(np.zeros(a.shape[0]) if m in norms else None for m in ("kld", "sim")))
    fast_kld = "kld" in norms and _kld_fast(*norms["kld"])
    # pysaliency's m = 1e-20 is below half a unit in the last place of every value above 2**55 m
    exact_p = fast_kld and bool(norms["kld"][0].minimum) and bool((st.p_min > 2.0**55 * norms["kld"][0].minimum).all())
    fast_sim = "sim" in norms and _sim_fast(*norms["sim"], st.n)
    for rows, cols in _units(*a.shape):
        p = _as64(a[rows, cols])
        if jd is not None:
            _judd_unit(jd, p, rows, cols)
        if not norms:
            continue
        r = _as64(g[rows, cols])
        if fast_kld:
            out.kld[rows] += _kld_fast_unit(p, r, *norms["kld"], rows, convention == "mit", exact_p)
        elif "kld" in norms:
            out.kld[rows] += _kld_unit(p, r, *norms["kld"], rows, st.n, convention == "mit")
        if fast_sim:
            out.sim[rows] += _sim_fast_unit(p, r, *norms["sim"], rows)
        elif "sim" in norms:
            out.sim[rows] += _sim_unit(p, r, *norms["sim"], rows, st.n)
    if fast_kld:
        out.kld = _kld_fast_finish(out.kld, *norms["kld"])
    if fast_sim:
        dp = norms["sim"][0]
        out.sim = dp.scale * (out.sim + st.n * dp.shift)
    return out


# -- shuffled AUC (pysaliency: the exact ROC against other stimuli's fixations) ---------------------------
def _padded_rows(rows: np.ndarray, vals: np.ndarray, b: int, fill: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries sorted by map row, left-aligned per row in a (B, max count) array (``fill`` beyond;
    a view of ``vals`` where every row is full); also each entry's column and the count per row."""
    m = np.bincount(rows, minlength=b)
    col = np.arange(len(rows)) - (np.cumsum(m) - m)[rows]
    width = max(int(m.max()), 1)
    if len(vals) == b * width:  # as many entries in every row: a view, no padding
        return vals.reshape(b, width), col, m
    out = np.full((b, width), fill)
    out.reshape(-1)[rows * width + col] = vals
    return out, col, m


def _negatives(ox: _Fixed, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The other fixations' values per map, sorted (+inf padding), and the cumulative weight below
    each position (B, M + 1)."""
    neg, col, m = _padded_rows(ox.rows, ox.vals, b, np.inf)
    if ox.weights is None:  # one each: the weight below position i is i (up to the row's count)
        neg.sort(1)
        return neg, np.minimum(np.arange(neg.shape[1] + 1.0)[None, :], m[:, None])
    wneg = np.zeros(neg.shape)
    wneg[ox.rows, col] = ox.weights
    order = np.argsort(neg, 1, kind="stable")
    cw = np.cumsum(np.take_along_axis(wneg, order, 1), 1)
    return np.take_along_axis(neg, order, 1), np.concatenate([np.zeros((b, 1)), cw], 1)


def _shuffled_exact(a: np.ndarray, fx: _Fixed, others: list[_Fix]) -> np.ndarray:
    """Weighted Mann-Whitney AUC (ties 1/2) of the values at the fixations against those at the others'."""
    b = a.shape[0]
    neg, cw = _negatives(_fixed(a, others, unique=False), b)
    pos, col, _ = _padded_rows(fx.rows, fx.vals, b, 0.0)
    wpos = np.zeros(pos.shape)
    wpos[fx.rows, col] = 1.0 if fx.weights is None else fx.weights
    tn, tp = torch.from_numpy(neg), torch.from_numpy(pos)
    below = np.take_along_axis(cw, torch.searchsorted(tn, tp, right=False).numpy(), 1)
    upto = np.take_along_axis(cw, torch.searchsorted(tn, tp, right=True).numpy(), 1)
    score = below + 0.5 * (upto - below)
    return (score * wpos).sum(1) / (wpos.sum(1) * cw[:, -1])


# -- the driver ------------------------------------------------------------------------------------------
_SHARED = {"nss", "cc", "kld", "sim", "auc_judd", "auc_shuffled"}


def _shared_names(names: Sequence[str], convention: str) -> set[str]:
    shared = set(names) & _SHARED
    if convention == "mit":
        shared.discard("auc_shuffled")  # random splits: its own function
    return shared


def _check_names(metrics: Sequence[str]) -> list[str]:
    from gazelab.analysis.metrics import METRICS

    names = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ParameterError("metrics", bad or names, f"names from gazelab.analysis.metrics.METRICS {sorted(METRICS)}")
    return names


def _needed(name: str, given: dict[str, Any]) -> None:
    from gazelab.analysis.metrics import METRICS

    for part in METRICS[name].needs.split("+"):
        arg = {"fixations": "fixations", "map": "reference", "others": "other_fixations", "baseline": "baseline"}[part]
        if given[arg] is None:
            raise ParameterError(arg, None, f"the {arg.replace('_', ' ')} that {name!r} is scored against")


def _one_by_one(name: str, saliency: Any, given: dict[str, Any], options: dict[str, Any]) -> Any:
    """A metric by its own function (GPU inputs, and the metrics outside the shared pass)."""
    import inspect

    from gazelab.analysis.metrics import METRICS

    spec = METRICS[name]
    args = {
        "fixations": (given["fixations"],),
        "map": (given["reference"],),
        "fixations+others": (given["fixations"], given["other_fixations"]),
        "fixations+baseline": (given["fixations"], given["baseline"]),
    }[spec.needs]
    accepted = inspect.signature(spec.function).parameters
    return spec.function(saliency, *args, **{k: v for k, v in options.items() if k in accepted})


def _shared_pass(b: _Batch, given: dict[str, Any], shared: set[str], convention: str, jitter: bool, seed: int):
    """The shared-work CPU path: every metric of ``shared`` for the batch, as float64 arrays."""
    a = _np_rows(b.maps)
    a = a.reshape(a.shape[0], -1)
    needs_map = bool(shared & {"cc", "kld", "sim"})
    g = _ref_rows(b, given["reference"]).reshape(a.shape[0], -1) if needs_map else None
    fix = _fixations_np(b, given["fixations"]) if shared & {"nss", "auc_judd", "auc_shuffled"} else None
    fx = _fixed(a, fix) if fix is not None else None
    out: dict[str, np.ndarray] = {}
    st = _first_pass(a, g, shared) if shared - {"auc_shuffled"} else None
    jd = _judd_setup(st, fx, jitter=jitter, seed=seed, convention=convention) if "auc_judd" in shared else None
    if shared & {"kld", "sim", "auc_judd"}:
        second = _second_pass(a, g, st, shared, convention, jd)
        out.update({m: v for m, v in (("kld", second.kld), ("sim", second.sim)) if v is not None})
    if jd is not None:
        out["auc_judd"] = _judd_finish(jd, st.n)
    if "nss" in shared:
        out["nss"] = _nss(a, st, fx, convention)
    if "cc" in shared:
        out["cc"] = _cc(a, g, st)
    if "auc_shuffled" in shared:
        others = _fixations_np(b, given["other_fixations"], "other_fixations")
        out["auc_shuffled"] = _shuffled_exact(a, fx, others)
    return out


def _single(b: _Batch, name: str, *, convention: str = "mit", jitter: bool = True, seed: int = 0, **given: Any) -> Any:
    """One metric of the shared pass on a parsed CPU batch (what the metric's own function returns)."""
    given = {"fixations": None, "reference": None, "other_fixations": None, "baseline": None, **given}
    return _result(b, _shared_pass(b, given, {name}, convention, jitter, seed)[name])


def score(
    saliency: Any,
    *,
    fixations: Any = None,
    reference: Any = None,
    other_fixations: Any = None,
    baseline: Any = None,
    metrics: Sequence[str] = DEFAULT_SUITE,
    convention: str = "mit",
    jitter: bool = True,
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Several saliency metrics of a map or a batch at once, sharing their work.

    Each value equals what the metric's own function returns for the same arguments
    (e.g. ``score(s, fixations=f, reference=g, metrics=['nss', 'cc'])['cc'] == cc(s, g)``), with
    the inputs and outputs described in :mod:`gazelab.analysis.metrics`; on the CPU the metrics of
    the benchmark's core (NSS, CC, KLD, SIM, AUC-Judd, pysaliency's shuffled AUC) read the maps
    once for all of them (see the module's description).

    Parameters
    ----------
    saliency : array or tensor, shape (H, W) or (B, H, W)
        The prediction(s).
    fixations : array or tensor, optional
        Count map(s) like ``saliency``, or ``(x, y)`` image px: ``(N, 2)`` for one map, a list of
        ``(N_i, 2)`` or a ``(B, N, 2)`` array (NaN padding) for a batch. Needed by the fixation
        and ROC metrics.
    reference : array or tensor, optional
        The human density map(s), shape like ``saliency`` (CC, KLD, SIM, EMD, IoU).
    other_fixations : array or tensor, optional
        Other stimuli's fixations, as ``fixations`` (shuffled AUC).
    baseline : array or tensor, optional
        Baseline map(s) (information gain).
    metrics : sequence of str, optional
        Names of :data:`gazelab.analysis.metrics.METRICS` (default :data:`DEFAULT_SUITE`).
    convention : {'mit', 'pysaliency'}, optional
        Passed to every metric that has conventions (default 'mit').
    jitter, seed : optional
        AUC-Judd's tie-breaking (and the seed of the random splits of AUC-Borji and MIT's
        shuffled AUC), as :func:`~gazelab.analysis.metrics.auc_judd`.
    **options
        Further keyword arguments of single metrics (``n_splits``, ``step``, ``downsample``,
        ``k_percent``), each passed to the metrics that take it.

    Returns
    -------
    dict
        Metric name -> float (one map) or 1-D array/tensor of length B.

    Raises
    ------
    ParameterError
        For an unknown metric, a missing input a metric needs, or the metrics' own errors.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.0, 1.0], [2.0, 3.0]]); f = np.array([[0, 0], [0, 1]])
    >>> out = score(s, fixations=f, reference=s + 1, metrics=["nss", "cc", "auc_judd"], jitter=False)
    >>> {k: round(v, 6) for k, v in out.items()}
    {'nss': 1.161895, 'cc': 1.0, 'auc_judd': 1.0}
    """
    names = _check_names(metrics)
    _check_convention(convention)
    given = {"fixations": fixations, "reference": reference, "other_fixations": other_fixations, "baseline": baseline}
    for name in names:
        _needed(name, given)
    b = _saliency(saliency)
    shared = _shared_names(names, convention) if _on_cpu(b) else set()
    values = _shared_pass(b, given, shared, convention, jitter, seed) if shared else {}
    options = {**options, "convention": convention, "jitter": jitter, "seed": seed}
    out = {}
    for name in names:
        out[name] = _result(b, values[name]) if name in values else _one_by_one(name, saliency, given, options)
    return out
