"""The comparison runner: a classifier's attention vs human gaze, stimulus by stimulus, with a report.

:func:`compare` runs a model over every stimulus of a gazelab dataset, extracts its attention
map (:mod:`gazelab.analysis.attention`), scores it against the human fixations and saliency
map with the metrics of :mod:`gazelab.analysis.metrics`, scores the centre-bias baseline and
the inter-observer ceiling (:mod:`gazelab.analysis.baselines`) the same way, and writes a
report folder::

    out/
      run.json            what was run (dataset, model, weights, method, layer, metrics, ...)
      per_stimulus.csv    one row per stimulus: model_*, centre_bias_*, ceiling_* scores
      per_stimulus.parquet
      summary.json        per metric and source: mean and 95% bootstrap CI, normalised scores
      summary.csv         the same, one row per (metric, source)
      overlays_best.png   human vs model map on the 4 stimuli with the highest model CC
      overlays_worst.png  ... and the 4 lowest
      distributions.png   per-stimulus score histograms, model vs baselines
      scores.png          mean + CI: centre bias, model, human ceiling

Geometry: each image is resized as a whole to the model's input size for the forward pass;
the attention map (on the layer's grid) is upsampled bilinearly (``align_corners=False``) to the
stimulus' own size, where it is scored against the stored full-resolution human map and the
fixations binned to that image's pixels.

Resuming: rows are written (atomically) after every batch; rerunning with the same arguments
and the same ``out`` skips the stimuli already in ``per_stimulus.csv``. A folder from a different
run (another model, method, layer, dataset ...) is refused rather than mixed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch

from gazelab._io import atomic_path, write_table
from gazelab.analysis import figures
from gazelab.analysis.attention import ATTENTION_METHODS, available_methods, run_attention
from gazelab.analysis.attention._common import upsample
from gazelab.analysis.baselines import (
    IG_CENTRE_WEIGHT,
    CentreBias,
    _check_metrics,
    _held_out,
    _HeldOut,
    _others_points,
    _points_inside,
    _read,
    _Release,
    _score,
    _score_held_out,
    _working_shape,
    centre_bias_map,
    dataset_centre_bias,
)
from gazelab.analysis.stats import bootstrap_ci
from gazelab.analysis.zoo import ZooModel, build_model
from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.maps import saliency_map

__all__ = ["DEFAULT_METRICS", "SOURCES", "ComparisonReport", "compare"]

#: Metrics scored by default (any name of :data:`gazelab.analysis.metrics.METRICS` can be added).
DEFAULT_METRICS = ("cc", "nss", "kld", "sim", "auc_judd", "auc_shuffled")
#: Scored sources, as column prefixes of the per-stimulus table.
SOURCES = ("model", "centre_bias", "ceiling")
#: Other stimuli whose fixations are the negatives of shuffled AUC (Borji et al. 2013: 10).
SHUFFLE_OTHERS = 10
_FIGURE_ROWS = 4


@dataclass
class ComparisonReport:
    """What :func:`compare` wrote and found.

    Attributes
    ----------
    out : Path
        The report folder.
    table : DataFrame
        Per-stimulus scores (``per_stimulus.csv``), in dataset order.
    summary : DataFrame
        One row per (metric, source): ``mean``, ``ci_low``, ``ci_high``, ``n``, ``chance``,
        ``higher_is_better``. Sources: ``model``, ``centre_bias``, ``ceiling``,
        ``model_minus_centre_bias`` (paired), ``normalised`` ((model - centre bias) /
        (ceiling - centre bias): 0 = centre bias, 1 = human ceiling) and ``normalised_chance``
        ((model - chance) / (ceiling - chance), where chance is defined).
    figures : dict
        Figure name -> PNG path.
    params : dict
        The run's parameters (``run.json``).
    n_scored, n_resumed : int
        Stimuli scored by this call, and taken from an earlier interrupted run.
    elapsed_s : float
        Wall time of this call, s.
    """

    out: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    n_scored: int = 0
    n_resumed: int = 0
    elapsed_s: float = 0.0

    def score(self, metric: str, source: str = "model") -> tuple[float, float, float]:
        """``(mean, ci_low, ci_high)`` of a metric for a source (see :attr:`summary`)."""
        row = self.summary[(self.summary["metric"] == metric) & (self.summary["source"] == source)]
        if row.empty:
            raise ParameterError("metric/source", (metric, source), "a pair present in the summary")
        r = row.iloc[0]
        return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])

    def text(self) -> str:
        """A few lines for a terminal: per metric, centre bias / model / ceiling with CIs."""
        p = self.params
        lines = [
            f"{p.get('model')} ({p.get('weights')}), {p.get('method')} at {p.get('layer') or '-'}: "
            f"{len(self.table)} stimuli ({self.n_scored} scored now, {self.n_resumed} resumed) in "
            f"{self.elapsed_s:.1f} s -> {self.out}"
        ]
        for metric in p.get("metrics", []):
            parts = []
            for source in ("centre_bias", "model", "ceiling", "normalised"):
                sel = self.summary[(self.summary["metric"] == metric) & (self.summary["source"] == source)]
                if not sel.empty:
                    r = sel.iloc[0]
                    label = figures.SOURCE_LABELS.get(source, source)
                    parts.append(f"{label} {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
            lines.append(f"  {metric:>14}: " + "; ".join(parts))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


# -- the run's identity (for resuming) -------------------------------------------------------------
def _dataset_identity(path: Path) -> dict[str, Any]:
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: str(f.attrs.get(k, "")) for k in ("title", "created_utc", "modified_utc")}
    except OSError as exc:
        raise ParseError(path, f"not a readable HDF5 file ({exc})") from None
    return {"dataset": str(path.resolve()), "dataset_size_bytes": path.stat().st_size, **attrs}


def _check_resume(out: Path, params: dict[str, Any]) -> pd.DataFrame | None:
    run, table = out / "run.json", out / "per_stimulus.csv"
    if not run.is_file() or not table.is_file():
        return None
    try:
        before = json.loads(run.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ParseError(run, f"unreadable run description ({exc}); remove the folder or pass resume=False") from None
    keys = [k for k in params if k not in ("progress",)]
    diff = [k for k in keys if before.get(k) != params[k]]
    if diff:
        k = diff[0]
        raise ParameterError(
            "out",
            str(out),
            f"an empty folder or one from the same run; it holds a run with {k}={before.get(k)!r} "
            f"(now {params[k]!r}): choose another --out or pass resume=False to overwrite",
        )
    try:
        return pd.read_csv(table, dtype={"stimulus": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ParseError(table, f"unreadable partial table ({exc}); pass resume=False to start again") from None


# -- the human data of a stimulus (baselines' pieces: one leave-one-observer-out) ----------------------
def _seed_for(seed: int, k: int) -> int:
    return int(seed) * 1_000_003 + int(k)


def _human_map(rel: _Release, k: int, score_size: int | None) -> np.ndarray:
    """All observers' saliency map of stimulus k at the scoring shape, summing to 1."""
    (h, w), s = _working_shape(int(rel.height[k]), int(rel.width[k]), score_size)
    a, b = rel.offsets[k], rel.offsets[k + 1]
    m = saliency_map(rel.x[a:b] * s, rel.y[a:b] * s, (h, w), float(rel.sigma[k]) * s, normalize=None)
    return m / m.sum() if m.sum() > 0 else m


@dataclass
class _Human:
    """What the maps of stimulus k are scored against, per held-out observer (or all observers at once):
    their fixations (points), their own saliency maps (n, H, W), the shuffled-AUC negatives and the
    centre-bias map."""

    points: list[np.ndarray]
    maps: np.ndarray
    others: np.ndarray
    base: np.ndarray
    held: _HeldOut | None = None


def _human(k: int, rel: _Release, prior: CentreBias, params: dict[str, Any]) -> _Human | None:
    """The human data of stimulus row k on the run's footing and scoring shape (None: nothing to score)."""
    size = params["score_size"]
    shape, scale = _working_shape(int(rel.height[k]), int(rel.width[k]), size)
    rng = np.random.default_rng(_seed_for(params["seed"], k))
    others = _others_points(rel, k, SHUFFLE_OTHERS, rng, shape)
    base = centre_bias_map(shape, prior)
    if params["footing"] == "all":
        pts = _points_inside(rel, k, shape, scale)
        return _Human([pts], _human_map(rel, k, size)[None], others, base) if len(pts) else None
    held = _held_out(rel, k, shape, scale)
    return None if held is None else _Human(held.points, held.own, others, base, held)


def _mean_scores(metrics: Sequence[str], pred: np.ndarray, human: _Human) -> dict[str, float]:
    """Every metric of a map ``(H, W)`` against the held-out data, averaged over the held-out observers."""
    n = len(human.points)
    vals = _score(list(metrics), np.broadcast_to(pred, (n, *pred.shape)), human.points, human.maps,
                  [human.others] * n, human.base)  # fmt: skip
    return {m: float(np.mean(v)) for m, v in vals.items()}


def _baseline_scores(k: int, human: _Human | None, metrics: Sequence[str], params: dict[str, Any]) -> dict[str, Any]:
    """Centre-bias (and ceiling) scores of stimulus row k, as :func:`~gazelab.analysis.baselines.inter_observer`
    scores them (means over the held-out observers)."""
    out: dict[str, Any] = {"row": k, "n_observers": np.nan}
    if human is None:
        return out
    if human.held is None:
        scores = {"centre_bias": _mean_scores(metrics, human.base, human)}
    else:
        out["n_observers"] = len(human.points)
        by_source = _score_held_out(list(metrics), human.held, human.others, human.base, IG_CENTRE_WEIGHT)
        scores = {s: {m: float(np.mean(v)) for m, v in vals.items()} for s, vals in by_source.items()}
        scores["ceiling"] = scores.pop("inter_observer")
        if not params["ceiling"]:
            del scores["ceiling"]
    for source, vals in scores.items():
        out.update({f"{source}_{m}": v for m, v in vals.items()})
    return out


# -- the runner -----------------------------------------------------------------------------------------
def compare(
    dataset_path: str | Path,
    *,
    model: str | ZooModel,
    weights: str | Path | None = None,
    method: str = "gradcam",
    layer: str | None = None,
    out: str | Path,
    batch_size: int = 16,
    input_size: Sequence[int] | None = None,
    split: str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    ceiling: bool = True,
    footing: str = "observers",
    score_size: int | None = 256,
    baseline_cache: str | Path | None = None,
    resume: bool = True,
    progress: bool | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
    device: str | None = None,
) -> ComparisonReport:
    """Score a classifier's attention against human gaze on every stimulus, and write a report.

    Parameters
    ----------
    dataset_path : str or Path
        A gazelab HDF5 dataset (e.g. from ``gazelab import nus-scene``).
    model : str or ZooModel
        A name for :func:`gazelab.analysis.zoo.build_model` (``'efficientnet_lite0'``,
        ``'resnet50'``, ...) or a ready :class:`~gazelab.analysis.zoo.ZooModel`.
    weights : str or Path, optional
        Local weights file for a named model (see :func:`~gazelab.analysis.zoo.build_model`).
    method : {'gradcam', 'gradcampp', 'cam', 'rollout', 'module'}, optional
        Attention method (default ``'gradcam'``).
    layer : str, optional
        Target layer (default: the model's default layer; all blocks for ``'rollout'``; the
        mean of the maps for ``'module'``).
    out : str or Path
        Report folder (created).
    batch_size : int, optional
        Stimuli per forward pass (default 16); results are saved after each batch.
    input_size : (int, int), optional
        ``(height, width)`` px of the network input (default the model's, e.g. 224 x 224).
    split : str, optional
        Only the stimuli of this split (``/stimuli/split``).
    metrics : sequence of str, optional
        Metric names of :data:`gazelab.analysis.metrics.METRICS` (default cc, nss, kld, sim,
        auc_judd, auc_shuffled). Shuffled AUC takes its negatives from 10 other stimuli (seeded).
    ceiling : bool, optional
        Also score the inter-observer ceiling (default True; needs ``footing='observers'``).
    footing : {'observers', 'all'}, optional
        What every map is scored against. ``'observers'`` (default): each observer held out in
        turn (their fixations; their own saliency map for map metrics), scores averaged over
        observers, the way :func:`~gazelab.analysis.baselines.inter_observer` scores the
        ceiling, so model, centre bias and ceiling are on one footing. ``'all'``: all
        observers' fixations and the stored map, as saliency benchmarks score a model (no
        ceiling).
    score_size : int or None, optional
        Longer side, px, at which maps are scored (default 256): larger stimuli are scored on a
        grid scaled down to it (fixations, sigma and maps scaled alike), smaller ones at their
        own size; None scores every stimulus at its own size (slow for photographs of several
        megapixels: the ROC metrics sort every pixel).
    baseline_cache : str or Path, optional
        A CSV file keeping the centre-bias and ceiling scores per stimulus (they do not depend
        on the model), reused by later runs with the same dataset, metrics, footing, score
        size and seed (checked; a cache for other settings is rebuilt).
    resume : bool, optional
        Continue an interrupted run in ``out`` (default True); False starts again.
    progress : bool or None, optional
        Progress bar (None: on a terminal).
    bootstrap : int, optional
        Bootstrap resamples for the confidence intervals (default 2000; 0 gives no interval).
    seed : int, optional
        Seed of the bootstrap and of the shuffled-AUC negatives (default 0).
    device : str, optional
        Torch device (default CUDA when available, else CPU).

    Returns
    -------
    ComparisonReport

    Raises
    ------
    ParameterError
        For a bad option (method, metric, layer, batch size, ...), or an ``out`` folder that
        holds a different run.
    ParseError
        If the dataset cannot be read.
    """
    from gazelab.datasets import GazeDataset

    t0 = time.perf_counter()
    path = Path(dataset_path)
    metric_names = _check_options(path, method, batch_size, bootstrap, metrics, footing, score_size)
    zm, layer, size = _prepare_model(model, weights, method, layer, input_size, device)
    scoring = {"metrics": list(metric_names), "ceiling": bool(ceiling) and footing == "observers",
               "footing": footing, "score_size": score_size, "seed": int(seed)}  # fmt: skip
    params = _run_params(path, split, zm, method, layer, size, scoring)
    out = Path(out)
    dataset = GazeDataset(path, split, targets=("fixations", "stimulus"))
    rows = _start_run(out, params, resume)
    n_resumed = len(rows)
    run = _Run(zm, method, layer, size, metric_names, _read(path), dataset_centre_bias(path),
               _BaselineCache(baseline_cache, params), params)  # fmt: skip
    todo = [i for i in range(len(dataset)) if i not in {int(r["index"]) for r in rows}]
    try:
        _score_all(run, dataset, todo, rows, out, batch_size, progress)
    finally:
        dataset.close()
    report = _write_report(out, rows, params, bootstrap, seed)
    report.n_scored, report.n_resumed = len(todo), n_resumed
    report.figures = _figures(report, dataset, zm, method, layer, size, run.rel, score_size)
    report.elapsed_s = time.perf_counter() - t0
    return report


def _run_params(
    path: Path,
    split: str | None,
    zm: ZooModel,
    method: str,
    layer: str | None,
    size: tuple[int, int],
    scoring: dict[str, Any],
) -> dict[str, Any]:
    """The run's identity (``run.json``): dataset, model, method, layer, input size and how it is
    scored (``scoring``: metrics, ceiling, footing, score_size, seed)."""
    return {
        **_dataset_identity(path),
        "split": split,
        "model": zm.name,
        "weights": zm.weights,
        "method": method,
        "layer": layer,
        "input_size": list(size),
        **scoring,
        "shuffled_auc_others": SHUFFLE_OTHERS,
    }


def _check_options(
    path: Path,
    method: str,
    batch_size: Any,
    bootstrap: Any,
    metrics: Sequence[str],
    footing: str,
    score_size: Any,
) -> tuple[str, ...]:
    """The options that need no model or data, checked; the metric names."""
    if not path.is_file():
        raise ParameterError("dataset_path", str(path), "an existing gazelab .h5 dataset")
    if method not in ATTENTION_METHODS:
        raise ParameterError("method", method, f"one of {available_methods()}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError("batch_size", batch_size, "an integer >= 1")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise ParameterError("bootstrap", bootstrap, "a number of resamples >= 0")
    metric_names = tuple(_check_metrics(metrics))
    if footing not in ("observers", "all"):
        raise ParameterError("footing", footing, "'observers' (held out one at a time) or 'all'")
    if score_size is not None and (not isinstance(score_size, int) or score_size < 8):
        raise ParameterError("score_size", score_size, "None or a longer side >= 8 px")
    return metric_names


def _prepare_model(
    model: str | ZooModel,
    weights: str | Path | None,
    method: str,
    layer: str | None,
    input_size: Sequence[int] | None,
    device: str | None,
) -> tuple[ZooModel, str | None, tuple[int, int]]:
    """The model on its device in eval mode, the target layer (checked) and the input size."""
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    zm = model if isinstance(model, ZooModel) else build_model(model, weights=weights, device=dev)
    zm.model.to(dev).eval()
    if layer is None and method in ("cam", "gradcam", "gradcampp"):
        layer = zm.default_layer
    if layer is not None and method in ("cam", "gradcam", "gradcampp", "rollout"):
        zm.layer(layer)  # fails early, naming the model's layers
    size = tuple(zm.input_size) if input_size is None else (int(input_size[0]), int(input_size[1]))
    if min(size) <= 0:
        raise ParameterError("input_size", input_size, "(height, width) > 0 px")
    return zm, layer, size


def _start_run(out: Path, params: dict[str, Any], resume: bool) -> list[dict[str, Any]]:
    """The report folder with this run's ``run.json``; the rows of an interrupted same run (resume)."""
    out.mkdir(parents=True, exist_ok=True)
    previous = _check_resume(out, params) if resume else None
    with atomic_path(out / "run.json") as tmp:
        tmp.write_text(json.dumps(params, indent=2))
    return [] if previous is None else previous.to_dict("records")


@dataclass
class _Run:
    """What scoring a batch needs: the model and method, the metrics and the human data."""

    zm: ZooModel
    method: str
    layer: str | None
    size: tuple[int, int]
    metrics: tuple[str, ...]
    rel: _Release
    prior: CentreBias
    cache: _BaselineCache
    params: dict[str, Any]


def _score_all(
    run: _Run, dataset: Any, todo: list[int], rows: list[dict[str, Any]], out: Path, batch_size: int, progress: Any
) -> None:
    """Score the stimuli ``todo`` batch by batch, saving the table (and the baseline cache) after each."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), disable=None if progress is None else not progress,
               desc=f"{run.zm.name} {run.method}", unit="stim")  # fmt: skip
    try:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            rows.extend(_score_batch(dataset, chunk, run))
            run.cache.save()
            rows.sort(key=lambda r: int(r["index"]))
            write_table(pd.DataFrame(rows), out / "per_stimulus.csv")
            bar.update(len(chunk))
    finally:
        bar.close()


def _write_report(
    out: Path, rows: list[dict[str, Any]], params: dict[str, Any], bootstrap: int, seed: int
) -> ComparisonReport:
    """The per-stimulus table and the summary, written; the report (figures still to draw)."""
    table = pd.DataFrame(rows).sort_values("index", kind="stable").reset_index(drop=True)
    write_table(table, out / "per_stimulus.csv")
    write_table(table, out / "per_stimulus.parquet")
    metrics = params["metrics"]
    summary = _summary(table, metrics, bootstrap=bootstrap, seed=seed)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(_summary_json(summary, params, len(table)), indent=2))
    write_table(summary, out / "summary.csv")
    return ComparisonReport(out, table, summary, {}, params)


def _load(dataset: Any, indices: Sequence[int]) -> list[dict[str, Any]]:
    return [dataset[i] for i in indices]


def _forward(
    zm: ZooModel,
    items: Sequence[dict[str, Any]],
    method: str,
    layer: str | None,
    size: tuple[int, int],
    shapes: Sequence[tuple[int, int]],
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, str]:
    """Attention maps at each stimulus' scoring shape, with softmax confidences and predicted classes."""
    x = torch.cat([zm.preprocess(it["image"], input_size=size) for it in items])
    res = run_attention(zm.model, x, method=method, layer=layer)
    maps = [upsample(res.maps[i : i + 1], shape)[0] for i, shape in enumerate(shapes)]
    prob = torch.softmax(res.logits.float(), 1).gather(1, res.target[:, None].long())[:, 0]
    return maps, prob, res.target, res.layer


class _BaselineCache:
    """Centre-bias and ceiling scores per stimulus row, optionally kept in a CSV across runs."""

    KEYS = ("dataset", "dataset_size_bytes", "modified_utc", "metrics", "ceiling", "footing", "score_size", "seed")

    def __init__(self, path: str | Path | None, params: dict[str, Any]) -> None:
        self.path = None if path is None else Path(path)
        self.key = {k: params[k] for k in self.KEYS}
        self.rows: dict[int, dict[str, Any]] = {}
        if self.path is not None and self.path.is_file() and self._meta().is_file():
            try:
                same = json.loads(self._meta().read_text()) == self.key
                if same:
                    for r in pd.read_csv(self.path).to_dict("records"):
                        self.rows[int(r["row"])] = r
            except (OSError, json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, KeyError):
                self.rows = {}

    def _meta(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".json")

    def save(self) -> None:
        if self.path is None or not self.rows:
            return
        write_table(pd.DataFrame(list(self.rows.values())), self.path)
        with atomic_path(self._meta()) as tmp:
            tmp.write_text(json.dumps(self.key, indent=2))


def _score_batch(dataset: Any, indices: Sequence[int], run: _Run) -> list[dict[str, Any]]:
    """Rows of the per-stimulus table for a batch of dataset items."""
    items = _load(dataset, indices)
    ks = [int(dataset.rows[i]) for i in indices]
    rel, score_size = run.rel, run.params["score_size"]
    shapes = [_working_shape(int(rel.height[k]), int(rel.width[k]), score_size)[0] for k in ks]
    maps, prob, target, _ = _forward(run.zm, items, run.method, run.layer, run.size, shapes)
    rows = []
    for j, (i, k, it, m) in enumerate(zip(indices, ks, items, maps, strict=True)):
        h, w = shapes[j]
        row: dict[str, Any] = {
            "index": i,
            "stimulus": it["stimulus"],
            "width_px": int(rel.width[k]),
            "height_px": int(rel.height[k]),
            "score_width_px": w,
            "score_height_px": h,
            "n_fixations": int(rel.offsets[k + 1] - rel.offsets[k]),
            "predicted_class": int(target[j]),
            "confidence": float(prob[j]),
        }
        human = _human(k, rel, run.prior, run.params)
        if human is not None:
            pred = m.detach().to(torch.float64).cpu().numpy()
            row.update({f"model_{name}": v for name, v in _mean_scores(run.metrics, pred, human).items()})
        cached = run.cache.rows.get(k)
        if cached is None:
            run.cache.rows[k] = cached = _baseline_scores(k, human, run.metrics, run.params)
        row["n_observers"] = cached.get("n_observers")
        row.update({c: v for c, v in cached.items() if c.startswith(("centre_bias_", "ceiling_"))})
        rows.append(row)
    return rows


def _summary(table: pd.DataFrame, metrics: Sequence[str], *, bootstrap: int, seed: int) -> pd.DataFrame:
    from gazelab.analysis.metrics import METRICS

    out = []

    def ci(data: np.ndarray, stat: Any = None) -> tuple[float, float, float, int]:
        x = np.asarray(data, dtype=np.float64)
        finite = np.isfinite(x).all(axis=1) if x.ndim == 2 else np.isfinite(x)
        if not finite.any():
            return math.nan, math.nan, math.nan, 0
        if bootstrap == 0:
            value = float(stat(x[finite])) if stat else float(np.mean(x[finite]))
            return value, math.nan, math.nan, int(finite.sum())
        r = bootstrap_ci(x[finite], stat, n_boot=bootstrap, seed=seed)
        return r.estimate, r.low, r.high, r.n

    for name in metrics:
        spec = METRICS[name]
        cols = {s: f"{s}_{name}" for s in SOURCES if f"{s}_{name}" in table}
        for source, col in cols.items():
            mean, lo, hi, n = ci(table[col].to_numpy(np.float64))
            out.append((name, source, mean, lo, hi, n))
        if {"model", "centre_bias"} <= cols.keys():
            paired = table[[cols["model"], cols["centre_bias"]]].to_numpy(np.float64)
            out.append((name, "model_minus_centre_bias", *ci(paired, lambda a: float(np.mean(a[:, 0] - a[:, 1])))))
        if {"model", "centre_bias", "ceiling"} <= cols.keys():
            trio = table[[cols["model"], cols["centre_bias"], cols["ceiling"]]].to_numpy(np.float64)
            out.append((name, "normalised", *ci(trio, _normalised)))
            if spec.chance is not None:
                c = float(spec.chance)
                pair = table[[cols["model"], cols["ceiling"]]].to_numpy(np.float64)
                out.append((name, "normalised_chance", *ci(pair, lambda a, c=c: _ratio(a[:, 0], c, a[:, 1]))))
    df = pd.DataFrame(out, columns=["metric", "source", "mean", "ci_low", "ci_high", "n"])
    df["chance"] = [METRICS[m].chance for m in df["metric"]]
    df["higher_is_better"] = [METRICS[m].higher_is_better for m in df["metric"]]
    return df


def _ratio(model: np.ndarray, reference: float | np.ndarray, ceiling: np.ndarray) -> float:
    ref = float(np.mean(reference))
    den = float(np.mean(ceiling)) - ref
    return (float(np.mean(model)) - ref) / den if den != 0 else math.nan


def _normalised(a: np.ndarray) -> float:
    """(model - centre bias) / (ceiling - centre bias) of the means: 0 = centre bias, 1 = ceiling."""
    return _ratio(a[:, 0], a[:, 1], a[:, 2])


def _summary_json(summary: pd.DataFrame, params: dict[str, Any], n: int) -> dict[str, Any]:
    def num(v: Any) -> float | None:
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)

    metrics: dict[str, Any] = {}
    for r in summary.itertuples(index=False):
        metrics.setdefault(r.metric, {"higher_is_better": bool(r.higher_is_better), "chance": num(r.chance)})
        metrics[r.metric][r.source] = {"mean": num(r.mean), "ci_low": num(r.ci_low), "ci_high": num(r.ci_high),
                                       "n": int(r.n)}  # fmt: skip
    return {"run": params, "n_stimuli": n, "confidence": 0.95, "metrics": metrics}


def _figures(
    report: ComparisonReport,
    dataset: Any,
    zm: ZooModel,
    method: str,
    layer: str | None,
    size: tuple[int, int],
    rel: _Release,
    score_size: int | None,
) -> dict[str, Path]:
    table, out = report.table, report.out
    metrics = list(report.params["metrics"])
    rank_by = "cc" if "cc" in metrics else metrics[0]
    col = f"model_{rank_by}"
    result: dict[str, Path] = {}
    what = f"{zm.name}, {method}" + (f" at {layer}" if layer else "")
    if col in table:
        scored = table[np.isfinite(table[col].to_numpy(np.float64))]
        better = scored.sort_values(col, ascending=not _higher_is_better(rank_by), kind="stable")
        n = min(_FIGURE_ROWS, len(better))
        for name, picked in (("overlays_best", better.head(n)), ("overlays_worst", better.tail(n).iloc[::-1])):
            if n == 0:
                continue
            idx = [int(i) for i in picked["index"]]
            items = _load(dataset, idx)
            ks = [int(dataset.rows[i]) for i in idx]
            shapes = [_working_shape(int(rel.height[k]), int(rel.width[k]), score_size) for k in ks]
            maps, _, _, _ = _forward(zm, items, method, layer, size, [sh for sh, _ in shapes])
            rows = [
                {
                    "image": upsample(it["image"], sh).permute(1, 2, 0).numpy(),
                    "human": _human_map(rel, k, score_size),
                    "model": m.numpy(),
                    "fixations": it["fixations"].numpy() * sc,
                    "label": f"{it['stimulus']}\n{rank_by.upper()} {float(s):.2f}",
                }
                for it, k, (sh, sc), m, s in zip(items, ks, shapes, maps, picked[col], strict=True)
            ]
            kind = "highest" if name.endswith("best") else "lowest"
            title = f"{what}: the {n} stimuli with the {kind} {rank_by.upper()}"
            result[name] = figures.overlay_grid(rows, out / f"{name}.png", title=title)
        dataset.close()
    result["distributions"] = figures.metric_distributions(table, metrics, out / "distributions.png")
    result["scores"] = figures.score_bars(
        report.summary, metrics, out / "scores.png", title=f"{what}: mean score, 95% bootstrap CI"
    )
    return result


def _higher_is_better(metric: str) -> bool:
    from gazelab.analysis.metrics import METRICS

    return METRICS[metric].higher_is_better
