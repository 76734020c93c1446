"""Data quality of recordings, session folders and releases, as one table (``gazelab quality``).

The per-trial numbers are computed by :mod:`gazelab.preprocessing.quality`; this module reads
them for any input (a release stores them in its ``/quality`` table since format 1.1), summarises
them for the release manifest, and tells :class:`~gazelab.datasets.GazeDataset` which trials and
observers fall below a grade.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelab.datasets import schema
from gazelab.errors import ParameterError, ParseError
from gazelab.geometry import Geometry
from gazelab.preprocessing.quality import (
    GRADES,
    QUALITY_COLUMNS,
    QualityThresholds,
    geometry_from_recording,
    grade_rank,
    participant_summary,
    trial_quality,
)

__all__ = [
    "observers_at_least",
    "quality_report",
    "quality_summary",
    "read_quality",
    "trials_below",
    "write_quality",
]


def _is_dataset(path: Path) -> bool:
    return path.suffix.lower() in (".h5", ".hdf5")


def _geometry(
    rec: Any, screen_cm: tuple[float, float] | None, distance_cm: float | None, screen_px: tuple[int, int] | None
) -> Geometry | None:
    """session.json's geometry, else the options' (with the file's resolution), else None."""
    own = geometry_from_recording(rec)
    if own is not None:
        return own
    if screen_cm is None and distance_cm is None:
        return None
    if screen_cm is None or distance_cm is None:
        raise ParameterError("--screen-cm/--distance-cm", (screen_cm, distance_cm), "both the screen size and distance")
    size = screen_px or rec.screen_px
    if size is None:
        raise ParameterError("--screen-px", None, f"the screen resolution: {rec.source} does not state it")
    return Geometry(size[0], size[1], screen_cm[0], screen_cm[1], distance_cm)


def quality_report(
    paths: Sequence[str | Path],
    *,
    screen_cm: tuple[float, float] | None = None,
    distance_cm: float | None = None,
    screen_px: tuple[int, int] | None = None,
    thresholds: QualityThresholds | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Quality per recording, trial and eye of recordings, session folders and releases.

    Parameters
    ----------
    paths : sequence of path
        EyeLink ASC/EDF files, other readable recordings, gazelab session folders, or gazelab
        datasets (``.h5``: their stored ``/quality`` table).
    screen_cm, distance_cm : optional
        Visible screen size (cm) and viewing distance (cm), for recordings whose own metadata
        (a session folder's ``session.json``) does not state them.
    screen_px : (int, int), optional
        Screen resolution, px, when a recording does not state it.
    thresholds : QualityThresholds, optional
        Grade limits (default :class:`QualityThresholds()`); stored grades of a release are
        recomputed with them when given.
    progress : bool or None, optional
        Progress bar over the inputs (None: on a terminal).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~gazelab.preprocessing.quality.QUALITY_COLUMNS`.
    """
    from gazelab.preprocessing import read

    if not paths:
        raise ParameterError("paths", [], "at least one recording, session folder or dataset")
    parts = []
    for p in tqdm(
        [Path(x) for x in paths],
        desc="quality",
        unit="file",
        disable=None if progress is None else not progress,
        leave=False,
    ):
        if _is_dataset(p):
            parts.append(read_quality(p, thresholds=thresholds))
            continue
        rec = read(p)
        geometry = _geometry(rec, screen_cm, distance_cm, screen_px)
        parts.append(trial_quality(rec, geometry, thresholds=thresholds))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUALITY_COLUMNS)


def read_quality(path: str | Path, *, thresholds: QualityThresholds | None = None) -> pd.DataFrame:
    """The ``/quality`` table of a release with ``recording``, ``participant`` and ``session`` filled in.

    Raises
    ------
    ParseError
        If the file is no complete dataset or has no quality table (built before format 1.1,
        or imported from a dataset that published fixations only).
    """
    from gazelab.datasets.validate import check_format

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        check_format(f, path)
        if "quality" not in f:
            raise ParseError(
                path,
                "the dataset has no /quality table (built before format 1.1, or imported from fixations "
                "without raw samples): data quality was not measured",
            )
        q = schema.read_table(f, "quality")
        sessions = schema.read_table(f, "sessions")
        observers = f["observers/id"].asstr()[()]
    rows = q["session"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "recording": sessions["id"].astype(str).to_numpy()[rows],
            "participant": observers[sessions["observer"].to_numpy(dtype=np.int64)[rows]],
            "session": "",
        }
    )
    for c in QUALITY_COLUMNS[3:]:
        out[c] = q[c].to_numpy() if not isinstance(q[c].dtype, pd.StringDtype) else q[c].astype(str).to_numpy()
    if thresholds is not None:
        out["grade"] = thresholds.grade(out)
    return out[QUALITY_COLUMNS]


def write_quality(parent: h5py.Group, table: pd.DataFrame, thresholds: QualityThresholds | None = None) -> None:
    """Write a quality table (with a ``session`` row column) as the release's ``/quality`` group."""
    spec = schema.OPTIONAL_TABLES["quality"]
    g = schema.write_table(parent, "quality", table[[c.name for c in spec]], spec)
    g.attrs["thresholds_json"] = json.dumps(asdict(thresholds or QualityThresholds()))
    g.attrs["grades"] = "GOOD, FAIR, POOR: the worst grade over the measured criteria (see thresholds_json)"


def quality_summary(path: str | Path) -> dict[str, Any] | None:
    """What the release manifest says about quality: grade counts, medians, per-participant grades.

    Returns None for a release without a quality table.
    """
    try:
        table = read_quality(path)
    except ParseError:
        return None
    part = participant_summary(table)

    def med(c: str) -> float | None:
        v = table[c].median()
        return None if pd.isna(v) else round(float(v), 4)

    return {
        "trial_eye_rows": len(table),
        "grades": {g: int((table["grade"] == g).sum()) for g in GRADES},
        "median_data_loss": med("data_loss"),
        "median_precision_rms_s2s_deg": med("precision_rms_s2s_deg"),
        "median_precision_std_deg": med("precision_std_deg"),
        "median_validation_mean_deg": med("validation_mean_deg"),
        "participants": {str(r.participant): str(r.grade) for r in part.itertuples(index=False)},
    }


def _grades_per_trial(f: h5py.File, path: Path) -> np.ndarray:
    """Rank (0 GOOD .. 2 POOR) of each /trials row: its session's eye in /quality (-1: not measured)."""
    if "quality" not in f:
        raise ParameterError(
            "min_grade", None, f"a dataset with a /quality table: {path} has none (data quality was not measured)"
        )
    q = schema.read_table(f, "quality")
    eyes = f["sessions/eye"].asstr()[()]
    q = q[q["eye"].astype(str).to_numpy() == eyes[q["session"].to_numpy(dtype=np.int64)]]
    rank = {(int(s), str(t)): grade_rank(str(g)) for s, t, g in zip(q["session"], q["trial"], q["grade"], strict=True)}
    sess = f["trials/session"][()]
    tid = f["trials/trial_id"].asstr()[()]
    return np.array([rank.get((int(s), str(t)), -1) for s, t in zip(sess, tid, strict=True)], dtype=np.int64)


def trials_below(path: str | Path, min_grade: str) -> np.ndarray:
    """Rows of ``/trials`` graded below ``min_grade`` (trials without a measured grade are kept).

    Raises
    ------
    ParameterError
        For an unknown grade, or a dataset without a quality table.
    """
    limit = grade_rank(min_grade)
    path = Path(path)
    with h5py.File(path, "r") as f:
        ranks = _grades_per_trial(f, path)
    return np.flatnonzero(ranks > limit).astype(np.int64)


def observers_at_least(path: str | Path, min_grade: str) -> list[str]:
    """Ids of the observers whose participant grade (:func:`participant_summary`) is ``min_grade`` or better.

    Observers without measured quality are left out. Pass the result as ``observers=`` to
    :class:`~gazelab.datasets.GazeDataset`.
    """
    limit = grade_rank(min_grade)
    part = participant_summary(read_quality(path))
    return [str(p) for p, g in zip(part["participant"], part["grade"], strict=True) if grade_rank(g) <= limit]
