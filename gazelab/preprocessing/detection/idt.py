"""I-DT: dispersion-threshold identification of fixations (Salvucci & Goldberg 2000).

A window of at least ``min_duration_ms`` of consecutive valid samples whose dispersion
``(max x - min x) + (max y - min y)`` (degrees) is at most ``dispersion_threshold_deg`` starts a
fixation; the window grows sample by sample while the dispersion stays within the threshold.
The next search starts after the fixation; a failing window moves on by one sample.

Defaults: 1.0 deg and 100 ms, the values Salvucci & Goldberg recommend (0.5-1 deg, 100-200 ms)
and pymovements' defaults. Windows never span missing samples or a block boundary.

Implementation: the dispersion of every minimum-length window is computed at once with
running max/min filters; only the growth of an accepted window is done per fixation, in
vectorised chunks, so the Python loop runs once per fixation, not once per sample.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from gazelab.errors import ParameterError
from gazelab.preprocessing.detection._registry import register_detector
from gazelab.preprocessing.detection._signal import EyeSignal
from gazelab.preprocessing.detection._table import fixation_table

__all__ = ["dispersion_runs", "idt"]

_CHUNK = 128


def dispersion_runs(
    x: np.ndarray, y: np.ndarray, segment: np.ndarray, period_ms: float, threshold: float, min_duration_ms: float
) -> np.ndarray:
    """I-DT on arrays in any unit: ``(k, 2)`` first/last sample indices of the fixations.

    ``x``, ``y`` share the unit of ``threshold`` (degrees for :func:`idt`, px elsewhere); NaN
    marks missing samples; windows never span a change of ``segment``.
    """
    n = len(x)
    k = max(1, math.ceil(min_duration_ms / period_ms - 1e-9))
    if n < k:
        return np.zeros((0, 2), np.int64)
    bad = np.isnan(x) | np.isnan(y)
    seg = segment
    # "stop" marks samples a window may not contain beyond its first: missing or a new segment
    stop = bad.copy()
    stop[1:] |= seg[1:] != seg[:-1]
    xf = np.where(bad, 0.0, x)
    yf = np.where(bad, 0.0, y)
    o = -(k // 2)  # window [i, i + k) for output i
    disp = (
        maximum_filter1d(xf, k, origin=o)
        - minimum_filter1d(xf, k, origin=o)
        + maximum_filter1d(yf, k, origin=o)
        - minimum_filter1d(yf, k, origin=o)
    )
    nstop = np.r_[0, np.cumsum(stop)]
    nbad = np.r_[0, np.cumsum(bad)]
    i = np.arange(n - k + 1)
    ok = disp[: n - k + 1] <= threshold
    ok &= (nbad[i + k] - nbad[i]) == 0  # no missing sample in the window
    ok &= (nstop[i + k] - nstop[i + 1]) == 0  # no segment change after its first sample
    candidates = np.flatnonzero(ok)

    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    thr = threshold
    while True:
        j = int(np.searchsorted(candidates, pos))
        if j >= len(candidates):
            break
        s = int(candidates[j])
        e = s + k - 1
        xmax, xmin = x[s : e + 1].max(), x[s : e + 1].min()
        ymax, ymin = y[s : e + 1].max(), y[s : e + 1].min()
        while e + 1 < n:
            hi = min(n, e + 1 + _CHUNK)
            cx, cy = x[e + 1 : hi], y[e + 1 : hi]
            rxmax = np.maximum(np.maximum.accumulate(cx), xmax)
            rxmin = np.minimum(np.minimum.accumulate(cx), xmin)
            rymax = np.maximum(np.maximum.accumulate(cy), ymax)
            rymin = np.minimum(np.minimum.accumulate(cy), ymin)
            grow_ok = ((rxmax - rxmin) + (rymax - rymin) <= thr) & ~stop[e + 1 : hi]
            nfail = np.flatnonzero(~grow_ok)
            if len(nfail):
                e = e + int(nfail[0])
                break
            e = hi - 1
            xmax, xmin, ymax, ymin = rxmax[-1], rxmin[-1], rymax[-1], rymin[-1]
        starts.append(s)
        ends.append(e)
        pos = e + 1
    return np.stack([np.asarray(starts, np.int64), np.asarray(ends, np.int64)], axis=1)


@register_detector("idt")
def idt(
    signal: EyeSignal,
    *,
    dispersion_threshold_deg: float = 1.0,
    min_duration_ms: float = 100.0,
) -> pd.DataFrame:
    """Detect fixations with a dispersion threshold.

    Parameters
    ----------
    signal : EyeSignal
        One eye's prepared samples.
    dispersion_threshold_deg : float, optional
        Largest dispersion ``(max-min x) + (max-min y)`` of a fixation, degrees (default 1.0).
    min_duration_ms : float, optional
        Shortest fixation, ms (default 100); the initial window is this long.

    Returns
    -------
    pandas.DataFrame
        Fixation table (:data:`~gazelab.preprocessing.detection.FIXATION_COLUMNS`).
    """
    if not dispersion_threshold_deg > 0:
        raise ParameterError("dispersion_threshold_deg", dispersion_threshold_deg, "an angle > 0 (deg)")
    if not min_duration_ms > 0:
        raise ParameterError("min_duration_ms", min_duration_ms, "a duration > 0 (ms)")
    runs = dispersion_runs(
        signal.x_deg, signal.y_deg, signal.segment, signal.period_ms, dispersion_threshold_deg, min_duration_ms
    )
    return fixation_table(signal, runs, "idt")
