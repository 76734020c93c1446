"""Reader for PsychoPy ioHub's HDF5 data store (``events.hdf5``, the file ioHub writes per session).

The layout, as PsychoPy's ``psychopy/iohub/datastore`` creates it with PyTables (read here with
h5py; every table is a compound dataset, one row per event)::

    /data_collection/events/eyetracker/BinocularEyeSampleEvent   left_/right_gaze_x, _gaze_y, _pupil_measure1, ...
    /data_collection/events/eyetracker/MonocularEyeSampleEvent   eye, gaze_x, gaze_y, pupil_measure1, ...
    /data_collection/events/eyetracker/FixationEndEvent          eye, duration, average_gaze_x, average_gaze_y, ...
    /data_collection/events/eyetracker/SaccadeEndEvent           eye, duration, start_gaze_x, ..., end_gaze_y, ...
    /data_collection/events/eyetracker/BlinkEndEvent             eye, duration
    /data_collection/events/experiment/MessageEvent              msg_offset, category, text

Every row also has ioHub's common event fields; ``time`` (s, ioHub's clock, the one messages
use) is the time used here, in ms. An end event's ``time`` is its end; its start is
``time - duration``. Gaze is in the display's coordinate units as ioHub was configured; for
``pix`` (the default) that is px from the screen CENTRE with y UP, converted here to px from
the top left (``screen_px`` required). Eye codes are ioHub's ``EyeTrackerConstants``
(21 left, 22 right). Missing gaze is NaN (or the tracker's own missing value, which
``missing_value`` names). Written against PsychoPy's source (``iohub/datastore/__init__.py``,
``iohub/devices/eyetracker/eye_events.py``); no real ioHub file was available to test against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import recording_with_trials, single_block
from gazelab.preprocessing.recording import EYES, Recording, events_frame

__all__ = ["read_iohub"]

_EYE_CODES = {21: "L", 22: "R"}
_ROOT = "data_collection/events"


def _table(f: Any, name: str) -> np.ndarray | None:
    path = f"{_ROOT}/{name}"
    return f[path][()] if path in f else None


def _to_screen(x: np.ndarray, y: np.ndarray, screen_px: tuple[int, int], missing: float | None) -> tuple:
    """Centre-origin, y-up px -> top-left-origin, y-down px; missing values -> NaN."""
    x, y = x.astype(float), y.astype(float)
    if missing is not None:
        lost = (x == missing) | (y == missing)
        x[lost], y[lost] = np.nan, np.nan
    return x + screen_px[0] / 2.0, screen_px[1] / 2.0 - y


def _samples(
    f: Any, path: Path, screen_px: tuple[int, int], missing: float | None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    bino = _table(f, "eyetracker/BinocularEyeSampleEvent")
    mono = _table(f, "eyetracker/MonocularEyeSampleEvent")
    if bino is not None and len(bino):
        cols: dict[str, Any] = {"time_ms": bino["time"] * 1000.0}
        for n in EYES.values():
            cols[f"x_{n}_px"], cols[f"y_{n}_px"] = _to_screen(
                bino[f"{n}_gaze_x"], bino[f"{n}_gaze_y"], screen_px, missing
            )
            cols[f"pupil_{n}"] = bino[f"{n}_pupil_measure1"].astype(float)
        return pd.DataFrame(cols), ("L", "R")
    if mono is not None and len(mono):
        codes = sorted({int(c) for c in mono["eye"]})
        eye = _EYE_CODES.get(codes[0], "L") if len(codes) == 1 else "L"
        n = EYES[eye]
        x, y = _to_screen(mono["gaze_x"], mono["gaze_y"], screen_px, missing)
        frame = {
            "time_ms": mono["time"] * 1000.0,
            f"x_{n}_px": x,
            f"y_{n}_px": y,
            f"pupil_{n}": mono["pupil_measure1"].astype(float),
        }
        return pd.DataFrame(frame), (eye,)
    raise ParseError(
        path, f"no eye samples: neither {_ROOT}/eyetracker/BinocularEyeSampleEvent nor MonocularEyeSampleEvent has rows"
    )


def _events(f: Any, screen_px: tuple[int, int], eyes: tuple[str, ...], missing: float | None) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    nan = np.nan
    for name, kind in (("FixationEndEvent", "fixation"), ("SaccadeEndEvent", "saccade"), ("BlinkEndEvent", "blink")):
        table = _table(f, f"eyetracker/{name}")
        if table is None:
            continue
        for r in table:
            eye = _EYE_CODES.get(int(r["eye"]), eyes[0])
            end, dur = float(r["time"]) * 1000.0, float(r["duration"]) * 1000.0
            x = y = x0 = y0 = x1 = y1 = nan
            if kind == "fixation":
                x, y = (
                    float(v[0])
                    for v in _to_screen(
                        np.array([r["average_gaze_x"]]), np.array([r["average_gaze_y"]]), screen_px, missing
                    )
                )
            if kind == "saccade":
                x0, y0 = (
                    float(v[0])
                    for v in _to_screen(
                        np.array([r["start_gaze_x"]]), np.array([r["start_gaze_y"]]), screen_px, missing
                    )
                )
                x1, y1 = (
                    float(v[0])
                    for v in _to_screen(np.array([r["end_gaze_x"]]), np.array([r["end_gaze_y"]]), screen_px, missing)
                )
            rows.append((kind, eye, end - dur, end, dur, x, y, nan, x0, y0, x1, y1, nan, nan, nan, nan, 0))
    events = events_frame(rows)
    return events.sort_values("onset_ms", kind="stable").reset_index(drop=True) if len(events) else events


def _messages(f: Any) -> pd.DataFrame:
    table = _table(f, "experiment/MessageEvent")
    if table is None or len(table) == 0:
        return pd.DataFrame(
            {"time_ms": pd.Series(dtype=float), "offset_ms": pd.Series(dtype=float), "text": pd.Series(dtype="string")}
        )
    offset = table["msg_offset"].astype(float) * 1000.0 if "msg_offset" in table.dtype.names else np.zeros(len(table))
    text = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in table["text"]]
    return (
        pd.DataFrame(
            {
                "time_ms": table["time"].astype(float) * 1000.0 - offset,
                "offset_ms": offset,
                "text": pd.array(text, dtype="string"),
                "line": np.arange(len(table), dtype=np.int64),
            }
        )
        .sort_values("time_ms", kind="stable")
        .reset_index(drop=True)
    )


@register_reader("iohub", suffixes=(".hdf5",))
def read_iohub(
    path: str | Path,
    *,
    screen_px: tuple[int, int] | None = None,
    missing_value: float | None = None,
) -> Recording:
    """Read samples, messages and the tracker's events from a PsychoPy ioHub HDF5 file.

    Parameters
    ----------
    path : str or Path
        The ioHub data store (``.hdf5``).
    screen_px : (int, int)
        Screen ``(width, height)`` in px: ioHub stores gaze from the screen centre (y up), this
        reader returns it from the top left (y down). Required.
    missing_value : float, optional
        The value the tracker wrote for a lost eye (besides NaN), e.g. 0 for some backends.

    Returns
    -------
    Recording
        Time in ms on ioHub's clock; trials from TRIALID / TRIAL_RESULT messages when present;
        ``metadata['experiment']`` and ``['session']`` from the file's metadata tables.

    Raises
    ------
    ParameterError
        Without ``screen_px``.
    ParseError
        For a file that is not an ioHub data store or has no eye samples.
    """
    import h5py

    path = Path(path)
    if screen_px is None:
        raise ParameterError("screen_px", None, "(width, height) in px: ioHub stores gaze from the screen centre")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"not an HDF5 file ({exc})") from None
    with f:
        if _ROOT not in f:
            raise ParseError(path, f"not a PsychoPy ioHub data store: no /{_ROOT} group")
        samples, eyes = _samples(f, path, screen_px, missing_value)
        events = _events(f, screen_px, eyes, missing_value)
        messages = _messages(f)
        meta = _metadata(f)
    return _assemble(path, samples, eyes, events, messages, meta, screen_px)


def _metadata(f: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in (("experiment", "experiment_meta_data"), ("session", "session_meta_data")):
        node = f"data_collection/{name}"
        if node in f and len(f[node]):
            row = f[node][0]
            out[key] = {
                n: (row[n].decode("utf-8", "replace") if isinstance(row[n], bytes) else row[n].item())
                for n in row.dtype.names
            }
    return out


def _assemble(
    path: Path,
    samples: pd.DataFrame,
    eyes: tuple[str, ...],
    events: pd.DataFrame,
    messages: pd.DataFrame,
    meta: dict[str, Any],
    screen_px: tuple[int, int],
) -> Recording:
    samples = samples.sort_values("time_ms", kind="stable").reset_index(drop=True)
    t = samples["time_ms"].to_numpy(float)
    period = np.median(np.diff(t)) if len(t) > 1 else np.nan
    rate = 1000.0 / float(period) if period > 0 else np.nan
    samples.insert(1, "block", np.zeros(len(t), np.int32))
    if "line" not in messages:
        messages["line"] = np.arange(len(messages), dtype=np.int64)
    messages["block"] = pd.array([pd.NA] * len(messages), dtype="Int64")
    return recording_with_trials(
        samples,
        events,
        messages,
        single_block(t, rate, "".join(eyes), 0),
        end_ms=float(t[-1]),
        label_events=False,
        sampling_rate_hz=rate,
        eyes=eyes,
        screen_px=tuple(screen_px),
        source=str(path),
        format="iohub",
        metadata=meta,
    )
