"""Engbert & Kliegl adaptive-threshold saccade detection; fixations are the stretches between.

Engbert & Kliegl (2003), *Vision Research* 43:1035-1045; Engbert & Mergenthaler (2006), *PNAS*
103:7192-7197:

1. velocity by the moving average over 5 samples,
   ``v[n] = (x[n+2] + x[n+1] - x[n-1] - x[n-2]) / (6 dt)`` (deg/s);
2. a robust noise level per axis and per segment (block),
   ``sigma = sqrt(median(v^2) - median(v)^2)``, and an elliptic threshold
   ``(vx / (lambda sigma_x))^2 + (vy / (lambda sigma_y))^2 > 1`` with ``lambda = 6``;
3. saccades are runs above threshold lasting at least ``min_saccade_duration_ms`` (6 ms, i.e. 3
   samples at 500 Hz; the paper's minimum of 3 samples);
4. fixations are the runs of valid samples between saccades, at least ``min_duration_ms`` long
   (default 40 ms as for I-VT). A floor on sigma (``min_sigma_deg_s``) stops a perfectly still
   synthetic signal from flagging its own rounding noise.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.ndimage import correlate1d

from gazelab.errors import ParameterError
from gazelab.preprocessing.cleaning import runs as true_runs
from gazelab.preprocessing.detection._registry import register_detector
from gazelab.preprocessing.detection._signal import EyeSignal
from gazelab.preprocessing.detection._table import fixation_table
from gazelab.preprocessing.detection.ivt import drop_short

__all__ = ["ek_velocity", "engbert_kliegl"]


def ek_velocity(values: np.ndarray, sampling_rate_hz: float, segments: np.ndarray) -> np.ndarray:
    """Engbert-Kliegl five-sample moving-average velocity (NaN near edges and gaps)."""
    k = np.array([-1.0, -1.0, 0.0, 1.0, 1.0]) * sampling_rate_hz / 6.0
    v = correlate1d(np.asarray(values, float), k, mode="constant", cval=np.nan)
    change = np.flatnonzero(segments[1:] != segments[:-1]) + 1
    if len(change):
        idx = (change[:, None] + np.arange(-2, 2)[None, :]).ravel()
        v[idx[(idx >= 0) & (idx < len(v))]] = np.nan
    return v


def _robust_sigma(v: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Per-sample sigma of its segment: sqrt(median(v^2) - median(v)^2), NaN-aware.

    Segments are contiguous runs of equal ``seg`` (recording blocks are stored in order).
    """
    out = np.full(len(v), np.nan)
    edges = np.r_[0, np.flatnonzero(seg[1:] != seg[:-1]) + 1, len(v)]
    for a, b in itertools.pairwise(edges):
        vv = v[a:b]
        vv = vv[~np.isnan(vv)]
        if len(vv):
            out[a:b] = np.sqrt(max(np.median(vv * vv) - np.median(vv) ** 2, 0.0))
    return out


@register_detector("ek")
def engbert_kliegl(
    signal: EyeSignal,
    *,
    lambda_: float = 6.0,
    min_saccade_duration_ms: float = 6.0,
    min_duration_ms: float = 40.0,
    min_sigma_deg_s: float = 1e-3,
) -> pd.DataFrame:
    """Detect saccades with an adaptive elliptic velocity threshold; return the fixations.

    Parameters
    ----------
    signal : EyeSignal
        One eye's prepared samples.
    lambda_ : float, optional
        Threshold multiplier of the robust velocity SD (default 6).
    min_saccade_duration_ms : float, optional
        Shortest saccade, ms (default 6).
    min_duration_ms : float, optional
        Shortest fixation kept, ms (default 40).
    min_sigma_deg_s : float, optional
        Floor on the noise SD, deg/s (default 0.001).

    Returns
    -------
    pandas.DataFrame
        Fixation table (:data:`~gazelab.preprocessing.detection.FIXATION_COLUMNS`).
    """
    if not lambda_ > 0:
        raise ParameterError("lambda_", lambda_, "a multiplier > 0")
    if min_saccade_duration_ms < 0 or min_duration_ms < 0:
        raise ParameterError("min_duration_ms", (min_saccade_duration_ms, min_duration_ms), "durations >= 0 (ms)")
    rate = signal.sampling_rate_hz
    vx = ek_velocity(signal.x_deg, rate, signal.segment)
    vy = ek_velocity(signal.y_deg, rate, signal.segment)
    sx = np.maximum(_robust_sigma(vx, signal.segment), min_sigma_deg_s) * lambda_
    sy = np.maximum(_robust_sigma(vy, signal.segment), min_sigma_deg_s) * lambda_
    with np.errstate(invalid="ignore"):
        above = (vx / sx) ** 2 + (vy / sy) ** 2 > 1.0
    sacc = drop_short(true_runs(above), signal.time_ms, signal.period_ms, min_saccade_duration_ms)
    is_sacc = np.zeros(len(vx), dtype=bool)
    if len(sacc):
        diff = np.zeros(len(vx) + 1, np.int64)
        np.add.at(diff, sacc[:, 0], 1)
        np.add.at(diff, sacc[:, 1] + 1, -1)
        is_sacc = np.cumsum(diff[:-1]) > 0
    fix = ~is_sacc & ~np.isnan(vx) & ~np.isnan(vy)
    runs = drop_short(true_runs(fix), signal.time_ms, signal.period_ms, min_duration_ms)
    return fixation_table(signal, runs, "ek")
