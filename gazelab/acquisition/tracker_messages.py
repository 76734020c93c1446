"""The tracker's own calibration records in a recording's messages: validations and drift checks.

EyeLink writes the result of each validation and drift check as a message, and gazelab's
session runner writes its own in the same format, so one parser serves ASC files, EDF files and
session folders. The formats (as an EyeLink 1000 writes them)::

    !CAL VALIDATION HV9 LR LEFT  GOOD ERROR 0.41 avg. 0.64 max  OFFSET 0.35 deg. 12.5,9.6 pix.
    DRIFTCORRECT LR RIGHT at 960,540  OFFSET 0.39 deg.  0.7,-17.2 pix.

A drift check whose offset was not measured is written (by gazelab only) as
``DRIFTCORRECT R RIGHT at 960,540  OFFSET not measured``; it parses with NaN offsets.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "DRIFT_COLUMNS",
    "VALIDATION_COLUMNS",
    "drift_checks",
    "format_drift_line",
    "format_validation_line",
    "result_in_text",
    "validations",
]

#: Columns of :func:`validations`' table.
VALIDATION_COLUMNS = [
    "time_ms",
    "eye",
    "calibration_type",
    "grade",
    "mean_error_deg",
    "max_error_deg",
    "offset_deg",
    "offset_x_px",
    "offset_y_px",
    "line",
]

#: Columns of :func:`drift_checks`' table.
DRIFT_COLUMNS = ["time_ms", "eye", "target_x_px", "target_y_px", "offset_deg", "offset_x_px", "offset_y_px", "line"]

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_VALIDATION = re.compile(
    rf"^!CAL\s+VALIDATION\s+(?P<type>\S+)\s+(?:LR|L|R)\s+(?P<eye>LEFT|RIGHT)\s+(?P<grade>\w+)\s+"
    rf"ERROR\s+(?P<mean>{_NUM})\s+avg\.\s+(?P<max>{_NUM})\s+max"
    rf"(?:\s+OFFSET\s+(?P<off>{_NUM})\s+deg\.\s+(?P<ox>{_NUM}),\s*(?P<oy>{_NUM})\s+pix\.)?"
)
_DRIFT = re.compile(
    rf"^DRIFTCORRECT\s+(?:LR|L|R)\s+(?P<eye>LEFT|RIGHT)\s+at\s+(?P<tx>{_NUM}),\s*(?P<ty>{_NUM})\s+OFFSET\s+"
    rf"(?:(?P<off>{_NUM})\s+deg\.\s+(?P<ox>{_NUM}),\s*(?P<oy>{_NUM})\s+pix\.|not\s+measured)"
)


def _eye_letter(word: str) -> str:
    return "L" if word == "LEFT" else "R"


def _matches(messages: pd.DataFrame, pattern: re.Pattern[str]) -> list[tuple[pd.Series, re.Match[str]]]:
    if messages is None or len(messages) == 0:
        return []
    texts = messages["text"].astype(str)
    keep = texts.str.contains(pattern.pattern.split(r"\s")[0].lstrip("^"), regex=False)
    out = []
    for _, row in messages[keep].iterrows():
        m = pattern.match(str(row["text"]).strip())
        if m:
            out.append((row, m))
    return out


def _float(text: str | None) -> float:
    return float(text) if text is not None else np.nan


def _line(row: pd.Series) -> object:
    return row["line"] if "line" in row.index else pd.NA


def validations(messages: pd.DataFrame) -> pd.DataFrame:
    """The validation results recorded in ``messages``, one row per validation and eye.

    Parameters
    ----------
    messages : pandas.DataFrame
        A :class:`~gazelab.preprocessing.Recording`'s ``messages`` table (``time_ms``, ``text``,
        optionally ``line``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VALIDATION_COLUMNS`: ``time_ms`` (recording clock), ``eye`` (L/R),
        ``calibration_type`` (e.g. ``HV9``), ``grade`` (GOOD/FAIR/POOR as the tracker or
        gazelab graded it), ``mean_error_deg``, ``max_error_deg``, ``offset_deg`` and
        ``offset_x_px``/``offset_y_px`` (NaN where the line has no offset), ``line``.
        Lines that are not validation results (``!CAL VALIDATION SKIPPED ...``) are ignored.

    Examples
    --------
    >>> msgs = pd.DataFrame({"time_ms": [10.0], "text": [
    ...     "!CAL VALIDATION HV9 R RIGHT GOOD ERROR 0.44 avg. 1.11 max  OFFSET 0.20 deg. -2.1,6.3 pix."]})
    >>> validations(msgs)[["eye", "grade", "mean_error_deg", "max_error_deg", "offset_deg"]]
      eye grade  mean_error_deg  max_error_deg  offset_deg
    0   R  GOOD            0.44           1.11         0.2
    """
    rows = [
        _check_row(
            row,
            m,
            calibration_type=m["type"],
            grade=m["grade"],
            mean_error_deg=float(m["mean"]),
            max_error_deg=float(m["max"]),
        )
        for row, m in _matches(messages, _VALIDATION)
    ]
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def drift_checks(messages: pd.DataFrame) -> pd.DataFrame:
    """The drift checks recorded in ``messages``, one row per check and eye.

    Parameters
    ----------
    messages : pandas.DataFrame
        A recording's ``messages`` table.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DRIFT_COLUMNS`: ``time_ms``, ``eye``, ``target_x_px``, ``target_y_px``,
        ``offset_deg``, ``offset_x_px``, ``offset_y_px`` (NaN where the offset was recorded as not
        measured), ``line``.

    Examples
    --------
    >>> msgs = pd.DataFrame({"time_ms": [5.0, 9.0], "text": [
    ...     "DRIFTCORRECT LR RIGHT at 960,540  OFFSET 0.39 deg.  0.7,-17.2 pix.",
    ...     "DRIFTCORRECT R RIGHT at 960,540  OFFSET not measured"]})
    >>> drift_checks(msgs)[["eye", "target_x_px", "offset_deg", "offset_y_px"]]
      eye  target_x_px  offset_deg  offset_y_px
    0   R        960.0        0.39        -17.2
    1   R        960.0         NaN          NaN
    """
    rows = [
        _check_row(row, m, target_x_px=float(m["tx"]), target_y_px=float(m["ty"]))
        for row, m in _matches(messages, _DRIFT)
    ]
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def _check_row(row: pd.Series, m: re.Match[str], **fields: object) -> dict[str, object]:
    """One row of a validation or drift-check table: the check's own ``fields`` amid what both record."""
    return {
        "time_ms": float(row["time_ms"]),
        "eye": _eye_letter(m["eye"]),
        **fields,
        "offset_deg": _float(m["off"]),
        "offset_x_px": _float(m["ox"]),
        "offset_y_px": _float(m["oy"]),
        "line": _line(row),
    }


def _eyes_word(eyes: str) -> str:
    return "LR" if len(eyes) > 1 else eyes


def format_validation_line(
    eye: str,
    eyes_recorded: str,
    grade: str,
    mean_error_deg: float,
    max_error_deg: float,
    offset_deg: float | None = None,
    offset_px: tuple[float, float] | None = None,
    calibration_type: str = "HV9",
) -> str:
    """One validation result in EyeLink's own ``!CAL VALIDATION`` format.

    Parameters
    ----------
    eye : str
        ``'L'`` or ``'R'``: the eye this line reports.
    eyes_recorded : str
        ``'L'``, ``'R'`` or ``'LR'``: the eyes tracked.
    grade : str
        GOOD, FAIR or POOR.
    mean_error_deg, max_error_deg : float
        Mean and maximum error over the validation points, degrees.
    offset_deg : float, optional
        Error of the mean gaze over all points, degrees; with ``offset_px`` (x, y in screen px).
        Left out of the line when not given.
    calibration_type : str
        The target layout (``HV9``, ``HV13``, ...).

    Examples
    --------
    >>> format_validation_line("R", "R", "GOOD", 0.44, 1.11, 0.2, (-2.1, 6.3))
    '!CAL VALIDATION HV9 R RIGHT GOOD ERROR 0.44 avg. 1.11 max  OFFSET 0.20 deg. -2.1,6.3 pix.'
    """
    word = "LEFT " if eye.upper().startswith("L") else "RIGHT"
    text = (
        f"!CAL VALIDATION {calibration_type} {_eyes_word(eyes_recorded)} {word} {grade} "
        f"ERROR {mean_error_deg:.2f} avg. {max_error_deg:.2f} max"
    )
    if offset_deg is not None and offset_px is not None and np.isfinite(offset_deg):
        text += f"  OFFSET {offset_deg:.2f} deg. {offset_px[0]:.1f},{offset_px[1]:.1f} pix."
    return text


def format_drift_line(
    eye: str,
    eyes_recorded: str,
    target_px: tuple[float, float],
    offset_deg: float | None = None,
    offset_px: tuple[float, float] | None = None,
) -> str:
    """One drift check in EyeLink's ``DRIFTCORRECT`` format; ``OFFSET not measured`` without an offset.

    Examples
    --------
    >>> format_drift_line("R", "R", (960, 540), 0.39, (0.7, -17.2))
    'DRIFTCORRECT R RIGHT at 960,540  OFFSET 0.39 deg.  0.7,-17.2 pix.'
    >>> format_drift_line("L", "LR", (960, 540))
    'DRIFTCORRECT LR LEFT  at 960,540  OFFSET not measured'
    """
    word = "LEFT " if eye.upper().startswith("L") else "RIGHT"
    head = f"DRIFTCORRECT {_eyes_word(eyes_recorded)} {word} at {target_px[0]:.0f},{target_px[1]:.0f}  OFFSET "
    if offset_deg is None or offset_px is None or not np.isfinite(offset_deg):
        return head + "not measured"
    return head + f"{offset_deg:.2f} deg.  {offset_px[0]:.1f},{offset_px[1]:.1f} pix."


_ERROR_ANYWHERE = re.compile(rf"ERROR\s+(?P<mean>{_NUM})\s+avg\.\s+(?P<max>{_NUM})\s+max")
_OFFSET_ANYWHERE = re.compile(rf"OFFSET\s+(?P<off>{_NUM})\s+deg\.\s+(?P<ox>{_NUM}),\s*(?P<oy>{_NUM})\s+pix\.")


def result_in_text(text: str | None) -> dict[str, float]:
    """The errors and offset a tracker states in free text (pylink's ``getCalibrationMessage()``).

    The tracker's result text after a validation or drift check holds EyeLink's usual phrases
    (``ERROR 0.38 avg. 0.69 max``, ``OFFSET 0.24 deg. 6.9,5.4 pix.``) with or without the
    ``!CAL VALIDATION``/``DRIFTCORRECT`` head; what is not there is NaN (not measured).

    Returns
    -------
    dict
        ``mean_error_deg``, ``max_error_deg``, ``offset_deg``, ``offset_x_px``, ``offset_y_px``.

    Examples
    --------
    >>> result_in_text("DRIFTCORRECT R RIGHT at 512,384  OFFSET 0.39 deg.  -9.8,9.6 pix.")["offset_x_px"]
    -9.8
    >>> bool(np.isnan(result_in_text("")["offset_deg"]))
    True
    """
    out = dict.fromkeys(["mean_error_deg", "max_error_deg", "offset_deg", "offset_x_px", "offset_y_px"], np.nan)
    err = _ERROR_ANYWHERE.search(text or "")
    if err:
        out.update(mean_error_deg=float(err["mean"]), max_error_deg=float(err["max"]))
    off = _OFFSET_ANYWHERE.search(text or "")
    if off:
        out.update(offset_deg=float(off["off"]), offset_x_px=float(off["ox"]), offset_y_px=float(off["oy"]))
    return out
