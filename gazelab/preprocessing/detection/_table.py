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


_FLOAT_COLUMNS = tuple(c for c in FIXATION_COLUMNS if c not in ("eye", "trial", "block", "n_samples", "algorithm"))


def fixation_table_from_columns(cols: dict[str, object]) -> pd.DataFrame:
    """Assemble a fixation table with its fixed column order and dtypes."""
    n = len(cols["onset_ms"])  # type: ignore[arg-type]
    data: dict[str, object] = {
        "eye": pd.array(np.asarray(cols["eye"], dtype=object) if n else [], dtype="string"),
        "trial": pd.array(cols["trial"], dtype="Int64"),
        "block": np.asarray(cols["block"], dtype=np.int64),
    }
    for c in _FLOAT_COLUMNS:
        data[c] = np.asarray(cols[c], dtype=float)
    data["n_samples"] = np.asarray(cols["n_samples"], dtype=np.int64)
    data["algorithm"] = pd.array(np.asarray(cols["algorithm"], dtype=object) if n else [], dtype="string")
    return pd.DataFrame({c: data[c] for c in FIXATION_COLUMNS}, copy=False)


def _run_index(s: NDArray[np.int64], e: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Interleaved ``[s0, e0+1, s1, e1+1, ...]`` for ``ufunc.reduceat`` over an array of n+1."""
    return np.stack([s, e + 1], axis=1).ravel()


def _range(values: NDArray[np.float64], idx: NDArray[np.int64]) -> NDArray[np.float64]:
    """max - min of each run (``idx`` from :func:`_run_index`), ignoring NaN; NaN if all NaN."""
    if len(idx) == 0:
        return np.zeros(0)
    v = np.append(values, np.nan)
    mx = np.fmax.reduceat(v, idx)[::2]
    mn = np.fmin.reduceat(v, idx)[::2]
    return mx - mn


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
    idx = _run_index(s, e, len(t))
    if x_px is not None and y_px is not None:
        mx, my = np.asarray(x_px, float), np.asarray(y_px, float)
    elif len(s):
        valid = np.append(signal.valid, False)
        n_valid = np.add.reduceat(valid, idx)[::2]
        with np.errstate(invalid="ignore", divide="ignore"):
            mx = np.add.reduceat(np.append(np.where(valid[:-1], signal.x_px, 0.0), 0.0), idx)[::2] / n_valid
            my = np.add.reduceat(np.append(np.where(valid[:-1], signal.y_px, 0.0), 0.0), idx)[::2] / n_valid
    else:
        mx = my = np.zeros(0)
    xd, yd = signal.geometry.px_to_deg(mx, my)
    disp_px = _range(signal.x_px, idx) + _range(signal.y_px, idx)
    disp_deg = _range(signal.x_deg, idx) + _range(signal.y_deg, idx)
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
