"""Statistics for comparison reports: bootstrap confidence intervals and alignment-performance correlation.

:func:`bootstrap_ci` gives the percentile bootstrap interval of any statistic of per-stimulus
scores (paired when several columns are resampled together, e.g. a ratio of two means).
:func:`alignment_performance_correlation` answers the question "do models whose attention is
closer to human attention perform better?": the Spearman rank correlation, across models,
layers or checkpoints, between an alignment score (CC, NSS, ...) and a task score (accuracy),
with a bootstrap confidence interval over those models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError

__all__ = ["BootstrapCI", "SpearmanResult", "alignment_performance_correlation", "bootstrap_ci"]


@dataclass(frozen=True)
class BootstrapCI:
    """A statistic with its percentile bootstrap confidence interval.

    Attributes
    ----------
    estimate : float
        The statistic on the data as given.
    low, high : float
        Interval bounds (NaN when fewer than two observations).
    confidence : float
        Coverage of the interval (e.g. 0.95).
    n : int
        Number of observations resampled.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n: int


def _mean0(x: np.ndarray) -> float:
    return float(np.mean(x, axis=0))


def bootstrap_ci(
    data: Any,
    statistic: Callable[[np.ndarray], float] | None = None,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap confidence interval of a statistic.

    Observations (rows) are resampled with replacement ``n_boot`` times; the interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the statistic over the
    resamples. Resamples where the statistic is NaN are left out.

    Parameters
    ----------
    data : array-like, shape (n,) or (n, k)
        Observations; the k columns of a row are resampled together (a paired bootstrap).
        Rows with a NaN are dropped first.
    statistic : callable, optional
        ``statistic(sample) -> float`` for a sample of ``data``'s shape. Default: the mean
        (of a 1-D sample).
    n_boot : int, optional
        Number of resamples (default 2000; >= 1).
    confidence : float, optional
        Coverage in (0, 1) (default 0.95).
    seed : int, optional
        Seed of the resampling (default 0), so intervals are reproducible.

    Returns
    -------
    BootstrapCI

    Raises
    ------
    ParameterError
        If ``data`` is empty or not 1-D/2-D, ``n_boot`` < 1 or ``confidence`` outside (0, 1).

    Examples
    --------
    >>> ci = bootstrap_ci([1.0, 2.0, 3.0, 4.0], n_boot=500)
    >>> ci.estimate, ci.low <= 2.5 <= ci.high
    (2.5, True)
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ParameterError("data", x.shape, "observations (n,) or (n, k)")
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ParameterError("n_boot", n_boot, "an integer >= 1")
    if not 0 < confidence < 1:
        raise ParameterError("confidence", confidence, "a coverage in (0, 1), e.g. 0.95")
    x = x[~np.isnan(x).any(axis=1)] if x.ndim == 2 else x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        raise ParameterError("data", "no non-NaN observation", "at least one observation")
    stat = statistic or _mean0
    estimate = float(stat(x))
    if n < 2:
        return BootstrapCI(estimate, float("nan"), float("nan"), confidence, n)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    if statistic is None and x.ndim == 1:
        values = x[idx].mean(axis=1)
    else:
        values = np.array([stat(x[i]) for i in idx], dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return BootstrapCI(estimate, float("nan"), float("nan"), confidence, n)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return BootstrapCI(estimate, float(low), float(high), confidence, n)


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman rank correlation with a bootstrap confidence interval.

    Attributes
    ----------
    rho : float
        Spearman's rho over all rows.
    low, high : float
        Percentile bootstrap interval of rho over the rows (models/layers/checkpoints).
    p_value : float
        Two-sided p-value of rho = 0 (scipy's t approximation; exact tests need n > ~10).
    n : int
        Number of rows (models, layers or checkpoints) correlated.
    confidence : float
        Coverage of the interval.
    alignment, performance : str
        The correlated columns.
    """

    rho: float
    low: float
    high: float
    p_value: float
    n: int
    confidence: float
    alignment: str
    performance: str

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return (
            f"Spearman rho({self.alignment}, {self.performance}) = {self.rho:.3f} "
            f"[{pct}% CI {self.low:.3f}, {self.high:.3f}], p = {self.p_value:.3g}, n = {self.n}"
        )


def _read(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in (".csv", ".tsv", ".parquet"):
        raise ParameterError("table", str(path), "an existing .csv, .tsv or .parquet file")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def _rho(sample: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = sample[:, 0], sample[:, 1]
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a resample of one model repeated: undefined
        return float("nan")
    return float(spearmanr(a, b).statistic)


def alignment_performance_correlation(
    table: pd.DataFrame | Mapping[str, Any] | str | Path,
    alignment: str = "cc",
    performance: str = "accuracy",
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> SpearmanResult:
    """Spearman correlation between attention alignment and task performance, with a bootstrap CI.

    One row per model, layer or checkpoint: e.g. the mean CC of each comparison report (its
    ``summary.json``) next to that model's accuracy on the task.

    Parameters
    ----------
    table : DataFrame, mapping of columns, or path to a CSV/Parquet table
        Rows = models/layers/checkpoints; needs the ``alignment`` and ``performance`` columns.
    alignment : str, optional
        Column of alignment scores (default ``'cc'``; any metric such as ``'nss'``).
    performance : str, optional
        Column of task scores (default ``'accuracy'``).
    n_boot : int, optional
        Bootstrap resamples of the rows (default 2000).
    confidence : float, optional
        Interval coverage (default 0.95).
    seed : int, optional
        Seed of the resampling (default 0).

    Returns
    -------
    SpearmanResult

    Raises
    ------
    ParameterError
        If a column is missing, or fewer than 3 rows have both values.

    Examples
    --------
    >>> t = {"cc": [0.2, 0.3, 0.35, 0.5, 0.6], "accuracy": [0.61, 0.65, 0.64, 0.7, 0.8]}
    >>> r = alignment_performance_correlation(t, n_boot=200)
    >>> round(r.rho, 2), r.n
    (0.9, 5)
    """
    if isinstance(table, str | Path):
        df = _read(Path(table))
    else:
        df = pd.DataFrame(table)
    for name, col in (("alignment", alignment), ("performance", performance)):
        if col not in df.columns:
            raise ParameterError(name, col, f"a column of the table {list(df.columns)}")
    pairs = df[[alignment, performance]].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(np.float64)
    if len(pairs) < 3:
        raise ParameterError(
            "table",
            f"{len(pairs)} rows with both {alignment} and {performance}",
            "at least 3 models/layers/checkpoints",
        )
    from scipy.stats import spearmanr

    if np.ptp(pairs[:, 0]) == 0 or np.ptp(pairs[:, 1]) == 0:
        raise ParameterError("table", "a constant column", f"{alignment} and {performance} that vary across rows")
    res = spearmanr(pairs[:, 0], pairs[:, 1])
    ci = bootstrap_ci(pairs, _rho, n_boot=n_boot, confidence=confidence, seed=seed)
    return SpearmanResult(
        float(res.statistic), ci.low, ci.high, float(res.pvalue), len(pairs), confidence, alignment, performance
    )
