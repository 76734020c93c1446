"""Export recordings, session folders and whole datasets as BIDS eye-tracking data.

BIDS 1.11 (BEP020, merged in 1.10) stores eye tracking as physiological recordings. For each
recorded eye k (in the order left, right), inside ``sub-<subject>/[ses-<session>/]beh/``:

``<prefix>_recording-eye<k>_physio.tsv.gz`` and ``.json``
    One row per sample, no header: ``timestamp`` (the tracker's clock, ms), ``x_coordinate``,
    ``y_coordinate`` (screen px, origin top left), ``pupil_size`` (tracker units); ``n/a`` for
    missing values. The sidecar has ``SamplingFrequency``, ``StartTime`` (0: the first sample is
    time 0 of ``_events.tsv``), ``Columns``, ``PhysioType: "eyetrack"``, ``RecordedEye``,
    ``SampleCoordinateSystem``, the units, the last validation's results of that eye as the
    recording's own ``!CAL VALIDATION`` lines report them (``AverageCalibrationError``,
    ``MaximalCalibrationError``, ``CalibrationType``; left out when the recording has none), and
    ``EyeTrackerDistance`` (eye to camera, m) only when it is known: given by the caller, or
    measured by an EyeLink in remote mode (median target distance).
``<prefix>_recording-eye<k>_physioevents.tsv.gz`` and ``.json``
    ``onset`` (on the ``timestamp`` clock, in its unit, ms: ``OnsetSource: "timestamp"``),
    ``duration`` (s), ``trial_type`` (``fixation``, ``saccade``, ``blink``: the tracker's own
    events; ``message``) and ``message`` (the message text).
``<prefix>_events.tsv`` and ``.json``
    One row per trial: ``onset`` and ``duration`` in s from the first sample, ``trial_type``
    (the trial id) and ``stim_file``; the sidecar's ``StimulusPresentation`` gives the screen
    (``ScreenSize`` and ``ScreenDistance`` in m, ``ScreenResolution`` px, ``ScreenOrigin``).

``<prefix>`` is ``sub-<subject>[_ses-<session>]_task-<task>``. At the root,
``dataset_description.json`` and ``README`` are written when missing. Gzip members carry no file
name and no time stamp, so the same data always gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab import __version__
from gazelab._io import atomic_path, check_output, safe_name
from gazelab.acquisition.tracker_messages import validations
from gazelab.errors import ParameterError, ParseError
from gazelab.geometry import Geometry
from gazelab.preprocessing.readers._trials import TRIAL_COLUMNS
from gazelab.preprocessing.recording import EYES, Recording, events_frame, eye_name

__all__ = ["BIDS_VERSION", "export_bids", "export_bids_dataset", "export_bids_session"]

BIDS_VERSION = "1.11.1"
_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_PHYSIO_COLUMNS = ["timestamp", "x_coordinate", "y_coordinate", "pupil_size"]
_EVENT_COLUMNS = ["onset", "duration", "trial_type", "message"]


@dataclass(frozen=True)
class _Target:
    """Where one recording goes: its folder and file name prefix."""

    folder: Path
    prefix: str


def _check_label(name: str, value: str | None) -> None:
    if value is not None and not _LABEL.match(str(value)):
        raise ParameterError(name, value, "a BIDS label: letters and digits only")


def _target(root: Path, subject: str, session: str | None, task: str) -> _Target:
    _check_label("subject", subject)
    _check_label("session", session)
    _check_label("task", task)
    folder = root / f"sub-{subject}" / (f"ses-{session}" if session else "") / "beh"
    prefix = f"sub-{subject}" + (f"_ses-{session}" if session else "") + f"_task-{task}"
    return _Target(folder, prefix)


def _gzip_bytes(text: str) -> bytes:
    # filename="" and mtime=0: no file name and no time stamp in the gzip header (BIDS asks for it)
    import io

    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(text.encode("utf-8"))
    return buf.getvalue()


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        data = content
    else:
        data = _gzip_bytes(content) if path.name.endswith(".gz") else content.encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _tsv(df: pd.DataFrame, *, header: bool = False) -> str:
    return df.to_csv(sep="\t", index=False, header=header, na_rep="n/a", float_format="%.10g")


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2) + "\n"


# -- the files of one recording ---------------------------------------------------------------------


def _physio_table(rec: Recording, eye: str) -> pd.DataFrame:
    s, n = rec.samples, eye_name(eye)
    return pd.DataFrame(
        {
            "timestamp": s["time_ms"].to_numpy(float),
            "x_coordinate": s[f"x_{n}_px"].to_numpy(float),
            "y_coordinate": s[f"y_{n}_px"].to_numpy(float),
            "pupil_size": s[f"pupil_{n}"].to_numpy(float) if f"pupil_{n}" in s else np.nan,
        }
    )


def _calibration(rec: Recording, eye: str) -> dict[str, Any]:
    """The last validation of ``eye`` as the recording's ``!CAL VALIDATION`` lines report it ({} if none)."""
    table = validations(rec.messages)
    table = table[table["eye"] == eye]
    if len(table) == 0:
        return {}
    last = table.iloc[-1]
    return {
        "CalibrationType": str(last["calibration_type"]),
        "AverageCalibrationError": float(last["mean_error_deg"]),
        "MaximalCalibrationError": float(last["max_error_deg"]),
    }


def _measured_distance_m(rec: Recording) -> float | None:
    """Eye-to-camera distance an EyeLink in remote mode measured (median target distance), m."""
    if "target_distance_mm" not in rec.samples:
        return None
    d = rec.samples["target_distance_mm"].to_numpy(float)
    d = d[np.isfinite(d) & (d > 0)]
    return round(float(np.median(d)) / 1000.0, 4) if len(d) else None


def _pupil_description(rec: Recording) -> str:
    kind = str(rec.metadata.get("pupil", "")).lower()
    if kind in ("area", "diameter"):
        return f"pupil {kind} as the tracker measured it"
    return "pupil size (area or diameter, not stated by the recording) as the tracker measured it"


def _physio_sidecar(
    rec: Recording, eye: str, task: str, manufacturer: str | None, distance_m: float | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "TaskName": task,
        "SamplingFrequency": rec.sampling_rate_hz,
        "StartTime": 0.0,
        "Columns": _PHYSIO_COLUMNS,
        "PhysioType": "eyetrack",
        "RecordedEye": eye_name(eye),
        "SampleCoordinateSystem": "gaze-on-screen",
        "Manufacturer": manufacturer or ("SR Research" if rec.format == "eyelink-asc" else "n/a"),
        "timestamp": {"Description": "the tracker's clock at the sample", "Units": "ms"},
        "x_coordinate": {"Description": "gaze position from the screen's left edge", "Units": "pixel"},
        "y_coordinate": {"Description": "gaze position from the screen's top edge", "Units": "pixel"},
        "pupil_size": {"Description": _pupil_description(rec), "Units": "arbitrary"},
    }
    if rec.format == "eyelink-asc":
        meta["EyeTrackingMethod"] = "P-CR"
    if distance_m is not None:
        meta["EyeTrackerDistance"] = distance_m
    meta.update(_calibration(rec, eye))
    return meta


def _physioevents_table(rec: Recording, eye: str) -> pd.DataFrame:
    ev = rec.events
    ev = ev[ev["eye"] == eye]
    tracker = pd.DataFrame(
        {
            "onset": ev["onset_ms"].to_numpy(float),
            "duration": ev["duration_ms"].to_numpy(float) / 1000.0,
            "trial_type": ev["type"].astype(str).to_numpy(),
            "message": np.full(len(ev), np.nan, dtype=object),
        }
    )
    msgs = rec.messages
    messages = pd.DataFrame(
        {
            "onset": msgs["time_ms"].to_numpy(float),
            "duration": np.full(len(msgs), np.nan),
            "trial_type": "message",
            "message": msgs["text"].astype(str).str.replace(r"[\t\r\n]", " ", regex=True).to_numpy(),
        }
    )
    parts = [p for p in (tracker, messages) if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in _EVENT_COLUMNS})
    return pd.concat(parts, ignore_index=True).sort_values("onset", kind="stable")


_PHYSIOEVENTS_SIDECAR = {
    "TaskName": "",
    "Description": "the eye tracker's own fixation, saccade and blink events of this eye, and the recording's messages",
    "Columns": _EVENT_COLUMNS,
    "OnsetSource": "timestamp",
    "trial_type": {
        "Description": "kind of row",
        "Levels": {
            "fixation": "a fixation the tracker detected",
            "saccade": "a saccade the tracker detected",
            "blink": "a blink the tracker detected",
            "message": "a message in the recording (text in the message column)",
        },
    },
    "message": {"Description": "the message text (n/a for the tracker's events)"},
}


def _events_table(rec: Recording, stimuli: dict[str, str]) -> pd.DataFrame:
    tr = rec.trials
    t = rec.samples["time_ms"].to_numpy(float)
    t0 = float(t[0]) if len(t) else 0.0
    onset = tr["onset_ms"].to_numpy(float)
    image = tr["image"].astype(object).where(tr["image"].notna(), np.nan)
    return pd.DataFrame(
        {
            "onset": (onset - t0) / 1000.0,
            "duration": (tr["offset_ms"].to_numpy(float) - onset) / 1000.0,
            "trial_type": tr["trial_id"].astype(str).to_numpy(),
            "stim_file": image.map(lambda name: stimuli.get(name, np.nan)).to_numpy(),
            "image": image.to_numpy(),
        }
    )


def _found_stimuli(rec: Recording, images: dict[str, bytes] | None) -> dict[str, bytes]:
    """The images the trials name, as bytes: given, or found beside the recording (a session's own copies)."""
    names = rec.trials["image"].dropna().astype(str).unique() if len(rec.trials) else []
    if images is not None:
        return {name: images[name] for name in names if name in images}
    base = Path(rec.source) if Path(rec.source).is_dir() else Path(rec.source).parent
    found = {}
    for name in names:
        try:
            path = base / safe_name(name, "stimulus file name")
        except ParameterError:  # a name reaching outside the recording's folder is left as it is (no stim_file)
            continue
        if rec.source and path.is_file():
            found[name] = path.read_bytes()
    return found


def _events_sidecar(geometry: Geometry, task: str) -> dict[str, Any]:
    return {
        "TaskName": task,
        "StimulusPresentation": {
            "ScreenSize": [geometry.width_cm / 100.0, geometry.height_cm / 100.0],
            "ScreenDistance": geometry.distance_cm / 100.0,
            "ScreenResolution": [geometry.width_px, geometry.height_px],
            "ScreenOrigin": ["top", "left"],
            "SoftwareName": "gazelab",
            "SoftwareVersion": __version__,
        },
        "trial_type": {"Description": "the recording's trial id (TRIALID message)"},
        "stim_file": {
            "Description": "the image shown in the trial, under /stimuli (n/a: not found beside the recording)"
        },
        "image": {"Description": "the image shown in the trial, as the recording names it"},
    }


def _recording_files(
    rec: Recording,
    geometry: Geometry,
    target: _Target,
    task: str,
    manufacturer: str | None,
    distance_m: float | None,
    images: dict[str, bytes] | None = None,
) -> dict[Path, str | bytes]:
    """Every file of one recording, path -> text or bytes (nothing written yet); stimuli go to ``/stimuli``."""
    if len(rec.samples) == 0:
        raise ParseError(rec.source or "recording", "no samples to export")
    files: dict[Path, str | bytes] = {}
    stim_names: dict[str, str] = {}
    root = target.folder.parents[2] if target.folder.parent.name.startswith("ses-") else target.folder.parents[1]
    for name, data in _found_stimuli(rec, images).items():
        rel = safe_name(name, "stimulus file name")
        stim_names[name] = rel
        files[root / "stimuli" / rel] = data
    for k, eye in enumerate(rec.eyes, start=1):
        stem = target.folder / f"{target.prefix}_recording-eye{k}"
        files[Path(f"{stem}_physio.tsv.gz")] = _tsv(_physio_table(rec, eye))
        files[Path(f"{stem}_physio.json")] = _json(_physio_sidecar(rec, eye, task, manufacturer, distance_m))
        files[Path(f"{stem}_physioevents.tsv.gz")] = _tsv(_physioevents_table(rec, eye))
        files[Path(f"{stem}_physioevents.json")] = _json({**_PHYSIOEVENTS_SIDECAR, "TaskName": task})
    files[target.folder / f"{target.prefix}_events.tsv"] = _tsv(_events_table(rec, stim_names), header=True)
    files[target.folder / f"{target.prefix}_events.json"] = _json(_events_sidecar(geometry, task))
    return files


# -- the dataset's root files ------------------------------------------------------------------------

_README = """# {name}

Eye-tracking recordings in BIDS (eye tracking as physiological recordings, BEP020), written
by gazelab {version}.

Per subject (and session), in `beh/`:

- `*_recording-eye<k>_physio.tsv.gz`: one row per sample of eye k, no header; the columns are
  listed in the `.json` sidecar: `timestamp` (the eye tracker's clock, ms), `x_coordinate`,
  `y_coordinate` (gaze on the screen, px, origin top left), `pupil_size` (tracker units).
  `n/a` marks samples the tracker lost (blinks, track loss).
- `*_recording-eye<k>_physioevents.tsv.gz`: the tracker's own fixations, saccades and blinks of
  eye k and the recording's messages; `onset` is on the `timestamp` clock (ms), `duration` in s.
- `*_events.tsv`: one row per trial, `onset` in s from the first sample, with the image shown.
  The `.json` sidecar gives the screen's size, resolution and distance.

Calibration results in the `_physio.json` sidecars are those the recording's own validation
messages report; where a recording has none, the keys are absent.
"""


def _root_files(root: Path, task: str) -> dict[Path, str | bytes]:
    files: dict[Path, str | bytes] = {}
    name = f"gaze recordings ({task})"
    if not (root / "dataset_description.json").exists():
        desc = {
            "Name": name,
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "gazelab", "Version": __version__}],
        }
        files[root / "dataset_description.json"] = _json(desc)
    if not (root / "README").exists() and not (root / "README.md").exists():
        files[root / "README"] = _README.format(name=name, version=__version__)
    return files


def _write_all(files: dict[Path, str | bytes], *, overwrite: bool, inputs: tuple[Path, ...]) -> list[Path]:
    """Check every output first (so a refused export writes nothing), then write each atomically.

    A stimulus file (bytes) that is already there with the same content is shared, not refused:
    several subjects saw the same images.
    """
    todo = {}
    for path, content in files.items():
        if isinstance(content, bytes) and path.is_file() and path.read_bytes() == content:
            continue
        check_output(path, overwrite=overwrite, inputs=inputs)
        todo[path] = content
    return [_write(path, content) for path, content in todo.items()]


# -- public drivers ----------------------------------------------------------------------------------


def export_bids(
    recording: Recording,
    geometry: Geometry,
    root: str | Path,
    *,
    subject: str,
    session: str | None = None,
    task: str = "freeview",
    manufacturer: str | None = None,
    eye_tracker_distance_cm: float | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write one recording as BIDS eye-tracking files under ``root``.

    Parameters
    ----------
    recording : Recording
        The recording (e.g. from :func:`gazelab.preprocessing.read`).
    geometry : Geometry
        Screen geometry (resolution px, size cm, viewing distance cm) for ``StimulusPresentation``.
    root : path
        The BIDS dataset root (created; other subjects already in it are kept).
    subject, session, task : str
        BIDS labels (letters and digits); ``session`` optional.
    manufacturer : str, optional
        Eye-tracker manufacturer; default "SR Research" for EyeLink files, else ``n/a``.
    eye_tracker_distance_cm : float, optional
        Distance from the eye to the tracker's camera, cm (not the screen distance). Default: the
        distance an EyeLink in remote mode measured, else left out.
    overwrite : bool, optional
        Replace this subject's files when they exist (default: refuse, writing nothing).

    Returns
    -------
    list of Path
        The files written (each atomically).

    Raises
    ------
    ParameterError
        For a label that is not letters and digits, or files that exist without ``overwrite``.
    """
    root = Path(root)
    target = _target(root, subject, session, task)
    if eye_tracker_distance_cm is not None:
        distance_m: float | None = eye_tracker_distance_cm / 100.0
    else:
        distance_m = _measured_distance_m(recording)
    files = _recording_files(recording, geometry, target, task, manufacturer, distance_m)
    inputs = (Path(recording.source),) if recording.source else ()
    return _write_all({**files, **_root_files(root, task)}, overwrite=overwrite, inputs=inputs)


def export_bids_session(
    folder: str | Path,
    root: str | Path,
    *,
    geometry: Geometry | None = None,
    subject: str | None = None,
    session: str | None = None,
    task: str = "freeview",
    eye_tracker_distance_cm: float | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a gazelab session folder as BIDS; subject, session and geometry from its ``session.json``.

    Parameters
    ----------
    folder : path
        The session folder (``session.json``, ``samples.tsv``, ``messages.tsv``).
    root : path
        The BIDS dataset root.
    geometry : Geometry, optional
        Overrides the screen geometry the session recorded.
    subject, session : str, optional
        Override the participant and session labels the session recorded.
    task : str, optional
        BIDS task label.
    eye_tracker_distance_cm : float, optional
        Eye-to-camera distance, cm (see :func:`export_bids`).
    overwrite : bool, optional
        Replace existing files of this subject.

    Returns
    -------
    list of Path
    """
    from gazelab.preprocessing.readers.session import read_session, session_geometry

    rec = read_session(folder)
    geometry = geometry or session_geometry(rec.metadata)
    if geometry is None:
        raise ParameterError("geometry", None, f"the screen geometry: {folder}/session.json does not record it")
    return export_bids(
        rec,
        geometry,
        root,
        subject=subject or str(rec.metadata.get("participant", "")),
        session=session if session is not None else _optional_str(rec.metadata.get("session")),
        task=task,
        manufacturer="SR Research" if rec.metadata.get("tracker") == "eyelink" else None,
        eye_tracker_distance_cm=eye_tracker_distance_cm,
        overwrite=overwrite,
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _subject_labels(observer_ids: np.ndarray, path: Path) -> list[str]:
    """One BIDS subject label per observer id: its letters and digits, which must stay unique."""
    labels = [re.sub(r"[^A-Za-z0-9]", "", str(o)) for o in observer_ids]
    seen: dict[str, str] = {}
    for obs, lab in zip(observer_ids, labels, strict=True):
        if not lab or lab in seen:
            other = seen.get(lab, "")
            raise ParseError(path, f"observer id {obs!r} gives the BIDS subject label {lab!r}, as does {other!r}")
        seen[lab] = str(obs)
    return labels


def _dataset_recording(tables: dict[str, pd.DataFrame], s: int, path: Path) -> Recording:
    """One session of a dataset as a Recording on its own clock (samples of its eye, fixations, trials)."""
    ses, trials, fix, samples = tables["sessions"], tables["trials"], tables["fixations"], tables["samples"]
    row = ses.iloc[s]
    eye = str(row["eye"]).upper()[:1]
    n = EYES[eye]
    tr = trials[trials["session"] == s]
    on = tr["stimulus_onset_ms"]
    smp = samples[samples["trial"].isin(tr.index)]
    time_ms = on.reindex(smp["trial"]).to_numpy(float) + smp["time_ms"].to_numpy(float)
    order = np.argsort(time_ms, kind="stable")
    trial_no = tr["trial"].reindex(smp["trial"]).to_numpy()
    samples_frame = pd.DataFrame(
        {
            "time_ms": time_ms[order],
            "block": np.zeros(len(order), np.int32),
            "trial": pd.array(trial_no[order], dtype="Int64"),
            f"x_{n}_px": smp["x_px"].to_numpy(float)[order],
            f"y_{n}_px": smp["y_px"].to_numpy(float)[order],
            f"pupil_{n}": smp["pupil"].to_numpy(float)[order],
        }
    )
    f = fix[fix["trial"].isin(tr.index)]
    ft = tr.reindex(f["trial"])
    onset = ft["stimulus_onset_ms"].to_numpy(float) + f["onset_ms"].to_numpy(float)
    x = ft["left_px"].to_numpy(float) + f["x_px"].to_numpy(float) * ft["scale"].to_numpy(float)
    y = ft["top_px"].to_numpy(float) + f["y_px"].to_numpy(float) * ft["scale"].to_numpy(float)
    dur = f["duration_ms"].to_numpy(float)
    nan = np.nan
    rows = [
        ("fixation", eye, o, o + d, d, xx, yy, nan, nan, nan, nan, nan, nan, nan, nan, nan, 0)
        for o, d, xx, yy in zip(onset, dur, x, y, strict=True)
    ]
    trials_frame = pd.DataFrame(
        {
            "trial": tr["trial"].to_numpy(np.int64),
            "trial_id": pd.array(tr["trial_id"].astype(str).to_numpy(), dtype="string"),
            "onset_ms": on.to_numpy(float),
            "offset_ms": tr["offset_ms"].to_numpy(float),
            "image": pd.array(tables["stimuli"]["file_name"].to_numpy()[tr["stimulus"]], dtype="string"),
        }
    ).reindex(columns=TRIAL_COLUMNS)
    if len(samples_frame) == 0:
        raise ParseError(path, f"session {row['id']!r} has no stored samples")
    return Recording(
        samples=samples_frame,
        events=events_frame(rows).sort_values("onset_ms", kind="stable"),
        messages=pd.DataFrame({"time_ms": pd.Series(dtype=float), "text": pd.Series(dtype="string")}),
        trials=trials_frame,
        blocks=pd.DataFrame(),
        sampling_rate_hz=float(row["sampling_rate_hz"]),
        eyes=(eye,),
        screen_px=(int(row["screen_width_px"]), int(row["screen_height_px"])),
        source=str(path),
        format=str(row["format"]),
    )


def _read_dataset_tables(path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, bytes]]:
    """The dataset's tables and its stimulus images (file name -> encoded bytes; stand-ins left out)."""
    import h5py

    from gazelab.datasets import schema
    from gazelab.datasets.validate import check_format

    with h5py.File(path, "r") as f:
        check_format(f, path)
        if "samples" not in f:
            raise ParseError(path, "no raw samples stored (BIDS needs them): build the dataset with --with-samples")
        names = ("sessions", "observers", "stimuli", "trials", "fixations", "samples")
        tables = {name: schema.read_table(f, name) for name in names}
        st = tables["stimuli"]
        images = {
            str(st["file_name"][i]): f[schema.image_path(i)][()].tobytes()
            for i in range(len(st))
            if not st["stand_in"][i]
        }
    return tables, images


def export_bids_dataset(
    path: str | Path, root: str | Path, *, task: str = "freeview", overwrite: bool = False
) -> list[Path]:
    """Write a gazelab dataset (built with ``--with-samples``) as BIDS, one subject per observer.

    Each session of the dataset becomes one BIDS recording of its observer (``ses-<k>``, k from 1,
    when an observer has several sessions), with the samples and fixations the dataset stores for
    the eye it used (fixations as the ``fixation`` rows of the physioevents, screen px), trials
    with the images shown, and the geometry each session recorded.

    Parameters
    ----------
    path : path
        The dataset (``.h5``).
    root : path
        The BIDS dataset root.
    task : str, optional
        BIDS task label.
    overwrite : bool, optional
        Replace existing files.

    Returns
    -------
    list of Path

    Raises
    ------
    ParseError
        For a dataset without stored samples, or observer ids that map to the same label.
    """
    path, root = Path(path), Path(root)
    tables, images = _read_dataset_tables(path)
    ses = tables["sessions"]
    labels = _subject_labels(tables["observers"]["id"].to_numpy(), path)
    per_observer = ses.groupby("observer").cumcount().to_numpy() + 1
    several = bool((ses["observer"].value_counts() > 1).any())
    files: dict[Path, str | bytes] = {}
    for s in range(len(ses)):
        row = ses.iloc[s]
        rec = _dataset_recording(tables, s, path)
        geometry = Geometry(
            int(row["screen_width_px"]),
            int(row["screen_height_px"]),
            float(row["screen_width_cm"]),
            float(row["screen_height_cm"]),
            float(row["distance_cm"]),
        )
        target = _target(root, labels[int(row["observer"])], str(per_observer[s]) if several else None, task)
        files.update(_recording_files(rec, geometry, target, task, None, None, images))
    files.update(_root_files(root, task))
    return _write_all(files, overwrite=overwrite, inputs=(path,))
