"""The fixation table every detector returns, built from runs of sample indices."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gazelab.preprocessing.detection._signal import EyeSignal

__all__ = ["FIXATION_COLUMNS", "empty_fixation_table", "fixation_table"]

#: Columns of a fixation table, in order. Times in ms on the recording clock; ``onset_ms`` and
#: ``offset_ms`` are the first and last sample of the fixation (as in EyeLink's EFIX lines) and
#: ``duration_ms = offset_ms - onset_ms + one sample period``. ``x_px``/``y_px`` are the mean
#: gaze (screen px), ``x_deg``/``y_deg`` the same point in degrees from the screen centre;
#: ``dispersion_*`` is (max - min of x) + (max - min of y) over the fixation's samples
#: (Salvucci & Goldberg 2000).
FIXATION_COLUMNS = [
    "eye",
    "trial",
    "block",
    "onset_ms",
    "offset_ms",
    "duration_ms",
    "x_px",
    "y_px",
    "x_deg",
    "y_deg",
    "dispersion_px",
    "dispersion_deg",
    "n_samples",
    "algorithm",
]


def empty_fixation_table() -> pd.DataFrame:
    """A fixation table with no rows and the right dtypes."""
    return fixation_table_from_columns({c: [] for c in FIXATION_COLUMNS})


def fixation_table_from_columns(cols: dict[str, object]) -> pd.DataFrame:
    df = pd.DataFrame(cols, columns=FIXATION_COLUMNS)
    df["eye"] = df["eye"].astype("string")
    df["algorithm"] = df["algorithm"].astype("string")
    df["trial"] = df["trial"].astype("Int64")
    df["block"] = df["block"].astype(np.int64)
    df["n_samples"] = df["n_samples"].astype(np.int64)
    for c in (
        "onset_ms",
        "offset_ms",
        "duration_ms",
        "x_px",
        "y_px",
        "x_deg",
        "y_deg",
        "dispersion_px",
        "dispersion_deg",
    ):
        df[c] = df[c].astype(float)
    return df


def _range(values: NDArray[np.float64], s: NDArray[np.int64], e: NDArray[np.int64]) -> NDArray[np.float64]:
    """max - min of ``values[s:e+1]`` for each run, ignoring NaN (NaN if all are NaN)."""
    if len(s) == 0:
        return np.zeros(0)
    hi = np.where(np.isnan(values), -np.inf, values)
    lo = np.where(np.isnan(values), np.inf, values)
    hi = np.append(hi, -np.inf)
    lo = np.append(lo, np.inf)
    idx = np.stack([s, e + 1], axis=1).ravel()
    mx = np.maximum.reduceat(hi, idx)[::2]
    mn = np.minimum.reduceat(lo, idx)[::2]
    out = mx - mn
    out[~np.isfinite(out)] = np.nan
    return out


def fixation_table(
    signal: EyeSignal,
    runs: NDArray[np.int64],
    algorithm: str,
    *,
    x_px: NDArray[np.float64] | None = None,
    y_px: NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    """Summarise runs of samples ``[start, end]`` (inclusive indices) as fixations.

    Parameters
    ----------
    signal : EyeSignal
        The eye's samples.
    runs : ndarray of int, shape (k, 2)
        First and last sample index of each fixation, in time order.
    algorithm : str
        Name stored in the ``algorithm`` column.
    x_px, y_px : ndarray, optional
        Fixation positions to report instead of the sample means (the tracker's own values).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FIXATION_COLUMNS`.
    """
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    s, e = runs[:, 0], runs[:, 1]
    t = signal.time_ms
    valid = signal.valid
    cnt = np.r_[0, np.cumsum(valid)]
    n_valid = cnt[e + 1] - cnt[s]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.r_[0.0, np.cumsum(np.where(valid, signal.x_px, 0.0))]
        cy = np.r_[0.0, np.cumsum(np.where(valid, signal.y_px, 0.0))]
        mx = (cx[e + 1] - cx[s]) / n_valid
        my = (cy[e + 1] - cy[s]) / n_valid
    if x_px is not None and y_px is not None:
        mx, my = np.asarray(x_px, float), np.asarray(y_px, float)
    xd, yd = signal.geometry.px_to_deg(mx, my)
    disp_px = _range(signal.x_px, s, e) + _range(signal.y_px, s, e)
    disp_deg = _range(signal.x_deg, s, e) + _range(signal.y_deg, s, e)
    trial = signal.trial[s] if len(s) else pd.array([], dtype="Int64")
    return fixation_table_from_columns(
        {
            "eye": [signal.eye] * len(s),
            "trial": trial,
            "block": signal.segment[s],
            "onset_ms": t[s],
            "offset_ms": t[e],
            "duration_ms": t[e] - t[s] + signal.period_ms,
            "x_px": mx,
            "y_px": my,
            "x_deg": xd,
            "y_deg": yd,
            "dispersion_px": disp_px,
            "dispersion_deg": disp_deg,
            "n_samples": e - s + 1,
            "algorithm": [algorithm] * len(s),
        }
    )
