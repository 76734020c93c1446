"""The tracker's own fixations (EyeLink ``EFIX`` lines) as a fixation table.

Onset, offset and duration are the tracker's; ``x_px``/``y_px`` are the tracker's average gaze
position; dispersion and sample counts are computed from the samples the event spans.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gazelab.preprocessing.detection._registry import register_detector
from gazelab.preprocessing.detection._signal import EyeSignal
from gazelab.preprocessing.detection._table import empty_fixation_table, fixation_table

__all__ = ["tracker_fixations"]


@register_detector("eyelink")
def tracker_fixations(signal: EyeSignal) -> pd.DataFrame:
    """Fixations as reported by the tracker itself.

    Parameters
    ----------
    signal : EyeSignal
        One eye's prepared samples, carrying the tracker's events.

    Returns
    -------
    pandas.DataFrame
        Fixation table; empty when the recording has no tracker fixation events.
    """
    ev = signal.tracker_events
    if len(ev) == 0 or len(signal.time_ms) == 0:
        return empty_fixation_table()
    fx = ev[ev["type"] == "fixation"]
    t = signal.time_ms
    s = np.searchsorted(t, fx["onset_ms"].to_numpy(), side="left")
    e = np.searchsorted(t, fx["offset_ms"].to_numpy(), side="right") - 1
    ok = (s < len(t)) & (e >= s)
    runs = np.stack([s[ok], e[ok]], axis=1)
    table = fixation_table(signal, runs, "eyelink", x_px=fx["x_px"].to_numpy()[ok], y_px=fx["y_px"].to_numpy()[ok])
    # report the tracker's own times (equal to the sample times except in rebuilt 2 kHz files)
    table["onset_ms"] = fx["onset_ms"].to_numpy()[ok]
    table["offset_ms"] = fx["offset_ms"].to_numpy()[ok]
    table["duration_ms"] = fx["duration_ms"].to_numpy()[ok]
    return table
