"""Generic reader for other trackers' sample exports (CSV / TSV) with a column mapping.

A mapping names, for each gazelab column, the file's column: at least ``time`` and, per eye,
``x_left``/``y_left`` and/or ``x_right``/``y_right`` (``pupil_*`` optional), or ``x``/``y`` for a
single eye (then ``eye`` says which). Units are converted on reading: time in ``s``, ``ms``
or ``us``; gaze in screen ``px`` or ``normalized`` (0..1 of the screen, then ``screen_px`` is
required).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import TRIAL_COLUMNS, assign_trials
from gazelab.preprocessing.recording import EYES, Recording, events_frame

__all__ = ["read_tabular"]

_TIME_SCALE = {"s": 1000.0, "ms": 1.0, "us": 1e-3}
_DEFAULT_COLUMNS = {"time": "time_ms", "x": "x_px", "y": "y_px"}


@register_reader("tabular", suffixes=(".csv", ".tsv", ".csv.gz", ".tsv.gz"))
def read_tabular(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    time_unit: Literal["s", "ms", "us"] = "ms",
    gaze_unit: Literal["px", "normalized"] = "px",
    eye: Literal["L", "R"] = "L",
    screen_px: tuple[int, int] | None = None,
    sampling_rate_hz: float | None = None,
    sep: str | None = None,
    missing_values: tuple[str, ...] = ("", "NA", "NaN", "nan", "."),
) -> Recording:
    """Read gaze samples from a delimited text table.

    Parameters
    ----------
    path : str or Path
        CSV (``,``) or TSV (tab) file, optionally gzip-compressed.
    columns : mapping, optional
        gazelab name -> column name in the file. Names: ``time``; ``x``, ``y``, ``pupil``
        (one eye, see ``eye``) or ``x_left``, ``y_left``, ``pupil_left``, ``x_right``,
        ``y_right``, ``pupil_right``; optional ``trial``. Default
        ``{'time': 'time_ms', 'x': 'x_px', 'y': 'y_px'}``.
    time_unit : {'s', 'ms', 'us'}, optional
        Unit of the time column (default ms).
    gaze_unit : {'px', 'normalized'}, optional
        Unit of the gaze columns: screen px (default) or fractions of the screen (0..1).
    eye : {'L', 'R'}, optional
        Which eye single-eye columns ``x``/``y`` belong to (default L).
    screen_px : (int, int), optional
        Screen ``(width, height)`` in px; required for normalized gaze.
    sampling_rate_hz : float, optional
        Sampling rate in Hz; default: estimated as ``1000 / median(diff(time_ms))``.
    sep : str, optional
        Field separator; default from the suffix (tab for ``.tsv``, comma otherwise).
    missing_values : tuple of str, optional
        Cell texts read as missing.

    Returns
    -------
    Recording
        One block; trials from the ``trial`` column when mapped, else none.

    Raises
    ------
    ParameterError
        For a bad unit or a mapping without time or gaze columns.
    ParseError
        For a missing column, a non-numeric cell (naming its line) or non-increasing time.
    """
    path = Path(path)
    if time_unit not in _TIME_SCALE:
        raise ParameterError("time_unit", time_unit, f"one of {sorted(_TIME_SCALE)}")
    if gaze_unit not in ("px", "normalized"):
        raise ParameterError("gaze_unit", gaze_unit, "'px' or 'normalized'")
    if gaze_unit == "normalized" and screen_px is None:
        raise ParameterError("screen_px", screen_px, "(width, height) in px for normalized gaze")
    mapping = dict(columns or _DEFAULT_COLUMNS)
    if "time" not in mapping:
        raise ParameterError("columns", mapping, "a mapping with a 'time' entry")
    if "x" in mapping or "y" in mapping:
        name = EYES[eye.upper()[:1]] if eye.upper()[:1] in EYES else None
        if name is None:
            raise ParameterError("eye", eye, "'L' or 'R'")
        for k in ("x", "y", "pupil"):
            if k in mapping:
                mapping[f"{k}_{name}"] = mapping.pop(k)
    eyes = tuple(e for e, n in EYES.items() if f"x_{n}" in mapping and f"y_{n}" in mapping)
    if not eyes:
        raise ParameterError("columns", mapping, "x and y columns for at least one eye")
    if not path.is_file():
        raise ParseError(path, "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file")
    if sep is None:
        sep = "\t" if ".tsv" in path.name.lower() else ","
    try:
        raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        hint = " (a UTF-16 file: re-save it as UTF-8)" if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ParseError(path, f"byte 0x{exc.object[exc.start]:02x} is not UTF-8; expected UTF-8 text{hint}") from None
    except (pd.errors.ParserError, EOFError, OSError) as exc:
        raise ParseError(path, f"cannot parse as a {'TSV' if sep == chr(9) else 'CSV'} table: {exc}") from None
    missing_cols = [c for c in mapping.values() if c not in raw.columns]
    if missing_cols:
        raise ParseError(path, f"no column(s) {missing_cols}; the file has {list(raw.columns)}", 1)

    def numeric(key: str) -> np.ndarray:
        col = raw[mapping[key]]
        vals = col.where(~col.str.strip().isin(missing_values), None)
        out = pd.to_numeric(vals, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(out) & vals.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParseError(
                path, f"non-numeric value {col.iloc[i]!r} in column {mapping[key]!r}; expected a number", i + 2
            )
        return out

    t = numeric("time") * _TIME_SCALE[time_unit]
    if len(t) == 0:
        raise ParseError(path, "no samples: the table has no rows")
    if np.isnan(t).any():
        raise ParseError(path, "missing time value", int(np.flatnonzero(np.isnan(t))[0]) + 2)
    dt = np.diff(t)
    if (dt < 0).any():
        raise ParseError(path, "time goes backwards; expected non-decreasing times", int(np.flatnonzero(dt < 0)[0]) + 3)
    if sampling_rate_hz is None:
        pos = dt[dt > 0]
        if len(pos) == 0:
            raise ParseError(path, "cannot estimate the sampling rate; pass sampling_rate_hz")
        sampling_rate_hz = 1000.0 / float(np.median(pos))
    samples = pd.DataFrame({"time_ms": t, "block": np.zeros(len(t), np.int32)})
    for e in eyes:
        n = EYES[e]
        x, y = numeric(f"x_{n}"), numeric(f"y_{n}")
        if gaze_unit == "normalized":
            assert screen_px is not None
            x, y = x * screen_px[0], y * screen_px[1]
        samples[f"x_{n}_px"] = x
        samples[f"y_{n}_px"] = y
        samples[f"pupil_{n}"] = numeric(f"pupil_{n}") if f"pupil_{n}" in mapping else np.nan
    if "trial" in mapping:
        tr = numeric("trial")
        ids = pd.unique(tr[~np.isnan(tr)])
        rows = []
        for k, tid in enumerate(ids, start=1):
            sel = t[tr == tid]
            rows.append(
                {
                    "trial": k,
                    "trial_id": str(int(tid)) if float(tid).is_integer() else str(tid),
                    "onset_ms": sel.min(),
                    "offset_ms": sel.max(),
                }
            )
        trials = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
        for c in ("trial_id", "result", "image", "image_position"):
            trials[c] = trials[c].astype("string")
        trials["trial"] = trials["trial"].astype(np.int64)
    else:
        trials = pd.DataFrame({c: pd.Series(dtype=float) for c in TRIAL_COLUMNS})
        trials["trial"] = trials["trial"].astype(np.int64)
    samples.insert(2, "trial", assign_trials(t, trials))
    blocks = pd.DataFrame(
        {
            "block": [0],
            "onset_ms": [t[0]],
            "offset_ms": [t[-1]],
            "sampling_rate_hz": [sampling_rate_hz],
            "eyes": ["".join(eyes)],
            "n_samples": [len(t)],
            "line": [2],
        }
    )
    messages = pd.DataFrame(
        {"time_ms": pd.Series(dtype=float), "offset_ms": pd.Series(dtype=float), "text": pd.Series(dtype="string")}
    )
    return Recording(
        samples=samples,
        events=events_frame([]),
        messages=messages,
        trials=trials,
        blocks=blocks,
        sampling_rate_hz=float(sampling_rate_hz),
        eyes=eyes,
        screen_px=tuple(screen_px) if screen_px else None,  # type: ignore[arg-type]
        source=str(path),
        format="tabular",
        metadata={"columns": mapping, "time_unit": time_unit, "gaze_unit": gaze_unit},
    )
