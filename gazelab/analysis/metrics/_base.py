"""Input handling and shared kernels of the saliency metrics: batches, fixations, densities."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from gazelab.errors import ParameterError

Convention = Literal["mit", "pysaliency"]
#: MATLAB's ``eps`` as written in the MIT benchmark code (KLD, information gain).
MIT_EPS = 2.2204e-16
#: pysaliency's ``minimum_value`` added to both maps in ``image_based_kl_divergence``.
PYSALIENCY_KLD_MINIMUM = 1e-20
#: Size of the tie-breaking noise of AUC-Judd (MIT and pysaliency: 1e-7), relative to the map's range.
JITTER = 1e-7

Needs = Literal["fixations", "map", "fixations+others", "fixations+baseline"]


#: Docstring sections the metric functions share: :func:`_doc` puts them where a docstring says
#: ``{{name}}`` (at that line's indentation).
_DOC_SECTIONS = {
    "map_params": """saliency : array or tensor, shape (H, W) or (B, H, W)
    reference : array or tensor, shape like ``saliency``""",
    "convention": """convention : {'mit', 'pysaliency'}, optional
        Default 'mit'.""",
    "returns": """Returns
    -------
    float or 1-D array/tensor of length B""",
    "raises_fixations": """Raises
    ------
    ParameterError
        If a map has no fixation, counts are negative, or the shapes differ.""",
}


def _doc(fn: Any) -> Any:
    """Decorator: fill the shared docstring sections (:data:`_DOC_SECTIONS`) of a metric function."""
    for key, text in _DOC_SECTIONS.items():
        fn.__doc__ = fn.__doc__.replace("{{" + key + "}}", text)
    return fn


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


def _batch(saliency: Any, convention: str | None = None) -> _Batch:
    """The saliency batch of a metric call, its ``convention`` (where it has one) checked first."""
    if convention is not None:
        _check_convention(convention)
    return _saliency(saliency)


def _shared(b: _Batch, name: str, **given: Any) -> Any:
    """Metric ``name`` of a CPU batch by the shared pass (:mod:`gazelab.analysis.metrics.suite`),
    as the metric's own function returns it."""
    from gazelab.analysis.metrics.suite import _single

    return _single(b, name, **given)


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
# CPU path: numpy on zero-copy views (the shared pass of NSS, CC, KLD, SIM, AUC-Judd and exact
# shuffled AUC is gazelab.analysis.metrics.suite; AUC-Borji, MIT's shuffled AUC and information
# gain are here and in their family modules)
# --------------------------------------------------------------------------------------------
# On the CPU, torch's elementwise kernels (comparisons, log, var) are several times slower than
# numpy's for these sizes, and batched (B, H*W) expressions make temporaries of B maps; so CPU
# tensors and numpy arrays are scored with numpy in cache-sized blocks (views, no copies), with
# sums and dot products in float64. Fixations are kept sparse (flat pixel indices and counts):
# nothing map-sized is built from points.
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


def _flat_points(pts: np.ndarray, h: int, w: int, *, keep_all: bool = False) -> np.ndarray:
    """Flat pixel indices ``floor(y) * W + floor(x)`` of the points inside the image (NaN dropped;
    ``keep_all``: -1 in their place)."""
    col, row = np.floor(pts[:, 0]), np.floor(pts[:, 1])
    keep = (col >= 0) & (col < w) & (row >= 0) & (row < h)  # NaN (padding) compares False
    if keep_all:
        return np.where(keep, row * w + col, -1.0).astype(np.int64)
    return (row[keep] * w + col[keep]).astype(np.int64)


def _flat_points_each(pts: list[np.ndarray], h: int, w: int) -> list[np.ndarray]:
    """:func:`_flat_points` of every map's points, binned in one vectorised step."""
    sizes = [len(p) for p in pts]
    flat = _flat_points(np.concatenate(pts) if pts else np.zeros((0, 2)), h, w, keep_all=True)
    ends = np.cumsum(sizes)
    return [f[f >= 0] for f in np.split(flat, ends[:-1])]


def _empty_error(empty: list[int], single: bool, name: str) -> ParameterError:
    where = "the map" if single else f"map(s) {empty[:10]}{' ...' if len(empty) > 10 else ''}"
    return ParameterError(name, f"no fixation in {where}", "at least one fixation inside the image per map")


def _fixations_np(b: _Batch, fixations: Any, name: str = "fixations") -> list[_Fix]:
    """The fixations of each map (CPU path): from points or count maps, validated."""
    n, (h, w) = b.maps.shape[0], b.shape
    pts = _as_points(fixations, n, b.single, tuple(b.maps.shape))
    out: list[_Fix] = []
    if pts is not None:
        out = [_Fix(f, None) for f in _flat_points_each(pts, h, w)]
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


def _density_params(p: np.ndarray, *, shift_to_min: bool = False, minimum: float = 0.0) -> tuple[float, float]:
    """(c, s) with the row's density = (p - c) / s: c = min(min, 0) (or the min), ``minimum``
    added; s = 0 means the row is read as uniform."""
    lo, total = _min_sum(p)
    c = lo if shift_to_min else min(lo, 0.0)
    c -= minimum
    s = total - p.size * c
    return c, s


def _ref_rows(b: _Batch, reference: Any, name: str = "reference") -> np.ndarray:
    r = _same_map(b, reference, name)
    if r.dtype != b.maps.dtype:
        r = r.to(b.maps.dtype)
    return _np_rows(r)


def _all_zero_error(rows: list[int], single: bool) -> ParameterError:
    where = "the map" if single else f"map(s) {rows[:10]}"
    return ParameterError("reference", f"all zero in {where}", "a human fixation-density map with some mass")


def _reference(b: _Batch, reference: Any) -> torch.Tensor:
    r = _same_map(b, reference, "reference").to(b.maps.dtype).flatten(1)
    flat = torch.nonzero(~(r != 0).any(1)).flatten().tolist()
    if flat:
        where = "the map" if b.single else f"map(s) {flat[:10]}"
        raise ParameterError("reference", f"all zero in {where}", "a human fixation-density map with some mass")
    return r
