"""One eye's gaze prepared for event detection: degrees, validity and segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing.cleaning import blink_mask, interpolate_gaps, missing_mask
from gazelab.preprocessing.recording import Recording, eye_name

__all__ = ["EyeSignal", "prepare_signal"]


@dataclass
class EyeSignal:
    """Arrays of one eye, aligned sample by sample.

    Attributes
    ----------
    eye : {'L', 'R'}
    time_ms : ndarray
        Sample times in ms (recording clock).
    x_px, y_px : ndarray
        Gaze in screen px; NaN where missing or discarded as blink.
    x_deg, y_deg : ndarray
        The same in degrees from the screen centre.
    segment : ndarray of int
        Contiguous-recording id (the block); nothing is detected across a change.
    trial : pandas IntegerArray
        Trial number per sample (``<NA>`` outside trials).
    sampling_rate_hz : float
    geometry : Geometry
    tracker_events : pandas.DataFrame
        The tracker's own events for this eye (may be empty).
    """

    eye: str
    time_ms: NDArray[np.float64]
    x_px: NDArray[np.float64]
    y_px: NDArray[np.float64]
    x_deg: NDArray[np.float64]
    y_deg: NDArray[np.float64]
    segment: NDArray[np.int64]
    trial: pd.arrays.IntegerArray
    sampling_rate_hz: float
    geometry: Geometry
    tracker_events: pd.DataFrame

    @property
    def valid(self) -> NDArray[np.bool_]:
        """True where the sample has gaze."""
        return ~(np.isnan(self.x_px) | np.isnan(self.y_px))

    @property
    def period_ms(self) -> float:
        """Sample period in ms."""
        return 1000.0 / self.sampling_rate_hz


def prepare_signal(
    recording: Recording,
    eye: str,
    geometry: Geometry,
    *,
    blink_margin_ms: float = 0.0,
    interpolate_max_gap_ms: float | None = None,
) -> EyeSignal:
    """Extract one eye's samples, drop blinks and optionally fill short gaps.

    Parameters
    ----------
    recording : Recording
        The recording.
    eye : {'L', 'R'}
        Which eye.
    geometry : Geometry
        Screen geometry for the px -> deg conversion.
    blink_margin_ms : float, optional
        Samples within this many ms of a blink (tracker event or run of missing samples) are
        discarded (default 0).
    interpolate_max_gap_ms : float or None, optional
        Fill gaps up to this long (ms) by linear interpolation (see
        :func:`gazelab.preprocessing.cleaning.interpolate_gaps`); None (default) fills nothing.

    Returns
    -------
    EyeSignal
    """
    key = str(eye).upper()[:1]
    if key not in recording.eyes:
        raise ParameterError("eye", eye, f"one of the recorded eyes {list(recording.eyes)}")
    name = eye_name(key)
    s = recording.samples
    t = s["time_ms"].to_numpy(dtype=float)
    x = s[f"x_{name}_px"].to_numpy(dtype=float).copy()
    y = s[f"y_{name}_px"].to_numpy(dtype=float).copy()
    seg = s["block"].to_numpy().astype(np.int64)
    ev = recording.events
    if len(ev):
        ev = ev[ev["eye"] == key].reset_index(drop=True)
    x, y = _drop_blinks(t, x, y, seg, ev, blink_margin_ms, interpolate_max_gap_ms)
    rates = recording.blocks.set_index("block")["sampling_rate_hz"]
    present = seg[np.r_[0, np.flatnonzero(seg[1:] != seg[:-1]) + 1]] if len(seg) else seg
    rate = float(rates.loc[present].mode().iloc[0]) if len(seg) else recording.sampling_rate_hz
    x_deg, y_deg = geometry.px_to_deg(x, y)
    return EyeSignal(
        eye=key,
        time_ms=t,
        x_px=x,
        y_px=y,
        x_deg=x_deg,
        y_deg=y_deg,
        segment=seg,
        trial=s["trial"].array,
        sampling_rate_hz=rate,
        geometry=geometry,
        tracker_events=ev,
    )


def _drop_blinks(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    seg: np.ndarray,
    events: pd.DataFrame,
    margin_ms: float,
    max_gap_ms: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Set missing the samples of blinks (with their margin, ms) and fill gaps up to ``max_gap_ms`` (not blinks).

    ``x`` and ``y`` (px) are changed in place where no gap is filled; the cleaned pair is returned.
    """
    miss = missing_mask(x, y)
    blinks = events[events["type"] == "blink"] if len(events) else events
    onsets = blinks["onset_ms"].to_numpy() if len(blinks) else None
    offsets = blinks["offset_ms"].to_numpy() if len(blinks) else None
    drop = miss
    if margin_ms > 0 or len(blinks):
        drop = blink_mask(t, miss, blink_onsets_ms=onsets, blink_offsets_ms=offsets, margin_ms=margin_ms)
    if max_gap_ms is not None:
        blink_events = blink_mask(
            t, np.zeros_like(miss), blink_onsets_ms=onsets, blink_offsets_ms=offsets, margin_ms=margin_ms
        )
        x = interpolate_gaps(t, x, max_gap_ms=max_gap_ms, segments=seg, keep_missing=blink_events)
        y = interpolate_gaps(t, y, max_gap_ms=max_gap_ms, segments=seg, keep_missing=blink_events)
        drop = drop & (np.isnan(x) | np.isnan(y) | blink_events)
    x[drop] = np.nan
    y[drop] = np.nan
    return x, y
