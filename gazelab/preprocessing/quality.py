"""Data quality per trial and eye, and per participant: what lab staff check after every session.

:func:`trial_quality` turns a :class:`~gazelab.preprocessing.Recording` into one row per trial
and eye (a trial is the recording span of one ``TRIALID``: the samples whose ``trial`` is that
trial; a recording without trials gives one row per recording block), with the columns of
:data:`QUALITY_COLUMNS`:

``recording``, ``participant``, ``session``
    The recording's name (file stem, or ``<participant folder>_<session folder>``), the
    participant (``session.json``'s ``participant``, else the recording's name) and session
    (``session.json``'s ``session``, else ``''``).
``trial``
    The ``TRIALID`` text (``'block N'``, 1-based, for a recording without trials).
``eye``
    ``L`` or ``R``.
``n_samples``, ``duration_ms``
    Samples in the trial and its length (``n_samples`` sample periods), ms.
``data_loss``
    Fraction (0..1) of the trial's samples with no gaze (x or y missing) for that eye.
``blink_count``
    The tracker's blink events (``EBLINK``) starting in the trial; without tracker events, the
    runs of missing gaze lasting :data:`BLINK_MIN_MS` to :data:`BLINK_MAX_MS`.
``precision_rms_s2s_deg``, ``precision_std_deg``
    Precision inside fixations (the tracker's own fixation events when the recording has them
    for that eye, else gazelab's I-VT): the root mean square of the distances between
    successive samples of the same fixation, and the root mean square distance of the samples
    from their fixation's mean position (Holmqvist, Nystrom & Mulvey 2012), both pooled over
    all the trial's fixations, in degrees of visual angle. NaN when the trial has no fixation
    of at least two valid samples.
``validation_mean_deg``, ``validation_max_deg``
    The last validation before the trial's start for that eye (the tracker's ``!CAL
    VALIDATION`` line or gazelab's line in the same format; a session folder without such
    messages falls back to its ``calibration.json``), NaN when none was recorded.
``drift_offset_deg``
    The drift check just before the trial (after the previous trial ended) for that eye, as
    recorded; NaN when there was none or its offset was recorded as not measured.
``sampling_rate_hz``
    The rate of the trial's recording block.
``grade``
    ``GOOD``, ``FAIR`` or ``POOR``: the worst grade over the measured criteria of
    :class:`QualityThresholds` (unmeasured ones, NaN, do not count; a trial without samples is
    POOR).

Degrees need geometry: a :class:`~gazelab.geometry.Geometry`, or, without one, the tracker's
angular resolution columns (``xres_px_per_deg``/``yres_px_per_deg``) when the file has them.
Nothing is guessed: without either, :func:`trial_quality` raises and says what is needed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.acquisition.tracker_messages import drift_checks, validations
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing.cleaning import runs
from gazelab.preprocessing.recording import Recording, eye_name

__all__ = [
    "GRADES",
    "QUALITY_COLUMNS",
    "QualityThresholds",
    "grade_rank",
    "participant_summary",
    "recording_name",
    "trial_quality",
]

#: Columns of :func:`trial_quality`'s table, in order.
QUALITY_COLUMNS = [
    "recording",
    "participant",
    "session",
    "trial",
    "eye",
    "n_samples",
    "duration_ms",
    "data_loss",
    "blink_count",
    "precision_rms_s2s_deg",
    "precision_std_deg",
    "validation_mean_deg",
    "validation_max_deg",
    "drift_offset_deg",
    "sampling_rate_hz",
    "grade",
]

#: Grades from best to worst.
GRADES = ("GOOD", "FAIR", "POOR")

#: Shortest and longest run of missing gaze counted as a blink when the tracker reports none, ms.
BLINK_MIN_MS = 50.0
BLINK_MAX_MS = 500.0


def grade_rank(grade: str) -> int:
    """0 for GOOD, 1 for FAIR, 2 for POOR (case-insensitive).

    Raises
    ------
    ParameterError
        For anything else.
    """
    key = str(grade).strip().upper()
    if key not in GRADES:
        raise ParameterError("grade", grade, f"one of {list(GRADES)}")
    return GRADES.index(key)


@dataclass(frozen=True)
class QualityThresholds:
    """Upper limits of GOOD and FAIR for each graded quantity (``(good, fair)``; above fair: POOR).

    The defaults follow common practice for screen-based video eye trackers: EyeLink grades a
    validation GOOD up to 0.5 deg mean / 1.0 deg max error and FAIR up to 1.0 / 1.5 deg; drift
    checks are accepted up to 2 deg by default; many studies exclude trials that lose more than
    a quarter of their samples; an EyeLink 1000's RMS-S2S precision is below 0.05 deg, a remote
    or webcam tracker's several times that.

    Parameters
    ----------
    data_loss : (float, float)
        Fraction of samples without gaze (default 0.10, 0.25).
    precision_rms_s2s_deg : (float, float)
        RMS sample-to-sample precision, deg (default 0.15, 0.30).
    validation_mean_deg : (float, float)
        Mean validation error, deg (default 0.5, 1.0).
    validation_max_deg : (float, float)
        Maximum validation error, deg (default 1.0, 1.5).
    drift_offset_deg : (float, float)
        Drift-check offset, deg (default 1.0, 2.0).
    """

    data_loss: tuple[float, float] = (0.10, 0.25)
    precision_rms_s2s_deg: tuple[float, float] = (0.15, 0.30)
    validation_mean_deg: tuple[float, float] = (0.5, 1.0)
    validation_max_deg: tuple[float, float] = (1.0, 1.5)
    drift_offset_deg: tuple[float, float] = (1.0, 2.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                good, fair = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ParameterError(f.name, value, "two numbers GOOD,FAIR (the upper limits of each grade)") from None
            if not (0 <= good <= fair) or not math.isfinite(fair):
                raise ParameterError(f.name, value, "0 <= GOOD limit <= FAIR limit, finite")
            object.__setattr__(self, f.name, (good, fair))

    def updated(self, items: Mapping[str, Any]) -> QualityThresholds:
        """A copy with some limits replaced, e.g. ``{'data_loss': (0.05, 0.2)}`` or ``'0.05,0.2'``."""
        names = {f.name for f in fields(self)}
        changes = {}
        for name, value in items.items():
            if name not in names:
                raise ParameterError("threshold", name, f"one of {sorted(names)}")
            changes[name] = tuple(float(v) for v in value.split(",")) if isinstance(value, str) else value
        return replace(self, **changes)

    def grade(self, table: pd.DataFrame) -> np.ndarray:
        """The grade of each row of a quality table (worst over the measured criteria)."""
        rank = np.zeros(len(table), dtype=np.int64)
        for f in fields(self):
            good, fair = getattr(self, f.name)
            v = table[f.name].to_numpy(dtype=float)
            r = np.where(v > fair, 2, np.where(v > good, 1, 0))  # NaN compares False: not measured
            rank = np.maximum(rank, r)
        rank[table["n_samples"].to_numpy() == 0] = 2
        return np.asarray(GRADES, dtype=object)[rank]


def recording_name(rec: Recording) -> str:
    """The name a recording goes by in tables: the file stem, or ``<parent>_<folder>`` for a folder."""
    path = Path(rec.source)
    if path.is_dir():
        return f"{path.parent.name}_{path.name}"
    return path.name.split(".")[0]


# ---- geometry: px to degrees, never guessed --------------------------------------------------------


def _to_deg(rec: Recording, eye: str, geometry: Geometry | None) -> tuple[np.ndarray, np.ndarray]:
    """Gaze of one eye in degrees (x, y), from the geometry or the tracker's resolution columns."""
    s = rec.samples
    name = eye_name(eye)
    x = s[f"x_{name}_px"].to_numpy(dtype=float)
    y = s[f"y_{name}_px"].to_numpy(dtype=float)
    if geometry is not None:
        xd, yd = geometry.px_to_deg(x, y)
        return np.asarray(xd, dtype=float), np.asarray(yd, dtype=float)
    if "xres_px_per_deg" in s.columns and "yres_px_per_deg" in s.columns:
        # the tracker's px per degree at the gaze point: it is nearly constant within a fixation, so
        # differences of these values (all that precision uses) are the tracker's own conversion
        xr = s["xres_px_per_deg"].to_numpy(dtype=float)
        yr = s["yres_px_per_deg"].to_numpy(dtype=float)
        return x / xr, y / yr
    raise ParameterError(
        "geometry",
        None,
        f"the screen size and viewing distance (--screen-cm W H --distance-cm D, or a session.json "
        f"with them) to express precision in degrees: {rec.source} has no geometry and no resolution columns",
    )


def geometry_from_recording(rec: Recording) -> Geometry | None:
    """The geometry a session folder's ``session.json`` states (``screen``), or None."""
    screen = rec.metadata.get("screen") if isinstance(rec.metadata, dict) else None
    if not isinstance(screen, Mapping):
        return None
    keys = ("width_px", "height_px", "width_cm", "height_cm", "distance_cm")
    if not all(screen.get(k) is not None for k in keys):
        return None
    return Geometry(*(screen[k] for k in keys))


# ---- the spans: trials or blocks -------------------------------------------------------------------


def _spans(rec: Recording) -> tuple[np.ndarray, pd.DataFrame]:
    """Per sample, the span code (-1: in no span), and per span ``label``, ``onset_ms``, ``after_ms``.

    ``after_ms`` is when the previous span ended (drift checks between it and the onset count).
    """
    s = rec.samples
    if len(rec.trials):
        tr = rec.trials.reset_index(drop=True)
        codes = s["trial"].to_numpy(dtype=float, na_value=np.nan)
        number_to_span = {int(t): i for i, t in enumerate(tr["trial"])}
        code = np.full(len(s), -1, dtype=np.int64)
        ok = np.isfinite(codes)
        code[ok] = _map_codes(codes[ok].astype(np.int64), number_to_span)
        onset = tr["onset_ms"].to_numpy(dtype=float)
        offset = tr["offset_ms"].to_numpy(dtype=float)
        labels = tr["trial_id"].astype(str).to_numpy()
    else:
        code = s["block"].to_numpy().astype(np.int64)
        bl = rec.blocks.reset_index(drop=True)
        onset = bl["onset_ms"].to_numpy(dtype=float)
        offset = bl["offset_ms"].to_numpy(dtype=float)
        labels = np.array([f"block {int(b) + 1}" for b in bl["block"]], dtype=object)
    after = np.r_[-np.inf, offset[:-1]]
    return code, pd.DataFrame({"label": labels, "onset_ms": onset, "after_ms": after})


def _map_codes(values: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    keys = np.array(sorted(mapping), dtype=np.int64)
    vals = np.array([mapping[k] for k in keys], dtype=np.int64)
    pos = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    return np.where(keys[pos] == values, vals[pos], -1)


# ---- per eye: fixations, precision, blinks --------------------------------------------------------


def _fixation_intervals(rec: Recording, eye: str, geometry: Geometry | None) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (ms) of one eye's fixations: the tracker's, else gazelab's I-VT."""
    ev = rec.events
    if len(ev):
        mine = ev[(ev["type"] == "fixation").to_numpy(dtype=bool) & (ev["eye"] == eye).to_numpy(dtype=bool)]
        if len(mine):
            return mine["onset_ms"].to_numpy(dtype=float), mine["offset_ms"].to_numpy(dtype=float)
    from gazelab.preprocessing.detection import detect_fixations

    if geometry is None:
        raise ParameterError(
            "geometry",
            None,
            f"the screen size and viewing distance (--screen-cm W H --distance-cm D) for gazelab's I-VT "
            f"fixations: {rec.source} has no tracker fixation events",
        )
    fix = detect_fixations(rec, geometry, algorithm="ivt", eyes=eye, progress=False)
    return fix["onset_ms"].to_numpy(dtype=float), fix["offset_ms"].to_numpy(dtype=float)


def _precision(
    t: np.ndarray, xd: np.ndarray, yd: np.ndarray, span: np.ndarray, n_spans: int, on: np.ndarray, off: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled RMS-S2S and STD (deg) per span, over the samples inside fixations."""
    rms = np.full(n_spans, np.nan)
    std = np.full(n_spans, np.nan)
    if len(on) == 0 or len(t) == 0:
        return rms, std
    order = np.argsort(on, kind="stable")
    on, off = on[order], off[order]
    k = np.searchsorted(on, t, side="right") - 1
    inside = (k >= 0) & (t <= off[np.clip(k, 0, None)]) & np.isfinite(xd) & np.isfinite(yd) & (span >= 0)
    fid = np.where(inside, k, -1)
    # sample-to-sample: successive samples of the same fixation, both valid
    same = (fid[1:] >= 0) & (fid[1:] == fid[:-1]) & (span[1:] == span[:-1])
    d2 = np.diff(xd) ** 2 + np.diff(yd) ** 2
    sp = span[1:][same]
    s2s_sum = np.bincount(sp, weights=d2[same], minlength=n_spans)
    s2s_n = np.bincount(sp, minlength=n_spans)
    # deviation from each fixation's mean (within the span)
    idx = np.flatnonzero(inside)
    key = fid[idx] * (n_spans + 1) + span[idx]
    _, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv)
    mx = np.bincount(inv, weights=xd[idx]) / cnt
    my = np.bincount(inv, weights=yd[idx]) / cnt
    dev2 = (xd[idx] - mx[inv]) ** 2 + (yd[idx] - my[inv]) ** 2
    multi = cnt[inv] >= 2
    std_sum = np.bincount(span[idx][multi], weights=dev2[multi], minlength=n_spans)
    std_n = np.bincount(span[idx][multi], minlength=n_spans)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(s2s_n > 0, np.sqrt(s2s_sum / np.maximum(s2s_n, 1)), np.nan)
        std = np.where(std_n > 0, np.sqrt(std_sum / np.maximum(std_n, 1)), np.nan)
    return rms, std


def _blinks(rec: Recording, eye: str, t: np.ndarray, missing: np.ndarray, span: np.ndarray, n: int) -> np.ndarray:
    """Blinks per span: the tracker's blink events, else runs of missing gaze of blink length."""
    ev = rec.events
    if len(ev) and (ev["type"] == "fixation").any():  # the file has tracker events: trust its blinks
        b = ev[(ev["type"] == "blink").to_numpy(dtype=bool) & (ev["eye"] == eye).to_numpy(dtype=bool)]
        starts = b["onset_ms"].to_numpy(dtype=float)
    else:
        r = runs(missing)
        if len(r) == 0:
            return np.zeros(n, dtype=np.int64)
        length = t[r[:, 1]] - t[r[:, 0]] + 1000.0 / rec.sampling_rate_hz
        r = r[(length >= BLINK_MIN_MS) & (length <= BLINK_MAX_MS)]
        starts = t[r[:, 0]]
    i = np.clip(np.searchsorted(t, starts, side="left"), 0, max(len(t) - 1, 0))
    owner = span[i] if len(t) else np.zeros(0, dtype=np.int64)
    owner = owner[(owner >= 0) & (np.abs(t[i] - starts) <= 1000.0 / rec.sampling_rate_hz)]
    return np.bincount(owner, minlength=n).astype(np.int64)


# ---- calibration records --------------------------------------------------------------------------


def _last_before(table: pd.DataFrame, eye: str, onset: np.ndarray, after: np.ndarray | None, col: str) -> np.ndarray:
    out = np.full(len(onset), np.nan)
    mine = table[table["eye"] == eye].sort_values("time_ms", kind="stable")
    if len(mine) == 0:
        return out
    tt = mine["time_ms"].to_numpy(dtype=float)
    vals = mine[col].to_numpy(dtype=float)
    j = np.searchsorted(tt, onset, side="right") - 1
    ok = j >= 0
    if after is not None:
        ok &= tt[np.clip(j, 0, None)] > after
    out[ok] = vals[j[ok]]
    return out


def _calibration_json(rec: Recording) -> tuple[float, float]:
    """The last accepted validation of a session folder's calibration.json (mean, max deg), or NaN."""
    path = Path(rec.source) / "calibration.json"
    if not path.is_file():
        return np.nan, np.nan
    try:
        reports = json.loads(path.read_text(encoding="utf-8")).get("validations") or []
    except (OSError, ValueError, AttributeError):
        return np.nan, np.nan
    chosen = [r for r in reports if r.get("accepted") or r.get("skipped_by_operator")] or reports
    if not chosen:
        return np.nan, np.nan
    last = chosen[-1]
    return float(last.get("mean_error_deg", np.nan)), float(last.get("max_error_deg", np.nan))


# ---- the table ---------------------------------------------------------------------------------------


def trial_quality(
    rec: Recording,
    geometry: Geometry | None = None,
    *,
    thresholds: QualityThresholds | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Data quality of one recording per trial and eye (see the module documentation).

    Parameters
    ----------
    rec : Recording
        The recording.
    geometry : Geometry, optional
        Screen geometry for degrees; default the recording's own (a session folder's
        ``session.json``), else the file's resolution columns.
    thresholds : QualityThresholds, optional
        Grade limits (default :class:`QualityThresholds()`).
    name : str, optional
        The ``recording`` value (default :func:`recording_name`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`QUALITY_COLUMNS`, one row per trial (or block) and recorded eye.

    Raises
    ------
    ParameterError
        When degrees are needed and neither geometry nor resolution columns are available.
    """
    geometry = geometry if geometry is not None else geometry_from_recording(rec)
    thresholds = thresholds or QualityThresholds()
    span, spans = _spans(rec)
    n = len(spans)
    t = rec.samples["time_ms"].to_numpy(dtype=float)
    in_span = span >= 0
    n_samples = np.bincount(span[in_span], minlength=n)
    rate = _span_rates(rec, span, n)
    val = validations(rec.messages)
    drift = drift_checks(rec.messages)
    fallback = _calibration_json(rec) if len(val) == 0 else (np.nan, np.nan)
    onset = spans["onset_ms"].to_numpy()
    parts = []
    for eye in rec.eyes:
        xd, yd = _to_deg(rec, eye, geometry)
        missing = np.isnan(xd) | np.isnan(yd)
        lost = np.bincount(span[in_span], weights=missing[in_span].astype(float), minlength=n)
        on, off = _fixation_intervals(rec, eye, geometry)
        rms, std = _precision(t, xd, yd, span, n, on, off)
        vmean = _last_before(val, eye, onset, None, "mean_error_deg") if len(val) else np.full(n, fallback[0])
        vmax = _last_before(val, eye, onset, None, "max_error_deg") if len(val) else np.full(n, fallback[1])
        parts.append(
            pd.DataFrame(
                {
                    "trial": spans["label"].to_numpy(),
                    "eye": eye,
                    "n_samples": n_samples.astype(np.int64),
                    "duration_ms": n_samples * 1000.0 / rate,
                    "data_loss": np.where(n_samples > 0, lost / np.maximum(n_samples, 1), np.nan),
                    "blink_count": _blinks(rec, eye, t, missing, span, n),
                    "precision_rms_s2s_deg": rms,
                    "precision_std_deg": std,
                    "validation_mean_deg": vmean,
                    "validation_max_deg": vmax,
                    "drift_offset_deg": _last_before(drift, eye, onset, spans["after_ms"].to_numpy(), "offset_deg"),
                    "sampling_rate_hz": rate,
                    "_order": np.arange(n),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True).sort_values(["_order", "eye"], kind="stable").drop(columns="_order")
    meta = rec.metadata if isinstance(rec.metadata, dict) else {}
    rec_name = name or recording_name(rec)
    table.insert(0, "session", str(meta.get("session") or ""))
    table.insert(0, "participant", str(meta.get("participant") or rec_name))
    table.insert(0, "recording", rec_name)
    table["grade"] = thresholds.grade(table)
    return table[QUALITY_COLUMNS].reset_index(drop=True)


def _span_rates(rec: Recording, span: np.ndarray, n: int) -> np.ndarray:
    """Sampling rate of each span's block (the first sample's), else the recording's rate."""
    rate = np.full(n, float(rec.sampling_rate_hz))
    if len(rec.blocks) == 0 or len(span) == 0:
        return rate
    by_block = dict(zip(rec.blocks["block"].astype(int), rec.blocks["sampling_rate_hz"].astype(float), strict=True))
    blocks = rec.samples["block"].to_numpy()
    ok = span >= 0
    first = np.unique(span[ok], return_index=True)
    idx = np.flatnonzero(ok)[first[1]]
    for sp, i in zip(first[0], idx, strict=True):
        rate[sp] = by_block.get(int(blocks[i]), rate[sp])
    return rate


def participant_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per participant: trials, mean data loss, median precision, mean validation error, grade counts.

    Parameters
    ----------
    table : pandas.DataFrame
        A quality table (:func:`trial_quality`, possibly of several recordings).

    Returns
    -------
    pandas.DataFrame
        Columns ``participant``, ``recordings``, ``trials`` (trial-eye rows), ``data_loss``
        (mean), ``precision_rms_s2s_deg`` and ``precision_std_deg`` (median),
        ``validation_mean_deg`` (mean of the trials' values), ``good``, ``fair``, ``poor``
        (trial-eye rows per grade) and ``grade`` (the participant's: the grade most of its
        trial-eye rows reach, i.e. the median rank).
    """
    rows = []
    for pid, g in table.groupby(table["participant"].astype(str), sort=True):
        ranks = np.array([grade_rank(x) for x in g["grade"]])
        rows.append(
            {
                "participant": pid,
                "recordings": int(g["recording"].nunique()),
                "trials": len(g),
                "data_loss": float(g["data_loss"].mean()),
                "precision_rms_s2s_deg": float(g["precision_rms_s2s_deg"].median()),
                "precision_std_deg": float(g["precision_std_deg"].median()),
                "validation_mean_deg": float(g["validation_mean_deg"].mean()),
                "good": int((ranks == 0).sum()),
                "fair": int((ranks == 1).sum()),
                "poor": int((ranks == 2).sum()),
                "grade": GRADES[int(np.ceil(np.median(ranks)))] if len(ranks) else "POOR",
            }
        )
    cols = [
        "participant",
        "recordings",
        "trials",
        "data_loss",
        "precision_rms_s2s_deg",
        "precision_std_deg",
        "validation_mean_deg",
        "good",
        "fair",
        "poor",
        "grade",
    ]
    return pd.DataFrame(rows, columns=cols)
