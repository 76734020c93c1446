"""Export a recording as BIDS eye-tracking data (BEP020, merged in BIDS 1.11).

For each recorded eye k (in the order left, right): ``<prefix>_recording-eye<k>_physio.tsv.gz``
(no header; columns ``timestamp``, ``x_coordinate``, ``y_coordinate``, ``pupil_size``; ``n/a``
for missing values) with its ``_physio.json`` (``SamplingFrequency``, ``StartTime``,
``Columns``, ``PhysioType: "eyetrack"``, ``RecordedEye``, ``SampleCoordinateSystem``, column
units, and the calibration errors the recording's validation messages report), and
``<prefix>_recording-eye<k>_physioevents.tsv.gz`` (``onset``, ``duration``, ``trial_type``,
``message``: the tracker's fixations, saccades and blinks, and every message) with its JSON.
Beside them ``<prefix>_events.tsv`` (one row per trial, seconds from the first sample) and
``<prefix>_events.json`` whose ``StimulusPresentation`` gives the screen geometry
(``ScreenSize`` and ``ScreenDistance`` in m, ``ScreenResolution`` in px, ``ScreenOrigin``), and
``dataset_description.json`` at the root when missing. ``<prefix>`` is
``sub-<subject>[_ses-<session>]_task-<task>`` inside ``sub-<subject>/[ses-<session>/]beh/``.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab import __version__
from gazelab._io import atomic_path
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing.recording import Recording, eye_name

__all__ = ["BIDS_VERSION", "export_bids"]

BIDS_VERSION = "1.11.0"
_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_VALIDATION = re.compile(
    r"VALIDATION\s+\S+\s+(?:LR\s+)?(\w+)\s+(LEFT|RIGHT)\s+\S+\s+ERROR\s+([\d.]+)\s+avg\.\s+([\d.]+)\s+max"
)


def _check_label(name: str, value: str | None) -> None:
    if value is not None and not _LABEL.match(str(value)):
        raise ParameterError(name, value, "a BIDS label: letters and digits only")


def _write_text(path: Path, text: str, *, gz: bool = False) -> Path:
    with atomic_path(path) as tmp:
        if gz:
            # mtime=0: the same data always gives the same bytes
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
                fh.write(text.encode("utf-8"))
        else:
            tmp.write_text(text, encoding="utf-8")
    return path


def _tsv(df: pd.DataFrame) -> str:
    return df.to_csv(sep="\t", index=False, header=False, na_rep="n/a", float_format="%.10g")


def _calibration(rec: Recording, eye: str) -> dict[str, Any]:
    """Average/maximal error (deg) of the last validation of this eye in the messages."""
    word = "LEFT" if eye == "L" else "RIGHT"
    last = None
    count = 0
    for text in rec.messages["text"].astype(str):
        m = _VALIDATION.search(text)
        if m and m.group(2) == word:
            last = m
            count += 1
    if last is None:
        return {}
    return {
        "AverageCalibrationError": float(last.group(3)),
        "MaximalCalibrationError": float(last.group(4)),
        "CalibrationCount": count,
    }


def export_bids(
    recording: Recording,
    geometry: Geometry,
    root: str | Path,
    *,
    subject: str,
    session: str | None = None,
    task: str = "freeview",
    manufacturer: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write one recording as BIDS eye-tracking files under ``root``.

    Parameters
    ----------
    recording : Recording
        The recording (e.g. from :func:`gazelab.preprocessing.read_asc`).
    geometry : Geometry
        Screen geometry (resolution px, size cm, distance cm) for ``StimulusPresentation``.
    root : path
        The BIDS dataset root (created).
    subject, session, task : str
        BIDS labels (letters and digits); ``session`` optional.
    manufacturer : str, optional
        Eye-tracker manufacturer; default "SR Research" for EyeLink files.
    overwrite : bool, optional
        Replace the files of an earlier export of the same subject, session and task (default
        False: refused).

    Returns
    -------
    list of Path
        The files written (each atomically).
    """
    _check_label("subject", subject)
    _check_label("session", session)
    _check_label("task", task)
    root = Path(root)
    folder = root / f"sub-{subject}" / (f"ses-{session}" if session else "") / "beh"
    prefix = f"sub-{subject}" + (f"_ses-{session}" if session else "") + f"_task-{task}"
    earlier = sorted(folder.glob(f"{prefix}_*")) if folder.is_dir() else []
    if earlier and not overwrite:
        raise ParameterError("out", str(earlier[0]), "no earlier export of this subject/session/task (or --overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not (root / "dataset_description.json").exists():
        desc = {
            "Name": f"gaze recordings ({task})",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "gazelab", "Version": __version__}],
        }
        written.append(_write_text(root / "dataset_description.json", json.dumps(desc, indent=2) + "\n"))
    s = recording.samples
    t = s["time_ms"].to_numpy()
    t0 = float(t[0]) if len(t) else 0.0
    maker = manufacturer or ("SR Research" if recording.format == "eyelink-asc" else "n/a")
    for k, eye in enumerate(recording.eyes, start=1):
        n = eye_name(eye)
        stem = f"{prefix}_recording-eye{k}"
        data = pd.DataFrame(
            {
                "timestamp": t,
                "x_coordinate": s[f"x_{n}_px"],
                "y_coordinate": s[f"y_{n}_px"],
                "pupil_size": s[f"pupil_{n}"],
            }
        )
        written.append(_write_text(folder / f"{stem}_physio.tsv.gz", _tsv(data), gz=True))
        meta = {
            "SamplingFrequency": recording.sampling_rate_hz,
            "StartTime": 0.0,
            "Columns": ["timestamp", "x_coordinate", "y_coordinate", "pupil_size"],
            "PhysioType": "eyetrack",
            "RecordedEye": n,
            "SampleCoordinateSystem": "gaze-on-screen",
            "Manufacturer": maker,
            "EyeTrackingMethod": "P-CR" if recording.format == "eyelink-asc" else "n/a",
            "timestamp": {"Description": "tracker clock of the sample", "Units": "ms"},
            "x_coordinate": {"Description": "gaze position, horizontal, from the screen's left edge", "Units": "pixel"},
            "y_coordinate": {"Description": "gaze position, vertical, from the screen's top edge", "Units": "pixel"},
            "pupil_size": {"Description": f"pupil {recording.metadata.get('pupil', 'size')}", "Units": "arbitrary"},
            "EyeTrackerDistance": geometry.distance_cm / 100.0,
            **_calibration(recording, eye),
        }
        written.append(_write_text(folder / f"{stem}_physio.json", json.dumps(meta, indent=2) + "\n"))
        ev = recording.events
        ev = ev[ev["eye"] == eye] if len(ev) else ev
        rows = pd.DataFrame(
            {
                "onset": ev["onset_ms"].to_numpy(float) / 1000.0 if len(ev) else [],
                "duration": ev["duration_ms"].to_numpy(float) / 1000.0 if len(ev) else [],
                "trial_type": ev["type"].astype(str).to_numpy() if len(ev) else [],
                "message": [np.nan] * len(ev),
            }
        )
        msgs = recording.messages
        mrows = pd.DataFrame(
            {
                "onset": msgs["time_ms"].to_numpy(float) / 1000.0,
                "duration": np.nan,
                "trial_type": "message",
                "message": msgs["text"].astype(str).str.replace(r"[\t\n]", " ", regex=True).to_numpy(),
            }
        )
        events = pd.concat([rows, mrows], ignore_index=True).sort_values("onset", kind="stable")
        written.append(_write_text(folder / f"{stem}_physioevents.tsv.gz", _tsv(events), gz=True))
        emeta = {
            "Columns": ["onset", "duration", "trial_type", "message"],
            "OnsetSource": "timestamp",
            "onset": {"Description": "tracker clock, in the units of the physio timestamp / 1000", "Units": "s"},
            "duration": {"Units": "s"},
            "trial_type": {"Description": "fixation, saccade or blink (the tracker's own events) or message"},
        }
        written.append(_write_text(folder / f"{stem}_physioevents.json", json.dumps(emeta, indent=2) + "\n"))
    tr = recording.trials
    trials = pd.DataFrame(
        {
            "onset": (tr["onset_ms"].to_numpy(float) - t0) / 1000.0 if len(tr) else [],
            "duration": (tr["offset_ms"].to_numpy(float) - tr["onset_ms"].to_numpy(float)) / 1000.0 if len(tr) else [],
            "trial_type": tr["trial_id"].astype(str).to_numpy() if len(tr) else [],
            "stim_file": tr["image"].astype(str).replace("<NA>", "n/a").to_numpy() if len(tr) else [],
        }
    )
    written.append(_write_text(folder / f"{prefix}_events.tsv", trials.to_csv(sep="\t", index=False, na_rep="n/a")))
    presentation = {
        "StimulusPresentation": {
            "ScreenSize": [geometry.width_cm / 100.0, geometry.height_cm / 100.0],
            "ScreenDistance": geometry.distance_cm / 100.0,
            "ScreenResolution": [geometry.width_px, geometry.height_px],
            "ScreenOrigin": ["top", "left"],
            "SoftwareName": "gazelab",
        },
        "onset": {"Description": "trial start, s from the first sample"},
        "trial_type": {"Description": "the recording's TRIALID"},
    }
    written.append(_write_text(folder / f"{prefix}_events.json", json.dumps(presentation, indent=2) + "\n"))
    return written
