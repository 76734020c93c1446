"""I-VT: velocity-threshold identification of fixations (Salvucci & Goldberg 2000), with the
refinements of the EyeLink online parser.

Steps, all vectorised over the whole recording:

1. angular velocity and acceleration (deg/s, deg/s^2; :mod:`gazelab.preprocessing.velocity`,
   Savitzky-Golay over ``window_ms`` by default);
2. a sample is saccadic when its speed exceeds ``velocity_threshold_deg_s`` or its acceleration
   exceeds ``acceleration_threshold_deg_s2``;
3. *pursuit fix-up*: a sample over the velocity threshold is tested again after subtracting the
   local drift/pursuit velocity (the running median of the velocity vector over
   ``pursuit_window_ms``, capped in magnitude at ``pursuit_fixup_deg_s``; missing samples count
   as zero velocity), so slow drift or pursuit does not read as saccades. The fix-up only ever
   rescues samples, it never makes a sample saccadic;
4. fixations are the runs of non-saccadic samples with gaze; two fixations separated only by
   saccadic samples (no missing data) whose end points are less than ``motion_threshold_deg``
   apart are one fixation (the "saccade" did not move the eye);
5. fixations shorter than ``min_duration_ms`` are dropped.

Defaults are SR Research's "cognitive" parser configuration for the EyeLink (saccade velocity
threshold 30 deg/s, acceleration 8000 deg/s^2, motion threshold 0.15 deg, pursuit fix-up
60 deg/s; EyeLink 1000 Plus User Manual, "Parser Configuration"), so results compare with the
tracker's own EFIX events. The classic I-VT of Salvucci & Goldberg is
``ivt(signal, acceleration_threshold_deg_s2=None, pursuit_fixup_deg_s=0,
motion_threshold_deg=0)``. The 40 ms minimum removes noise fragments between saccades without
removing the short fixations of reading or search (Holmqvist et al. 2011, ch. 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError
from gazelab.preprocessing.cleaning import runs as true_runs
from gazelab.preprocessing.detection._registry import register_detector
from gazelab.preprocessing.detection._signal import EyeSignal
from gazelab.preprocessing.detection._table import fixation_table
from gazelab.preprocessing.velocity import Method, derivative, window_samples

__all__ = ["drop_short", "ivt", "merge_close"]


def drop_short(runs: np.ndarray, time_ms: np.ndarray, period_ms: float, min_duration_ms: float) -> np.ndarray:
    """Keep runs whose duration (last - first sample + one period, ms) is >= ``min_duration_ms``."""
    if len(runs) == 0:
        return runs
    dur = time_ms[runs[:, 1]] - time_ms[runs[:, 0]] + period_ms
    return runs[dur >= min_duration_ms - 1e-9]


def merge_close(runs: np.ndarray, signal: EyeSignal, motion_threshold_deg: float) -> np.ndarray:
    """Merge consecutive runs whose gap has no missing sample and moves the eye < threshold.

    The movement is the angle between the last sample of one run and the first of the next.
    """
    if len(runs) < 2 or motion_threshold_deg <= 0:
        return runs
    a_end, b_start = runs[:-1, 1], runs[1:, 0]
    n_missing = np.r_[0, np.cumsum(~signal.valid)]
    no_gap = (n_missing[b_start] - n_missing[a_end + 1]) == 0
    same_seg = signal.segment[b_start] == signal.segment[a_end]
    moved = np.hypot(signal.x_deg[b_start] - signal.x_deg[a_end], signal.y_deg[b_start] - signal.y_deg[a_end])
    merge = no_gap & same_seg & (moved < motion_threshold_deg)
    if not merge.any():
        return runs
    return np.stack([runs[np.r_[True, ~merge], 0], runs[np.r_[~merge, True], 1]], axis=1)


def _running_median_at(v: np.ndarray, n: int, idx: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
    """Centred running median over ``n`` samples, evaluated only at ``idx``.

    Missing values count as 0 (no drift); the signal is extended by its edge values.
    """
    half = n // 2
    padded = np.pad(np.nan_to_num(v, nan=0.0), half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out = np.empty(len(idx))
    for a in range(0, len(idx), chunk):
        out[a : a + chunk] = np.median(windows[idx[a : a + chunk]], axis=1)
    return out


@register_detector("ivt")
def ivt(
    signal: EyeSignal,
    *,
    velocity_threshold_deg_s: float = 30.0,
    acceleration_threshold_deg_s2: float | None = 8000.0,
    pursuit_fixup_deg_s: float = 60.0,
    pursuit_window_ms: float = 100.0,
    motion_threshold_deg: float = 0.15,
    min_duration_ms: float = 40.0,
    velocity_method: Method = "savgol",
    window_ms: float = 20.0,
) -> pd.DataFrame:
    """Detect fixations with a velocity (and acceleration) threshold.

    Parameters
    ----------
    signal : EyeSignal
        One eye's prepared samples.
    velocity_threshold_deg_s : float, optional
        Speed (after the pursuit fix-up) above which a sample is saccadic, deg/s (default 30).
    acceleration_threshold_deg_s2 : float or None, optional
        Acceleration above which a sample is saccadic, deg/s^2 (default 8000); None disables it.
    pursuit_fixup_deg_s : float, optional
        Largest drift/pursuit speed subtracted before thresholding, deg/s (default 60); 0
        disables the fix-up.
    pursuit_window_ms : float, optional
        Window of the running median that estimates the drift velocity, ms (default 100).
    motion_threshold_deg : float, optional
        Fixations split by saccadic samples that move the eye less than this are merged,
        deg (default 0.15); 0 disables merging.
    min_duration_ms : float, optional
        Shortest fixation kept, ms (default 40).
    velocity_method : {'savgol', 'central'}, optional
        Differentiator (default 'savgol').
    window_ms : float, optional
        Savitzky-Golay window, ms (default 20).

    Returns
    -------
    pandas.DataFrame
        Fixation table (:data:`~gazelab.preprocessing.detection.FIXATION_COLUMNS`).

    Raises
    ------
    ParameterError
        For a non-positive threshold or a negative duration.
    """
    _check_thresholds(
        velocity_threshold_deg_s,
        acceleration_threshold_deg_s2,
        pursuit_fixup_deg_s,
        motion_threshold_deg,
        min_duration_ms,
    )
    kw = dict(segments=signal.segment, method=velocity_method, window_ms=window_ms)
    rate = signal.sampling_rate_hz
    vx = derivative(signal.x_deg, rate, **kw)  # type: ignore[arg-type]
    vy = derivative(signal.y_deg, rate, **kw)  # type: ignore[arg-type]
    speed2 = vx * vx + vy * vy  # squared speed: cheaper than hypot, same comparisons
    with np.errstate(invalid="ignore"):
        fix = speed2 <= velocity_threshold_deg_s * velocity_threshold_deg_s  # NaN (missing, edges) is never fixation
    if pursuit_fixup_deg_s > 0:
        n = window_samples(pursuit_window_ms, rate)
        _rescue_pursuit(fix, vx, vy, speed2, velocity_threshold_deg_s, pursuit_fixup_deg_s, n)
    if acceleration_threshold_deg_s2 is not None:
        ax = derivative(signal.x_deg, rate, deriv=2, **kw)  # type: ignore[arg-type]
        ay = derivative(signal.y_deg, rate, deriv=2, **kw)  # type: ignore[arg-type]
        with np.errstate(invalid="ignore"):
            fix &= ~(ax * ax + ay * ay > acceleration_threshold_deg_s2**2)
    runs = merge_close(true_runs(fix), signal, motion_threshold_deg)
    runs = drop_short(runs, signal.time_ms, signal.period_ms, min_duration_ms)
    return fixation_table(signal, runs, "ivt")


def _check_thresholds(
    velocity_deg_s: float,
    acceleration_deg_s2: float | None,
    pursuit_fixup_deg_s: float,
    motion_deg: float,
    min_duration_ms: float,
) -> None:
    """Refuse a non-positive threshold or a negative fix-up, motion or duration (named as :func:`ivt` names them)."""
    if not velocity_deg_s > 0:
        raise ParameterError("velocity_threshold_deg_s", velocity_deg_s, "a speed > 0 (deg/s)")
    if acceleration_deg_s2 is not None and not acceleration_deg_s2 > 0:
        raise ParameterError(
            "acceleration_threshold_deg_s2", acceleration_deg_s2, "an acceleration > 0 (deg/s^2) or None"
        )
    if pursuit_fixup_deg_s < 0:
        raise ParameterError("pursuit_fixup_deg_s", pursuit_fixup_deg_s, "a speed >= 0 (deg/s)")
    if motion_deg < 0:
        raise ParameterError("motion_threshold_deg", motion_deg, "an angle >= 0 (deg)")
    if min_duration_ms < 0:
        raise ParameterError("min_duration_ms", min_duration_ms, "a duration >= 0 (ms)")


def _rescue_pursuit(
    fix: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    speed2: np.ndarray,
    threshold_deg_s: float,
    fixup_deg_s: float,
    window: int,
) -> None:
    """Mark as fixation (in ``fix``) the samples under the threshold once the drift velocity is taken off.

    The drift velocity is the running median over ``window`` samples, shortened to at most
    ``fixup_deg_s``; only samples over the threshold by at most that much can be rescued.
    ``speed2`` is the squared speed, (deg/s)^2.
    """
    thr2 = threshold_deg_s * threshold_deg_s
    with np.errstate(invalid="ignore"):
        over = np.flatnonzero((speed2 > thr2) & (speed2 <= (threshold_deg_s + fixup_deg_s) ** 2))
        bx, by = _running_median_at(vx, window, over), _running_median_at(vy, window, over)
        with np.errstate(divide="ignore"):
            shrink = np.minimum(1.0, fixup_deg_s / np.hypot(bx, by))
        shrink[~np.isfinite(shrink)] = 0.0
        rx, ry = vx[over] - bx * shrink, vy[over] - by * shrink
        fix[over] = rx * rx + ry * ry <= thr2
