"""Blinks, gaps and interpolation: which samples to trust before detecting events.

All functions take plain arrays (time in ms, gaze in any unit) and return masks or new arrays;
nothing is changed in place.

- A sample is *missing* when its x or y is NaN (EyeLink writes ``.`` while the eye is lost).
- A *blink* is a tracker blink event (EyeLink ``EBLINK``) or a run of missing samples; both are
  widened by ``margin_ms`` on each side, because the lid corrupts gaze just before and after the
  pupil is lost (Nystrom & Holmqvist 2010 and SR Research's Data Viewer use margins of about
  50-100 ms; the default here is 0 so that nothing is removed unless asked for).
- :func:`interpolate_gaps` fills short runs of missing samples (default at most 75 ms, shorter
  than any blink; Wass et al. 2013 interpolate gaps up to 100-150 ms) linearly between the
  neighbouring valid samples of the same segment, never across a blink or segment edge.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gazelab.errors import ParameterError

__all__ = ["blink_mask", "interpolate_gaps", "missing_mask", "runs"]

BoolArray = NDArray[np.bool_]


def runs(mask: BoolArray) -> NDArray[np.int64]:
    """Start and end (inclusive) indices of the runs of True in a boolean array.

    Returns
    -------
    ndarray of int, shape (k, 2)

    Examples
    --------
    >>> runs(np.array([0, 1, 1, 0, 1], bool)).tolist()
    [[1, 2], [4, 4]]
    """
    m = np.asarray(mask, dtype=bool)
    if len(m) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    d = np.diff(m.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return np.stack([starts, ends], axis=1).astype(np.int64)


def missing_mask(x: NDArray[np.float64], y: NDArray[np.float64]) -> BoolArray:
    """True where a sample has no gaze (x or y NaN)."""
    return np.isnan(np.asarray(x, dtype=float)) | np.isnan(np.asarray(y, dtype=float))


def blink_mask(
    time_ms: NDArray[np.float64],
    missing: BoolArray,
    *,
    blink_onsets_ms: NDArray[np.float64] | None = None,
    blink_offsets_ms: NDArray[np.float64] | None = None,
    margin_ms: float = 0.0,
) -> BoolArray:
    """Samples to discard around blinks.

    Parameters
    ----------
    time_ms : ndarray, shape (n,)
        Sample times in ms, non-decreasing.
    missing : ndarray of bool, shape (n,)
        Missing samples (see :func:`missing_mask`); each run counts as a blink.
    blink_onsets_ms, blink_offsets_ms : ndarray, optional
        The tracker's blink events (first and last sample time, ms).
    margin_ms : float, optional
        Widening on each side of every blink, in ms (default 0).

    Returns
    -------
    ndarray of bool, shape (n,)
        True for samples inside a (widened) blink or missing.
    """
    if margin_ms < 0:
        raise ParameterError("margin_ms", margin_ms, "a duration >= 0 (ms)")
    t = np.asarray(time_ms, dtype=float)
    r = runs(missing)
    on = [t[r[:, 0]]] if len(r) else []
    off = [t[r[:, 1]]] if len(r) else []
    if blink_onsets_ms is not None and blink_offsets_ms is not None and len(blink_onsets_ms):
        on.append(np.asarray(blink_onsets_ms, dtype=float))
        off.append(np.asarray(blink_offsets_ms, dtype=float))
    out = np.asarray(missing, dtype=bool).copy()
    if not on:
        return out
    lo = np.concatenate(on) - margin_ms
    hi = np.concatenate(off) + margin_ms
    # mark [lo, hi] intervals with a difference array over sample indices
    i0 = np.searchsorted(t, lo, side="left")
    i1 = np.searchsorted(t, hi, side="right")
    diff = np.zeros(len(t) + 1, dtype=np.int64)
    np.add.at(diff, i0, 1)
    np.add.at(diff, i1, -1)
    return out | (np.cumsum(diff[:-1]) > 0)


def interpolate_gaps(
    time_ms: NDArray[np.float64],
    values: NDArray[np.float64],
    *,
    max_gap_ms: float = 75.0,
    segments: NDArray[np.integer] | None = None,
    keep_missing: BoolArray | None = None,
) -> NDArray[np.float64]:
    """Fill short runs of NaN by linear interpolation in time.

    Parameters
    ----------
    time_ms : ndarray, shape (n,)
        Sample times in ms.
    values : ndarray, shape (n,)
        Signal with NaN gaps.
    max_gap_ms : float, optional
        Longest gap filled, measured from the last valid sample before to the first after,
        minus one sample period (i.e. the missing stretch itself), in ms. Default 75.
    segments : ndarray of int, optional
        Segment ids; gaps at a segment edge or spanning two segments are left alone.
    keep_missing : ndarray of bool, optional
        Samples never filled (e.g. :func:`blink_mask` output).

    Returns
    -------
    ndarray, shape (n,)
        A copy of ``values`` with qualifying gaps filled.
    """
    if max_gap_ms < 0:
        raise ParameterError("max_gap_ms", max_gap_ms, "a duration >= 0 (ms)")
    v = np.asarray(values, dtype=float).copy()
    t = np.asarray(time_ms, dtype=float)
    gaps = runs(np.isnan(v))
    if len(gaps) == 0:
        return v
    a, b = gaps[:, 0] - 1, gaps[:, 1] + 1
    ok = (a >= 0) & (b < len(v))
    a, b, g = a[ok], b[ok], gaps[ok]
    span = t[b] - t[a]
    period = np.median(np.diff(t)) if len(t) > 1 else 0.0
    ok = span - period <= max_gap_ms
    if segments is not None:
        seg = np.asarray(segments)
        ok &= seg[a] == seg[b]
    if keep_missing is not None:
        km = np.cumsum(np.r_[0, np.asarray(keep_missing, dtype=np.int64)])
        ok &= (km[g[:, 1] + 1] - km[g[:, 0]]) == 0
    g = g[ok]
    if len(g) == 0:
        return v
    diff = np.zeros(len(v) + 1, dtype=np.int64)
    np.add.at(diff, g[:, 0], 1)
    np.add.at(diff, g[:, 1] + 1, -1)
    fill = np.cumsum(diff[:-1]) > 0
    valid = ~np.isnan(v)
    # the nearest valid samples around a filled gap are its own neighbours
    v[fill] = np.interp(t[fill], t[valid], v[valid])
    return v
