"""Figures of a comparison report: map overlays, metric distributions, model vs baselines.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (the Agg canvas, no pyplot and no
global backend change) and written as PNG. Each function takes plain arrays or tables, so the
figures can be redrawn from a report's files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab._io import atomic_path
from gazelab.errors import ParameterError

__all__ = ["SOURCE_COLOURS", "SOURCE_LABELS", "metric_distributions", "overlay_grid", "score_bars"]

#: Display names of the scored sources (table column prefixes).
SOURCE_LABELS = {"centre_bias": "centre bias", "model": "model", "ceiling": "human ceiling"}
#: Colours of the sources (colour-blind safe, Okabe-Ito).
SOURCE_COLOURS = {"centre_bias": "#999999", "model": "#0072B2", "ceiling": "#E69F00"}
#: Display names of the metrics.
METRIC_LABELS = {
    "cc": "CC",
    "nss": "NSS",
    "kld": "KLD (lower is better)",
    "sim": "SIM",
    "auc_judd": "AUC-Judd",
    "auc_borji": "AUC-Borji",
    "auc_shuffled": "sAUC",
    "information_gain": "IG (bits/fix)",
    "emd": "EMD (lower is better)",
    "iou_topk": "IoU top 10%",
}
_DPI = 120


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)
    return path


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lo, hi = float(np.min(m)), float(np.max(m))
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def overlay_grid(rows: Sequence[Mapping[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Stimuli with the human map and the model map overlaid, one row per stimulus.

    Parameters
    ----------
    rows : sequence of mapping
        Each with ``image`` (``(H, W, 3)`` RGB in [0, 1]), ``human`` and ``model`` (``(H, W)``
        maps, any scale: shown min-max normalised), optional ``fixations`` (``(N, 2)`` x, y px,
        drawn as dots on the human map) and ``label`` (row title, e.g. ``'042  CC 0.61'``).
    path : str or Path
        The PNG to write (atomically).
    title : str, optional
        Figure title.

    Returns
    -------
    Path

    Raises
    ------
    ParameterError
        If ``rows`` is empty or a map's shape differs from its image's.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    if not rows:
        raise ParameterError("rows", 0, "at least one stimulus to draw")
    n = len(rows)
    fig = Figure(figsize=(9.0, 2.6 * n + (0.5 if title else 0.0)), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    cmap = colormaps["inferno"]
    for r, row in enumerate(rows):
        img = np.clip(np.asarray(row["image"], dtype=np.float64), 0, 1)
        for key in ("human", "model"):
            if np.asarray(row[key]).shape != img.shape[:2]:
                raise ParameterError(key, np.asarray(row[key]).shape, f"the image's size {img.shape[:2]}")
        for c, (key, name) in enumerate(((None, "stimulus"), ("human", "human map"), ("model", "model map"))):
            ax = axes[r, c]
            ax.imshow(img if key is None else img * 0.35, interpolation="bilinear")
            if key is not None:
                m = _normalise(row[key])
                rgba = cmap(m)
                rgba[..., 3] = 0.85 * np.sqrt(m)  # faint where the map is low: the scene shows through
                ax.imshow(rgba, interpolation="bilinear")
            if key == "human" and row.get("fixations") is not None and len(row["fixations"]):
                fx = np.asarray(row["fixations"], dtype=np.float64)
                ax.scatter(fx[:, 0], fx[:, 1], s=4, c="#56B4E9", linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=11)
            if c == 0:
                ax.set_ylabel(str(row.get("label", "")), fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def metric_distributions(
    table: pd.DataFrame, metrics: Sequence[str], path: str | Path, *, sources: Sequence[str] | None = None
) -> Path:
    """Histograms of per-stimulus scores, one panel per metric, one colour per source.

    Parameters
    ----------
    table : DataFrame
        The per-stimulus table, with columns ``{source}_{metric}``.
    metrics : sequence of str
        Metrics to draw.
    path : str or Path
        The PNG to write.
    sources : sequence of str, optional
        Column prefixes present in ``table`` among ``'centre_bias'``, ``'model'``, ``'ceiling'``
        (default: those present).

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure

    sources = [s for s in (sources or SOURCE_LABELS) if any(f"{s}_{m}" in table for m in metrics)]
    if not metrics or not sources:
        raise ParameterError("metrics", list(metrics), "metrics with scores in the table")
    ncol = min(3, len(metrics))
    nrow = int(np.ceil(len(metrics) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        cols = [(s, table[f"{s}_{metric}"].to_numpy(np.float64)) for s in sources if f"{s}_{metric}" in table]
        values = np.concatenate([v[np.isfinite(v)] for _, v in cols]) if cols else np.array([])
        if values.size == 0:
            ax.set_visible(False)
            continue
        lo, hi = np.quantile(values, [0.005, 0.995])
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-9, 31)
        for s, v in cols:
            v = v[np.isfinite(v)]
            ax.hist(np.clip(v, lo, hi), bins=bins, histtype="stepfilled", alpha=0.35, color=SOURCE_COLOURS[s])
            ax.hist(np.clip(v, lo, hi), bins=bins, histtype="step", lw=1.4, color=SOURCE_COLOURS[s],
                    label=f"{SOURCE_LABELS[s]} (mean {np.mean(v):.3g})")  # fmt: skip
        ax.set_xlabel(METRIC_LABELS.get(metric, metric))
        ax.set_ylabel("stimuli")
        ax.legend(fontsize=8, frameon=False, loc="best")
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle("Per-stimulus scores", fontsize=12)
    return _save(fig, path)


def score_bars(summary: pd.DataFrame, metrics: Sequence[str], path: str | Path, *, title: str = "") -> Path:
    """Mean score with its bootstrap CI for centre bias, model and human ceiling, per metric.

    Parameters
    ----------
    summary : DataFrame
        Rows with columns ``metric``, ``source``, ``mean``, ``ci_low``, ``ci_high`` and
        optionally ``chance`` (drawn as a dashed line).
    metrics : sequence of str
        Metrics to draw, one panel each.
    path : str or Path
        The PNG to write.
    title : str, optional
        Figure title (e.g. the model, method and layer).

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure

    metrics = [m for m in metrics if (summary["metric"] == m).any()]
    if not metrics:
        raise ParameterError("metrics", list(metrics), "metrics present in the summary")
    ncol = min(4, len(metrics))
    nrow = int(np.ceil(len(metrics) / ncol))
    fig = Figure(figsize=(3.0 * ncol, 3.2 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    order = [s for s in ("centre_bias", "model", "ceiling") if (summary["source"] == s).any()]
    for ax, metric in zip(axes, metrics, strict=False):
        rows = summary[summary["metric"] == metric].set_index("source")
        xs, means, errs, colours, names = [], [], [[], []], [], []
        for i, s in enumerate(order):
            if s not in rows.index:
                continue
            r = rows.loc[s]
            xs.append(i)
            means.append(float(r["mean"]))
            lo, hi = float(r["ci_low"]), float(r["ci_high"])
            errs[0].append(max(float(r["mean"]) - lo, 0.0) if np.isfinite(lo) else 0.0)
            errs[1].append(max(hi - float(r["mean"]), 0.0) if np.isfinite(hi) else 0.0)
            colours.append(SOURCE_COLOURS[s])
            names.append(SOURCE_LABELS[s].replace(" ", "\n"))
        ax.bar(xs, means, yerr=errs, color=colours, capsize=4, width=0.7)
        for x, m, up in zip(xs, means, errs[1], strict=True):  # the value above the CI's upper end
            ax.annotate(f"{m:.3g}", (x, m + up), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
        ax.margins(y=0.12)
        chance = rows["chance"].dropna() if "chance" in rows else pd.Series(dtype=float)
        if len(chance):
            ax.axhline(float(chance.iloc[0]), ls="--", lw=1, color="k", label="chance")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        if metric.startswith("auc"):
            ax.set_ylim(0.4, 1.0)
        ax.set_xticks(xs, names, fontsize=8)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=10)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(title or "Mean score, 95% bootstrap CI", fontsize=11)
    return _save(fig, path)
