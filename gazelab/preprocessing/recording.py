"""The :class:`Recording`: what every reader returns and every detector takes.

Tables and their columns
------------------------
All times are ms on the recording's own clock (for EyeLink files the tracker clock, so they
compare directly with the file's lines). Screen coordinates are px with the origin at the top
left. Missing values are NaN (numbers) or ``<NA>`` (nullable integers, strings).

``samples`` (one row per sample, both eyes side by side)
    ``time_ms`` (float64; exact sample time, see :func:`gazelab.preprocessing.read_asc` for
    2 kHz files), ``block`` (int32, 0-based recording block, i.e. START..END in an EyeLink file),
    ``trial`` (Int64, 1-based, ``<NA>`` outside trials), then per recorded eye ``e`` in
    ``{left, right}``: ``x_{e}_px``, ``y_{e}_px`` (gaze, screen px), ``pupil_{e}`` (tracker units,
    area or diameter as ``metadata['pupil']`` says); optionally ``xvel_{e}_deg_s``,
    ``yvel_{e}_deg_s`` (the tracker's own velocity, deg/s), ``xres_px_per_deg``,
    ``yres_px_per_deg`` (the tracker's angular resolution at the gaze point), ``input`` (digital
    input port), ``target_x``, ``target_y`` (remote-mode target sticker position, camera units),
    ``target_distance_mm``, ``flags`` (the tracker's per-sample status characters).

``events`` (the tracker's own events, one row per completed event)
    ``type`` (``fixation``, ``saccade``, ``blink``), ``eye`` (``L``/``R``), ``onset_ms``,
    ``offset_ms`` (time of the event's first and last sample), ``duration_ms`` (as the tracker
    reports it: ``offset - onset`` plus one sample period), ``x_px``, ``y_px``, ``pupil``
    (fixations: mean position and pupil), ``x_start_px``, ``y_start_px``, ``x_end_px``,
    ``y_end_px``, ``amplitude_deg``, ``peak_velocity_deg_s`` (saccades), ``xres_px_per_deg``,
    ``yres_px_per_deg`` (when the file has them), ``block``, ``trial``, ``line`` (1-based line).

``messages``
    ``time_ms`` (event time: the logged time minus the message's offset), ``offset_ms`` (0 when
    the line has none), ``text``, ``block`` (Int64, the recording block it falls in or ``<NA>``),
    ``trial``, ``line``.

``trials``
    ``trial`` (1-based), ``trial_id`` (text after ``TRIALID``), ``onset_ms``, ``offset_ms``
    (``TRIAL_RESULT`` time, or the next ``TRIALID``, or the end of the last block), ``result``
    (text after ``TRIAL_RESULT``), ``image`` and ``image_position``, ``image_x_px``,
    ``image_y_px``, ``image_width_px``, ``image_height_px`` (from ``!V IMGLOAD``), then one column
    per ``!V TRIAL_VAR`` name (prefixed ``var_`` only if it clashes with a column above).

``blocks``
    ``block``, ``onset_ms``, ``offset_ms``, ``sampling_rate_hz``, ``eyes``, ``n_samples``,
    ``line`` (of the START line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gazelab.acquisition.session import EYE_NAMES, TRACKER_EVENT_COLUMNS
from gazelab.errors import ParameterError

__all__ = ["EYES", "Recording", "eye_name"]

#: The two eyes, as named in tables (``eye`` column) and in sample column names.
EYES = EYE_NAMES


def eye_name(eye: str) -> str:
    """Return ``'left'``/``'right'`` for ``'L'``/``'R'`` (case-insensitive, full names accepted)."""
    key = str(eye).strip().upper()[:1]
    if key not in EYES:
        raise ParameterError("eye", eye, "'L' (left) or 'R' (right)")
    return EYES[key]


#: Columns of the ``events`` table, in order (see the module documentation).
EVENT_COLUMNS = [
    *TRACKER_EVENT_COLUMNS,
    "amplitude_deg",
    "peak_velocity_deg_s",
    "xres_px_per_deg",
    "yres_px_per_deg",
    "line",
]


def events_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The events table from rows in the order of :data:`EVENT_COLUMNS` (no rows: an empty table)."""
    df = pd.DataFrame.from_records(rows, columns=EVENT_COLUMNS)
    for c in EVENT_COLUMNS[2:-1]:
        df[c] = df[c].astype(float)
    df["line"] = df["line"].astype(np.int64)
    df["type"] = df["type"].astype("string")
    df["eye"] = df["eye"].astype("string")
    return df


@dataclass
class Recording:
    """Raw gaze data of one recording session, as tidy tables.

    Parameters
    ----------
    samples, events, messages, trials, blocks : pandas.DataFrame
        See the module documentation for the columns.
    sampling_rate_hz : float
        Sampling rate in Hz (the most common one when blocks differ; see ``blocks``).
    eyes : tuple of str
        Recorded eyes, a subset of ``('L', 'R')`` in that order.
    screen_px : (int, int) or None
        Screen ``(width, height)`` in px as the file states it, or None when it does not.
    source : str
        Where the data came from (a path).
    format : str
        Reader name, e.g. ``'eyelink-asc'``.
    metadata : dict
        Anything else the file states (header lines, pupil type, tracker model, notes).
    """

    samples: pd.DataFrame
    events: pd.DataFrame
    messages: pd.DataFrame
    trials: pd.DataFrame
    blocks: pd.DataFrame
    sampling_rate_hz: float
    eyes: tuple[str, ...]
    screen_px: tuple[int, int] | None
    source: str = ""
    format: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``samples``)."""
        return len(self.samples)

    @property
    def duration_ms(self) -> float:
        """Total recorded time in ms (sum over blocks of ``n_samples / rate``)."""
        if len(self.blocks) == 0:
            return 0.0
        return float((self.blocks["n_samples"] * 1000.0 / self.blocks["sampling_rate_hz"]).sum())

    def eye_samples(self, eye: str) -> pd.DataFrame:
        """Samples of one eye as a narrow table.

        Parameters
        ----------
        eye : {'L', 'R'}
            The eye.

        Returns
        -------
        pandas.DataFrame
            Columns ``time_ms``, ``block``, ``trial``, ``x_px``, ``y_px``, ``pupil``.

        Raises
        ------
        ParameterError
            If the eye was not recorded.
        """
        name = eye_name(eye)
        if eye.upper()[:1] not in self.eyes:
            raise ParameterError("eye", eye, f"one of the recorded eyes {list(self.eyes)}")
        s = self.samples
        return pd.DataFrame(
            {
                "time_ms": s["time_ms"].to_numpy(),
                "block": s["block"].to_numpy(),
                "trial": s["trial"].array,
                "x_px": s[f"x_{name}_px"].to_numpy(),
                "y_px": s[f"y_{name}_px"].to_numpy(),
                "pupil": s[f"pupil_{name}"].to_numpy(),
            }
        )

    def summary(self) -> dict[str, Any]:
        """A few headline numbers, for printing."""
        missing = {}
        for eye in self.eyes:
            x = self.samples[f"x_{eye_name(eye)}_px"].to_numpy()
            missing[eye] = float(np.isnan(x).mean()) if len(x) else float("nan")
        counts = self.events["type"].value_counts() if len(self.events) else pd.Series(dtype=int)
        return {
            "source": self.source,
            "format": self.format,
            "sampling_rate_hz": self.sampling_rate_hz,
            "eyes": "".join(self.eyes),
            "screen_px": self.screen_px,
            "blocks": len(self.blocks),
            "trials": len(self.trials),
            "samples": self.n_samples,
            "duration_s": round(self.duration_ms / 1000.0, 3),
            "missing_fraction": missing,
            "tracker_events": {str(k): int(v) for k, v in counts.items()},
            "messages": len(self.messages),
        }
