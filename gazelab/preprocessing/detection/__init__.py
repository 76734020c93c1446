"""Fixation detection: one module per algorithm, all returning the same fixation table.

Registered algorithms: ``ivt`` (velocity threshold), ``idt`` (dispersion threshold), ``ek``
(Engbert & Kliegl adaptive saccade detection), ``eyelink`` (the tracker's own EFIX events).
Adding one is a new module with a function decorated ``@register_detector("name")`` and an import
line below.
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing.detection import engbert_kliegl, idt, ivt, tracker_events  # noqa: F401
from gazelab.preprocessing.detection._registry import available_detectors, get_detector, register_detector
from gazelab.preprocessing.detection._signal import EyeSignal, prepare_signal
from gazelab.preprocessing.detection._table import FIXATION_COLUMNS, empty_fixation_table, fixation_table
from gazelab.preprocessing.detection.agreement import agreement, match_fixations
from gazelab.preprocessing.recording import Recording

__all__ = [
    "FIXATION_COLUMNS",
    "EyeSignal",
    "agreement",
    "available_detectors",
    "detect_fixations",
    "empty_fixation_table",
    "fixation_table",
    "match_fixations",
    "prepare_signal",
    "register_detector",
]


def detect_fixations(
    recording: Recording,
    geometry: Geometry,
    *,
    algorithm: str = "ivt",
    eyes: str | tuple[str, ...] | None = None,
    blink_margin_ms: float = 0.0,
    interpolate_max_gap_ms: float | None = None,
    progress: bool | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Detect fixations in a recording, per eye.

    Parameters
    ----------
    recording : Recording
        The recording (from :func:`gazelab.preprocessing.read` or a reader).
    geometry : Geometry
        Screen geometry (px, cm, viewing distance) for degrees.
    algorithm : {'ivt', 'idt', 'ek', 'eyelink'}, optional
        Detector (default 'ivt'); see :func:`available_detectors`.
    eyes : str or tuple of str, optional
        Eyes to process (``'L'``, ``'R'``, ``'LR'``); default all recorded eyes.
    blink_margin_ms : float, optional
        Discard samples this close to a blink, ms (default 0).
    interpolate_max_gap_ms : float or None, optional
        Fill gaps up to this long before detection, ms (default None: no filling).
    progress : bool or None, optional
        Progress bar over eyes; None shows it on a terminal for over 200,000 samples (all eyes).
    **params
        The algorithm's own parameters (see its module), e.g. ``velocity_threshold_deg_s``.

    Returns
    -------
    pandas.DataFrame
        Fixation table with :data:`FIXATION_COLUMNS`, sorted by eye then onset.

    Raises
    ------
    ParameterError
        For an unknown algorithm, eye or parameter.
    """
    func = get_detector(algorithm)
    chosen = tuple(recording.eyes) if eyes is None else tuple(str(e).upper() for e in "".join(eyes))
    for e in chosen:
        if e not in recording.eyes:
            raise ParameterError("eyes", eyes, f"recorded eyes among {list(recording.eyes)}")
    show = (recording.n_samples * len(chosen) > 200_000 and sys.stderr.isatty()) if progress is None else progress
    tables = []
    for eye in tqdm(chosen, desc=f"{algorithm} fixations", unit="eye", disable=not show, leave=False):
        sig = prepare_signal(
            recording, eye, geometry, blink_margin_ms=blink_margin_ms, interpolate_max_gap_ms=interpolate_max_gap_ms
        )
        try:
            tables.append(func(sig, **params))
        except TypeError as exc:
            if "unexpected keyword" in str(exc):
                raise ParameterError(
                    "params", sorted(params), f"parameters of the {algorithm!r} detector ({exc})"
                ) from None
            raise
    if not tables:
        return empty_fixation_table()
    return pd.concat(tables, ignore_index=True)
