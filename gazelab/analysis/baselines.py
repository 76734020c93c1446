"""Human baselines for saliency scores: the centre bias (the floor to beat) and inter-observer
consistency (the ceiling), so every model score can be shown between chance and humans.

- :func:`centre_bias_map` is an anisotropic Gaussian in image-relative coordinates (the same
  Gaussian, stretched to each image's aspect ratio); :func:`dataset_centre_bias` fits its mean
  and standard deviations to a dataset's pooled fixations (positions divided by each image's
  width and height).
- :func:`inter_observer` scores, for every stimulus and every observer, the map made from the
  *other* observers' fixations against the held-out observer (leave one observer out), and the
  centre-bias map against the same held-out fixations.
- :func:`centre_bias_scores` scores the centre-bias map against all observers' fixations of each
  stimulus, as a benchmark scores a model.

The HDF5 release is read read-only through :mod:`gazelab.datasets` (its stimulus table and the
fixation table indexed by stimulus).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from gazelab.analysis.metrics import METRICS, score
from gazelab.analysis.stats import bootstrap_ci
from gazelab.errors import ParameterError
from gazelab.preprocessing.maps import _check_shape, saliency_map

__all__ = [
    "DEFAULT_METRICS",
    "IG_CENTRE_WEIGHT",
    "CentreBias",
    "centre_bias_map",
    "centre_bias_scores",
    "dataset_centre_bias",
    "inter_observer",
    "summarize",
]

#: Metrics scored by default (EMD is left out: an exact linear program per map is slow).
DEFAULT_METRICS = ("auc_judd", "auc_borji", "auc_shuffled", "nss", "cc", "sim", "kld", "information_gain")


@dataclass(frozen=True)
class CentreBias:
    """An anisotropic Gaussian in image-relative coordinates (fractions of width and height).

    Attributes
    ----------
    mean_x, mean_y : float
        Centre, as fractions of the image width and height (0.5 = the middle).
    std_x, std_y : float
        Standard deviations, as fractions of the width and height.
    n_fixations : int
        Fixations it was fitted to (0 for a hand-set one).
    """

    mean_x: float = 0.5
    mean_y: float = 0.5
    std_x: float = 0.22
    std_y: float = 0.22
    n_fixations: int = 0


def centre_bias_map(shape: tuple[int, int], params: CentreBias | None = None) -> np.ndarray:
    r"""The centre-bias density of an image of ``shape``, summing to 1.

    .. math:: B(r, c) \propto \exp\left(-\tfrac12 \left[\left(\frac{(c + 0.5)/W - m_x}{s_x}\right)^2
              + \left(\frac{(r + 0.5)/H - m_y}{s_y}\right)^2\right]\right)

    evaluated at the pixel centres (row r, column c, image px), i.e. a Gaussian whose standard
    deviations are the fractions :math:`s_x, s_y` of the image's width and height.

    Parameters
    ----------
    shape : (int, int)
        Image ``(height, width)`` in px.
    params : CentreBias, optional
        Default ``CentreBias()`` (centred, sd 22 % of each side); see :func:`dataset_centre_bias`.

    Returns
    -------
    ndarray, shape (height, width), float64

    Examples
    --------
    >>> m = centre_bias_map((30, 40))
    >>> round(float(m.sum()), 12), np.unravel_index(int(m.argmax()), m.shape)
    (1.0, (np.int64(14), np.int64(19)))
    """
    h, w = _check_shape(shape)
    p = CentreBias() if params is None else params
    if not (p.std_x > 0 and p.std_y > 0):
        raise ParameterError("params", p, "standard deviations std_x, std_y > 0 (fractions of the image size)")
    gx = np.exp(-0.5 * (((np.arange(w) + 0.5) / w - p.mean_x) / p.std_x) ** 2)
    gy = np.exp(-0.5 * (((np.arange(h) + 0.5) / h - p.mean_y) / p.std_y) ** 2)
    m = np.outer(gy, gx)
    return m / m.sum()


# --------------------------------------------------------------------------------------------
# reading a release
# --------------------------------------------------------------------------------------------
@dataclass
class _Release:
    ids: np.ndarray
    width: np.ndarray
    height: np.ndarray
    sigma: np.ndarray
    offsets: np.ndarray
    observer_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    observer: np.ndarray


def _read(path: str | Path) -> _Release:
    from gazelab.datasets.gaze_dataset import _read_meta

    path = Path(path)
    meta = _read_meta(path)
    with h5py.File(path, "r") as f:
        fx = f["fixations"]
        x = fx["x_px"][()].astype(np.float64)
        y = fx["y_px"][()].astype(np.float64)
        obs = fx["observer"][()].astype(np.int64)
    return _Release(
        meta["ids"], meta["width"], meta["height"], meta["sigma"], meta["offsets"], meta["observer_ids"], x, y, obs
    )


def _rows(rel: _Release, stimuli: Sequence[int] | None) -> np.ndarray:
    n = len(rel.ids)
    if stimuli is None:
        return np.arange(n)
    rows = np.asarray(list(stimuli), dtype=np.int64)
    bad = rows[(rows < 0) | (rows >= n)]
    if len(bad):
        raise ParameterError("stimuli", bad.tolist(), f"stimulus rows in 0..{n - 1}")
    return rows


def dataset_centre_bias(h5_path: str | Path, *, stimuli: Sequence[int] | None = None) -> CentreBias:
    """Fit the centre-bias Gaussian to a dataset's pooled fixations.

    Every fixation's position is divided by its image's width and height (so images of all
    sizes pool into the unit square); the Gaussian's mean and standard deviations are the
    moments of those relative positions (the maximum-likelihood axis-aligned Gaussian). Fitted on
    all stimuli, it is a slightly optimistic baseline for each of them (with hundreds of images
    the stimulus' own share is negligible).

    Parameters
    ----------
    h5_path : path
        A gazelab HDF5 release.
    stimuli : sequence of int, optional
        Stimulus rows to pool (default all).

    Returns
    -------
    CentreBias

    Raises
    ------
    ParameterError
        If the chosen stimuli have no fixation.
    """
    rel = _read(h5_path)
    rows = _rows(rel, stimuli)
    xs, ys = [], []
    for k in rows:
        a, b = int(rel.offsets[k]), int(rel.offsets[k + 1])
        xs.append(rel.x[a:b] / rel.width[k])
        ys.append(rel.y[a:b] / rel.height[k])
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    if len(x) < 2:
        raise ParameterError("h5_path", str(h5_path), "a dataset with at least 2 fixations on the chosen stimuli")
    return CentreBias(float(x.mean()), float(y.mean()), float(x.std()), float(y.std()), len(x))


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    names = list(metrics)
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ParameterError("metrics", bad or names, f"names from gazelab.analysis.metrics.METRICS {sorted(METRICS)}")
    return names


def _others_points(rel: _Release, k: int, n_other: int, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(x, y) of the fixations on ``n_other`` random other stimuli, rescaled to ``shape`` (h, w)."""
    h, w = shape
    pool = np.delete(np.arange(len(rel.ids)), k)
    chosen = rng.choice(pool, size=min(n_other, len(pool)), replace=False) if len(pool) else pool
    xs, ys = [], []
    for j in chosen:
        a, b = int(rel.offsets[j]), int(rel.offsets[j + 1])
        xs.append(rel.x[a:b] * (w / rel.width[j]))
        ys.append(rel.y[a:b] * (h / rel.height[j]))
    if not xs:
        return np.zeros((0, 2))
    pts = np.c_[np.concatenate(xs), np.concatenate(ys)]
    return pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]


def _points_inside(rel: _Release, k: int, shape: tuple[int, int], scale: float) -> np.ndarray:
    """(x, y) of all fixations on stimulus k, scaled to the scoring grid, those inside ``shape`` (h, w)."""
    h, w = shape
    a, b = int(rel.offsets[k]), int(rel.offsets[k + 1])
    x, y = rel.x[a:b] * scale, rel.y[a:b] * scale
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return np.c_[x[inside], y[inside]]


def _working_shape(h: int, w: int, max_side: int | None) -> tuple[tuple[int, int], float]:
    """Scoring shape and scale: the image shrunk so its longer side is at most ``max_side`` px."""
    scale = 1.0 if max_side is None else min(1.0, float(max_side) / max(h, w))
    return (max(1, round(h * scale)), max(1, round(w * scale))), scale


#: Weight of the centre bias mixed into a prediction before its information gain is taken
#: (``(1 - w) * prediction + w * centre bias``, both densities): an unregularised empirical map has
#: zero density where a held-out observer may look, which gives -inf (or log2(eps)) gains.
IG_CENTRE_WEIGHT = 0.1


def _score(
    names: list[str],
    pred: np.ndarray,
    fixations: Any,
    ref: np.ndarray,
    others: Any,
    base: np.ndarray,
    *,
    ig_centre_weight: float = 0.0,
) -> dict[str, np.ndarray]:
    """All metrics of a (B, H, W) prediction batch in one shared pass (:func:`gazelab.analysis.metrics.score`);
    NaN where a metric is undefined.

    ``fixations`` and ``others`` are count maps or, per map, (N, 2) point arrays (a list).
    """
    b = len(pred)
    if not isinstance(others, list):
        others = np.broadcast_to(others, pred.shape)
    given = {"fixations": fixations, "reference": ref, "other_fixations": others}
    plain = [m for m in names if m != "information_gain"]
    out: dict[str, Any] = {}
    try:
        out.update(score(pred, metrics=plain, **given) if plain else {})
    except ParameterError:  # one metric undefined: the others still count
        for m in plain:
            try:
                out[m] = score(pred, metrics=[m], **given)[m]
            except ParameterError:
                out[m] = np.full(b, np.nan)
    if "information_gain" in names:
        p = pred
        if ig_centre_weight > 0:
            s = pred.reshape(b, -1).sum(1)[:, None, None]
            p = (1.0 - ig_centre_weight) * pred / np.where(s > 0, s, 1.0) + ig_centre_weight * base
        try:
            out["information_gain"] = METRICS["information_gain"].function(
                p, fixations, np.broadcast_to(base, pred.shape)
            )
        except ParameterError:
            out["information_gain"] = np.full(b, np.nan)
    return {m: np.asarray(out[m], dtype=np.float64) for m in names}


@dataclass
class _HeldOut:
    """Leave-one-observer-out data of one stimulus at its scoring shape (observers who qualify).

    ``observers``: their rows; ``points``: each one's (x, y) fixations inside the image (scoring
    px); ``own``: each one's saliency map, sum 1; ``rest``: the map of all the *other* observers'
    fixations, sum 1 (the inter-observer prediction); ``n_inside``: all observers' fixations inside
    the image.
    """

    observers: np.ndarray
    points: list[np.ndarray]
    own: np.ndarray
    rest: np.ndarray
    n_inside: int

    @property
    def n_fixations(self) -> np.ndarray:
        return np.array([len(p) for p in self.points])


def _held_out(rel: _Release, k: int, shape: tuple[int, int], scale: float) -> _HeldOut | None:
    """Each observer of stimulus k held out in turn; None with fewer than 2 observers who qualify.

    An observer qualifies with a fixation inside the image and some other observer's too. Each
    observer's Gaussian map (the stimulus' ``sigma_px``, scaled) is made once; the rest maps are
    their sum minus each own map (the Gaussian filter is linear).
    """
    h, w = shape
    sigma = float(rel.sigma[k]) * scale
    a, b = int(rel.offsets[k]), int(rel.offsets[k + 1])
    x, y, obs = rel.x[a:b] * scale, rel.y[a:b] * scale, rel.observer[a:b]
    present = np.unique(obs)
    if len(present) < 2:
        return None
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    pts = [np.c_[x[(obs == o) & inside], y[(obs == o) & inside]] for o in present]
    own = np.stack([saliency_map(p[:, 0], p[:, 1], (h, w), sigma, normalize=None) for p in pts])
    rest = own.sum(0)[None] - own
    np.clip(rest, 0.0, None, out=rest)  # rounding of the subtraction
    keep = np.array([len(p) > 0 for p in pts]) & (rest.reshape(len(present), -1).sum(1) > 0)
    if not keep.any():
        return None
    own, rest = own[keep], rest[keep]
    rest /= rest.reshape(len(rest), -1).sum(1)[:, None, None]
    own /= own.reshape(len(own), -1).sum(1)[:, None, None]
    kept = [p for p, q in zip(pts, keep, strict=True) if q]
    return _HeldOut(present[keep], kept, own, rest, int(inside.sum()))


def _score_held_out(
    names: list[str], held: _HeldOut, others: np.ndarray, base: np.ndarray, ig_centre_weight: float
) -> dict[str, dict[str, np.ndarray]]:
    """Per source (``inter_observer``: the rest maps; ``centre_bias``), every metric per held-out observer."""
    oth = [others] * len(held.points)
    return {
        "inter_observer": _score(names, held.rest, held.points, held.own, oth, base, ig_centre_weight=ig_centre_weight),
        "centre_bias": _score(names, np.broadcast_to(base, held.rest.shape), held.points, held.own, oth, base),
    }


def _held_out_records(rel: _Release, k: int, held: _HeldOut, scores: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    records = []
    n_fix = held.n_fixations
    for source, vals in scores.items():
        for i, o in enumerate(held.observers):
            rec: dict[str, Any] = {
                "stimulus": k,
                "stimulus_id": str(rel.ids[k]),
                "observer": str(rel.observer_ids[o]),
                "n_fixations": int(n_fix[i]),
                "n_rest": int(held.n_inside - n_fix[i]),
                "source": source,
            }
            rec.update({m: float(v[i]) for m, v in vals.items()})
            records.append(rec)
    return records


def _progress(iterable: Any, total: int, progress: bool | None, desc: str) -> Any:
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="stimulus")


@dataclass
class _Scan:
    """A pass over a release's stimulus rows at a working resolution, with each one's shuffled-AUC
    negatives (``n_other`` other stimuli, drawn from one generator in row order)."""

    rel: _Release
    prior: CentreBias
    rows: np.ndarray
    rng: np.random.Generator
    n_other: int
    max_side: int | None

    @classmethod
    def open(
        cls,
        h5_path: str | Path,
        stimuli: Sequence[int] | None,
        centre_bias: CentreBias | None,
        n_other: int,
        seed: int,
        max_side: int | None,
    ) -> _Scan:
        """The release read, the rows checked, the centre bias (default: fitted to the dataset)."""
        rel = _read(h5_path)
        rows = _rows(rel, stimuli)
        prior = centre_bias if centre_bias is not None else dataset_centre_bias(h5_path)
        return cls(rel, prior, rows, np.random.default_rng(seed), int(n_other), max_side)

    def stimuli(self, progress: bool | None, desc: str) -> Iterator[tuple[int, tuple[int, int], float, np.ndarray]]:
        """Per row: ``(k, (h, w) scoring shape, scale, (N, 2) negatives)``."""
        for k in _progress(self.rows, len(self.rows), progress, desc):
            k = int(k)
            shape, scale = _working_shape(int(self.rel.height[k]), int(self.rel.width[k]), self.max_side)
            yield k, shape, scale, _others_points(self.rel, k, self.n_other, self.rng, shape)


def inter_observer(
    h5_path: str | Path,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    stimuli: Sequence[int] | None = None,
    centre_bias: CentreBias | None = None,
    n_other: int = 10,
    seed: int = 0,
    progress: bool | None = None,
    max_side: int | None = None,
    ig_centre_weight: float = IG_CENTRE_WEIGHT,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave-one-observer-out consistency of a dataset, with the centre bias on the same footing.

    For each stimulus and each observer o with fixations on it: the *rest map* is the
    saliency map of the other observers' fixations (:func:`gazelab.preprocessing.maps.saliency_map`
    with the stimulus' stored ``sigma_px``, reflecting boundaries, normalised to sum 1); it is
    scored against o's fixations (fixation metrics: o's fixation count map; map metrics
    (CC, SIM, KLD, ...): o's own saliency map, same sigma). The centre-bias map
    (:func:`centre_bias_map`) is scored against the same held-out data. Shuffled AUC takes
    its negatives from the fixations (all observers) on ``n_other`` random other stimuli,
    rescaled to the stimulus' size; information gain is the rest map's gain over the centre bias.

    Parameters
    ----------
    h5_path : path
        A gazelab HDF5 release (read-only).
    metrics : sequence of str, optional
        Names from :data:`gazelab.analysis.metrics.METRICS` (default :data:`DEFAULT_METRICS`).
    stimuli : sequence of int, optional
        Stimulus rows (default all).
    centre_bias : CentreBias, optional
        Default: fitted to the whole dataset (:func:`dataset_centre_bias`).
    n_other : int, optional
        Other stimuli whose fixations are the shuffled-AUC negatives (default 10, as Borji et al.).
    seed : int, optional
        Seed of the choice of other stimuli and of the metrics' random splits (default 0).
    progress : bool or None, optional
        tqdm progress bar; None (default): only on a terminal.
    max_side : int, optional
        Score at a reduced working resolution: each image's maps are made at the size that brings
        its longer side to at most ``max_side`` px (positions and sigma scaled by the same factor);
        default None, the image's own size. The scores change little (the maps are smooth at the
        scale of sigma) and the time falls with the pixel count.
    ig_centre_weight : float, optional
        Information gain only: the rest map is mixed with the centre bias,
        ``(1 - w) * rest + w * centre bias`` (both densities), before its gain over the centre bias
        is taken (default :data:`IG_CENTRE_WEIGHT` = 0.1; 0: unregularised).

    Method: per stimulus the observers' own Gaussian maps are made once; the rest maps are their
    sum minus each own map (the Gaussian filter is linear), and all observers are scored in one
    batched call per metric, with the held-out fixations passed as points (no count maps).

    Returns
    -------
    scores : pandas.DataFrame
        One row per stimulus, held-out observer and source: columns ``stimulus`` (row),
        ``stimulus_id``, ``observer`` (id), ``n_fixations`` (held-out fixations on the image),
        ``n_rest`` (the other observers' fixations), ``source`` (``'inter_observer'`` or
        ``'centre_bias'``) and one column per metric (NaN where undefined).
    summary : pandas.DataFrame
        Per source and metric: ``mean`` over stimuli of the per-stimulus mean over observers,
        its ``sd`` and the number of stimuli ``n``.

    Raises
    ------
    ParameterError
        For an unknown metric name or stimulus row.
    """
    names = _check_metrics(metrics)
    if int(n_other) < 1:
        raise ParameterError("n_other", n_other, "a number of other stimuli >= 1")
    scan = _Scan.open(h5_path, stimuli, centre_bias, n_other, seed, max_side)
    records: list[dict[str, Any]] = []
    for k, shape, scale, others in scan.stimuli(progress, "inter-observer"):
        held = _held_out(scan.rel, k, shape, scale)
        if held is None or not len(others):
            continue
        scores = _score_held_out(names, held, others, centre_bias_map(shape, scan.prior), ig_centre_weight)
        records.extend(_held_out_records(scan.rel, k, held, scores))
    scores_df = pd.DataFrame.from_records(
        records, columns=["stimulus", "stimulus_id", "observer", "n_fixations", "n_rest", "source", *names]
    )
    return scores_df, summarize(scores_df, names)


def summarize(scores: pd.DataFrame, metrics: Sequence[str], *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean over stimuli of per-stimulus means, per source and metric.

    Columns ``source``, ``metric``, ``mean``, ``sd`` (over stimuli), ``n`` (stimuli) and the 95 %
    percentile bootstrap interval of the mean over stimuli, ``ci_low`` and ``ci_high``
    (:func:`bootstrap_ci`, ``n_boot`` resamples of the stimuli).
    """
    rows = []
    for source, g in scores.groupby("source", sort=False):
        per_stim = g.groupby("stimulus")[list(metrics)].mean()
        for m in metrics:
            v = per_stim[m].dropna()
            ci = bootstrap_ci(v.to_numpy(), n_boot=n_boot, seed=seed) if len(v) else None
            lo, hi = (ci.low, ci.high) if ci is not None else (math.nan, math.nan)
            rows.append(
                {
                    "source": source,
                    "metric": m,
                    "mean": float(v.mean()),
                    "sd": float(v.std(ddof=1)),
                    "n": len(v),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows, columns=["source", "metric", "mean", "sd", "n", "ci_low", "ci_high"])


def centre_bias_scores(
    h5_path: str | Path,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    stimuli: Sequence[int] | None = None,
    centre_bias: CentreBias | None = None,
    n_other: int = 10,
    seed: int = 0,
    progress: bool | None = None,
    max_side: int | None = None,
) -> pd.DataFrame:
    """Score the centre-bias map against all observers' fixations of each stimulus.

    As a benchmark scores a model: fixation metrics against the count map of all fixations on
    the image, map metrics against the stored-sigma saliency map of all of them, shuffled-AUC
    negatives and the information-gain baseline as in :func:`inter_observer` (so the centre
    bias' own information gain is 0 by construction). ``max_side``: the working resolution, as in
    :func:`inter_observer`.

    Returns
    -------
    pandas.DataFrame
        One row per stimulus: ``stimulus``, ``stimulus_id``, ``n_fixations`` and one column per
        metric.
    """
    names = _check_metrics(metrics)
    scan = _Scan.open(h5_path, stimuli, centre_bias, n_other, seed, max_side)
    records = []
    for k, shape, scale, others in scan.stimuli(progress, "centre bias"):
        pts = _points_inside(scan.rel, k, shape, scale)
        if not len(pts) or not len(others):
            continue
        ref = saliency_map(pts[:, 0], pts[:, 1], shape, float(scan.rel.sigma[k]) * scale)
        base = centre_bias_map(shape, scan.prior)
        vals = _score(names, base[None], [pts], ref[None], [others], base)
        rec: dict[str, Any] = {"stimulus": k, "stimulus_id": str(scan.rel.ids[k]), "n_fixations": len(pts)}
        rec.update({m: float(vals[m][0]) for m in names})
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=["stimulus", "stimulus_id", "n_fixations", *names])
