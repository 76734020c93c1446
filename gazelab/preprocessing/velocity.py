"""Angular velocity and acceleration of gaze, in deg/s and deg/s^2.

Two differentiators, both applied per contiguous segment (recording block) and both returning
NaN wherever their window touches a missing sample or a segment edge (no value is invented):

``'savgol'`` (default)
    Savitzky-Golay: a polynomial of order ``polyorder`` (default 2) fitted by least squares over
    a centred window of ``window_ms`` (default 20 ms, rounded to an odd number of samples, at
    least ``polyorder + 2``) and differentiated analytically (Savitzky & Golay 1964; as used for
    eye movements by Nystrom & Holmqvist 2010). Smooths noise while keeping saccade peaks.
``'central'``
    Central difference ``(x[n+1] - x[n-1]) / (2 dt)``: no smoothing, 3-sample support.

Acceleration uses the same filter with the second derivative (``'central'``: the three-point
second difference).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import correlate1d
from scipy.signal import savgol_coeffs

from gazelab.errors import ParameterError

__all__ = ["derivative", "velocity_deg_s", "window_samples"]

Method = Literal["savgol", "central"]


def window_samples(window_ms: float, sampling_rate_hz: float, *, polyorder: int = 2) -> int:
    """Odd window length in samples for a window in ms (at least ``polyorder + 2``, and 3)."""
    if not window_ms > 0:
        raise ParameterError("window_ms", window_ms, "a duration > 0 (ms)")
    n = int(round(window_ms * sampling_rate_hz / 1000.0))
    n = max(n, polyorder + 2, 3)
    return n if n % 2 == 1 else n + 1


def _kernel(method: Method, deriv: int, n: int, polyorder: int, dt: float) -> NDArray[np.float64]:
    if method == "central":
        if deriv == 1:
            return np.array([-1.0, 0.0, 1.0]) / (2 * dt)
        return np.array([1.0, -2.0, 1.0]) / (dt * dt)
    # use="dot": coefficients are applied to the window in increasing time order
    return savgol_coeffs(n, polyorder, deriv=deriv, delta=dt, use="dot")


def derivative(
    values: NDArray[np.float64],
    sampling_rate_hz: float,
    *,
    segments: NDArray[np.integer] | None = None,
    method: Method = "savgol",
    window_ms: float = 20.0,
    polyorder: int = 2,
    deriv: int = 1,
) -> NDArray[np.float64]:
    """Time derivative of a regularly sampled signal, per segment.

    Parameters
    ----------
    values : ndarray, shape (n,)
        The signal (e.g. degrees); NaN marks missing samples.
    sampling_rate_hz : float
        Sampling rate in Hz.
    segments : ndarray of int, shape (n,), optional
        Segment id of each sample (e.g. the recording block); windows never cross a change.
    method : {'savgol', 'central'}, optional
        Differentiator (see the module documentation). Default 'savgol'.
    window_ms : float, optional
        Savitzky-Golay window in ms (default 20).
    polyorder : int, optional
        Savitzky-Golay polynomial order (default 2).
    deriv : {1, 2}, optional
        First (default) or second derivative.

    Returns
    -------
    ndarray, shape (n,)
        Units of ``values`` per s (``deriv=1``) or per s^2; NaN where undefined.
    """
    if method not in ("savgol", "central"):
        raise ParameterError("method", method, "'savgol' or 'central'")
    if deriv not in (1, 2):
        raise ParameterError("deriv", deriv, "1 or 2")
    if not sampling_rate_hz > 0:
        raise ParameterError("sampling_rate_hz", sampling_rate_hz, "a rate > 0 (Hz)")
    x = np.asarray(values, dtype=float)
    dt = 1.0 / sampling_rate_hz
    n = 3 if method == "central" else window_samples(window_ms, sampling_rate_hz, polyorder=polyorder)
    k = _kernel(method, deriv, n, polyorder, dt)
    out = correlate1d(x, k, mode="constant", cval=np.nan)
    if segments is not None and len(x):
        seg = np.asarray(segments)
        half = n // 2
        change = np.flatnonzero(seg[1:] != seg[:-1]) + 1  # first sample of each new segment
        if len(change):
            # blank the samples whose window crosses a segment boundary
            offs = np.arange(-half, half)
            idx = (change[:, None] + offs[None, :]).ravel()
            out[idx[(idx >= 0) & (idx < len(x))]] = np.nan
    return out


def velocity_deg_s(
    x_deg: NDArray[np.float64],
    y_deg: NDArray[np.float64],
    sampling_rate_hz: float,
    *,
    segments: NDArray[np.integer] | None = None,
    method: Method = "savgol",
    window_ms: float = 20.0,
    polyorder: int = 2,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gaze velocity from positions in degrees.

    Parameters
    ----------
    x_deg, y_deg : ndarray, shape (n,)
        Gaze in degrees of visual angle (see :meth:`gazelab.geometry.Geometry.px_to_deg`).
    sampling_rate_hz : float
        Sampling rate in Hz.
    segments, method, window_ms, polyorder
        As for :func:`derivative`.

    Returns
    -------
    vx, vy, speed : ndarray, shape (n,)
        Horizontal and vertical velocity and their magnitude, in deg/s.

    Examples
    --------
    >>> t = np.arange(100) / 500.0
    >>> vx, vy, v = velocity_deg_s(10 * t, 0 * t, 500.0)
    >>> round(float(np.nanmedian(v)), 6)
    10.0
    """
    kw = dict(segments=segments, method=method, window_ms=window_ms, polyorder=polyorder)
    vx = derivative(x_deg, sampling_rate_hz, **kw)  # type: ignore[arg-type]
    vy = derivative(y_deg, sampling_rate_hz, **kw)  # type: ignore[arg-type]
    return vx, vy, np.hypot(vx, vy)
