"""Build and append gazelab HDF5 datasets from recorded sessions (atomically).

A build reads each session (any recording :func:`gazelab.preprocessing.read` understands),
detects fixations, works out which stimulus each trial showed and where (``!V IMGLOAD`` in the
recording, or a trial table the maintainer supplies, or screen-sized stand-in images), maps the
fixations to image px, and writes stimuli, observers, sessions, trials, fixations, optional raw
samples, saliency maps, provenance and checksums into a temporary file beside the output, which
is renamed into place only when complete. Appending rewrites the file the same way, keeping
every earlier row.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelab import __version__
from gazelab._io import atomic_path, check_interrupt, check_output, safe_name, sha256_path
from gazelab._io import inside as inside_folder
from gazelab.datasets import schema
from gazelab.errors import GazelabError, ParameterError, ParseError
from gazelab.geometry import Geometry, Placement
from gazelab.preprocessing import detect_fixations, read
from gazelab.preprocessing.maps import saliency_map, sigma_deg_to_image_px, to_image_px
from gazelab.preprocessing.recording import Recording, eye_name

__all__ = ["STAND_IN_NOTE", "BuildReport", "build_dataset", "read_trial_table", "write_tables"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
STAND_IN_NOTE = (
    "The recordings did not ship their stimuli: each trial without an available stimulus is mapped to a "
    "uniform grey stand-in image of the screen's size placed at the screen's top-left corner (image px = "
    "screen px), under the name the recording gives (or stand-in-WxH). Stand-in stimuli have "
    "stimuli/stand_in = 1."
)


@dataclass
class BuildReport:
    """What a build or append did."""

    path: Path
    sessions: int
    stimuli: int
    observers: int
    trials: int
    fixations: int
    fixations_outside: int
    seconds: float
    size_bytes: int
    notes: list[str] = field(default_factory=list)


# ---- inputs ------------------------------------------------------------------------------------


_TRIAL_TABLE_REQUIRED = ("recording", "trial", "stimulus")


def read_trial_table(path: str | Path) -> pd.DataFrame:
    """Read the maintainer's trial table (CSV): which stimulus each trial showed, and where.

    Columns: ``recording`` (file name or stem of the session), ``trial`` (trial number, 1-based,
    or the recording's TRIALID text), ``stimulus`` (image file name in the stimuli folder);
    optional ``placement`` (``center`` default, ``fit``, ``top_left``), ``x_px``, ``y_px``
    (screen px: the image centre for ``center``, its top-left corner for ``top_left``; default
    the screen centre / 0, 0), ``scale`` (screen px per image px; default 1, or fitted for
    ``fit``), ``observer``, ``label``, ``split``, ``onset_ms`` (stimulus onset, recording clock).

    Raises
    ------
    ParseError
        If the file is missing a required column or has an unknown placement.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ParseError(path, f"cannot read the trial table ({exc})") from None
    missing = [c for c in _TRIAL_TABLE_REQUIRED if c not in df.columns]
    if missing:
        raise ParseError(path, f"trial table lacks column(s) {missing}; it has {list(df.columns)}", 1)
    if "placement" in df.columns:
        bad = ~df["placement"].str.lower().isin(["", "center", "fit", "top_left"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ParseError(path, f"placement {df['placement'].iloc[i]!r}; expected center, fit or top_left", i + 2)
    return df


def _num(value: Any, default: float) -> float:
    if value is None or value is pd.NA or (isinstance(value, str) and value.strip() == ""):
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return default if np.isnan(v) else v


def _placement(
    how: str,
    size: tuple[int, int],
    geometry: Geometry,
    x: float | None,
    y: float | None,
    w: float | None,
    scale: float | None,
) -> Placement:
    """Placement from Data Viewer-style arguments: how in {fill, fit, center, top_left}."""
    iw, ih = size
    how = (how or "center").lower()
    if how in ("fill", "fit"):
        s = min(geometry.width_px / iw, geometry.height_px / ih)
        if how == "fill" and abs(geometry.width_px / iw - geometry.height_px / ih) > 0.01 * s:
            raise ParameterError(
                "IMGLOAD FILL",
                f"{iw}x{ih} image on a {geometry.width_px}x{geometry.height_px} screen",
                "an image with the screen's aspect ratio (FILL stretches; gazelab keeps aspect)",
            )
        return Placement.centered(geometry, size, scale=s)
    s = scale if scale is not None else (w / iw if w else 1.0)
    if how == "top_left":
        return Placement(iw, ih, x or 0.0, y or 0.0, s)
    cx = geometry.width_px / 2 if x is None else x
    cy = geometry.height_px / 2 if y is None else y
    return Placement(iw, ih, cx - iw * s / 2, cy - ih * s / 2, s)


# ---- one session ---------------------------------------------------------------------------------


@dataclass
class _Session:
    row: dict[str, Any]
    observer: str
    trials: list[dict[str, Any]]
    fixations: pd.DataFrame  # stimulus id, trial key, x_px, y_px, onset_ms, duration_ms, order
    samples: pd.DataFrame | None
    stimuli: dict[str, dict[str, Any]]  # id -> spec (file_name, path, label, split, stand_in, size)
    sigma: list[tuple[str, float]]  # (stimulus id, sigma_px) per trial
    quality: pd.DataFrame | None = None  # gazelab.preprocessing.quality.trial_quality of the recording


def _best_eye(rec: Recording) -> str:
    valid = {e: int(rec.samples[f"x_{eye_name(e)}_px"].notna().sum()) for e in rec.eyes}
    return max(rec.eyes, key=lambda e: (valid[e], e == "R"))


def _collect_session(
    path: Path,
    *,
    screen_cm: tuple[float, float],
    distance_cm: float,
    screen_px: tuple[int, int] | None,
    stimuli_dir: Path | None,
    trial_table: pd.DataFrame | None,
    stand_in: bool,
    algorithm: str,
    eye: str,
    sigma_deg: float,
    with_samples: bool,
    observer: str | None,
    detector_params: dict[str, Any],
    image_sizes: dict[str, tuple[int, int]],
) -> _Session:
    rec = read(path)
    size = screen_px or rec.screen_px
    if size is None:
        raise ParameterError("screen_px", None, f"the screen resolution: {path} does not state it")
    geometry = Geometry(size[0], size[1], screen_cm[0], screen_cm[1], distance_cm)
    use_eye = _best_eye(rec) if eye == "best" else eye.upper()
    if use_eye not in rec.eyes:
        raise ParameterError("eye", eye, f"'best' or one of the recorded eyes {list(rec.eyes)} of {path}")
    fix = detect_fixations(rec, geometry, algorithm=algorithm, eyes=use_eye, **detector_params)
    # a session folder (sub-P01/ses-1) is named by its parent too; files by their stem
    stem = f"{path.parent.name}_{path.name}" if path.is_dir() else path.name.split(".")[0]
    obs_id = observer or str(rec.metadata.get("participant") or stem)

    rows = None
    if trial_table is not None:
        rows = trial_table[(trial_table["recording"] == path.name) | (trial_table["recording"] == stem)]
    trials_out: list[dict[str, Any]] = []
    stimuli: dict[str, dict[str, Any]] = {}
    sigma: list[tuple[str, float]] = []
    fix_parts: list[pd.DataFrame] = []
    sample_parts: list[pd.DataFrame] = []
    n_outside = 0
    tr = rec.trials
    if len(tr) == 0:
        if not stand_in and (rows is None or len(rows) == 0):
            raise ParseError(path, "the recording has no trials (TRIALID messages); supply a trial table")
        t = rec.samples["time_ms"].to_numpy()
        tr = pd.DataFrame(
            {
                "trial": [1],
                "trial_id": ["1"],
                "onset_ms": [t[0]],
                "offset_ms": [t[-1]],
                "image": [pd.NA],
                "image_position": [pd.NA],
            }
        )
        fix = fix.assign(trial=pd.array([1] * len(fix), dtype="Int64"))
    messages = rec.messages
    video_trials: list[int] = []
    for tri in tr.itertuples(index=False):
        trial_no = int(tri.trial)
        spec: dict[str, Any] | None = None
        onset = float(tri.onset_ms)
        match = None
        if rows is not None and len(rows):
            m = rows[(rows["trial"] == str(trial_no)) | (rows["trial"] == str(tri.trial_id))]
            match = m.iloc[0] if len(m) else None
        if match is not None:
            file_name = safe_name(str(match["stimulus"]), f"trial-table stimulus of trial {trial_no}")
            how = str(match.get("placement", "") or "center")
            x = _num(match.get("x_px"), np.nan)
            y = _num(match.get("y_px"), np.nan)
            sc = _num(match.get("scale"), np.nan)
            onset = _num(match.get("onset_ms"), onset)
            spec = {
                "file_name": file_name,
                "label": str(match.get("label", "")),
                "split": str(match.get("split", "")),
                "stand_in": False,
                "how": how,
                "x": None if np.isnan(x) else x,
                "y": None if np.isnan(y) else y,
                "w": None,
                "scale": None if np.isnan(sc) else sc,
            }
            if "observer" in match.index and str(match["observer"]):
                obs_id = str(match["observer"])
        elif ((messages["trial"] == trial_no) & messages["text"].str.startswith("!V VFRAME")).any() and not (
            getattr(tri, "image", None) is not None and tri.image is not pd.NA and str(tri.image)
        ):
            video_trials.append(trial_no)  # a video trial: build_video_dataset serves those
            continue
        elif getattr(tri, "image", None) is not None and tri.image is not pd.NA and str(tri.image):
            file_name = Path(str(tri.image).replace("\\", "/")).name
            hit = messages[(messages["trial"] == trial_no) & messages["text"].str.startswith("!V IMGLOAD")]
            if len(hit):
                onset = float(hit["time_ms"].iloc[0])
            spec = {
                "file_name": file_name,
                "label": "",
                "split": "",
                "stand_in": False,
                "how": str(tri.image_position or "fill"),
                "x": _num(tri.image_x_px, np.nan),
                "y": _num(tri.image_y_px, np.nan),
                "w": _num(tri.image_width_px, np.nan),
                "scale": None,
            }
            for k in ("x", "y", "w"):
                if spec[k] is not None and np.isnan(spec[k]):
                    spec[k] = None
        elif stand_in:
            file_name = f"stand-in-{geometry.width_px}x{geometry.height_px}.png"
            spec = {
                "file_name": file_name,
                "label": "",
                "split": "",
                "stand_in": True,
                "how": "top_left",
                "x": 0.0,
                "y": 0.0,
                "w": None,
                "scale": 1.0,
            }
        else:
            raise ParseError(
                path,
                f"trial {trial_no} names no stimulus (no !V IMGLOAD message and no trial-table row); "
                "supply --trial-table, or --stand-in for recordings that shipped no stimuli",
            )
        stim_id = Path(spec["file_name"]).stem
        if stand_in and not spec["stand_in"] and stim_id not in image_sizes:
            available = stimuli_dir is not None and inside_folder(stimuli_dir, spec["file_name"], "stimulus").is_file()
            if not available:  # named but not shipped: a screen-sized stand-in under its own id
                spec.update({"stand_in": True, "how": "top_left", "x": 0.0, "y": 0.0, "w": None, "scale": 1.0})
        if spec["stand_in"]:
            image_sizes.setdefault(stim_id, (geometry.width_px, geometry.height_px))
            spec["path"] = None
        elif stim_id not in image_sizes:
            if stimuli_dir is None:
                raise ParameterError(
                    "stimuli_dir", None, f"the folder holding {spec['file_name']} (trial {trial_no} of {path})"
                )
            img_path = inside_folder(stimuli_dir, spec["file_name"], f"stimulus of trial {trial_no} in {path.name}")
            if not img_path.is_file():
                raise ParseError(img_path, f"stimulus of trial {trial_no} in {path.name} not found")
            image_sizes[stim_id] = _image_size(img_path)
            spec["path"] = img_path
        else:
            spec["path"] = (
                inside_folder(stimuli_dir, spec["file_name"], "stimulus") if stimuli_dir is not None else None
            )
        placement = _placement(
            spec["how"], image_sizes[stim_id], geometry, spec["x"], spec["y"], spec["w"], spec["scale"]
        )
        stimuli.setdefault(
            stim_id,
            {k: spec[k] for k in ("file_name", "label", "split", "stand_in", "path")} | {"size": image_sizes[stim_id]},
        )
        sigma.append((stim_id, sigma_deg_to_image_px(sigma_deg, geometry, placement)))
        key = len(trials_out)
        trials_out.append(
            {
                "trial": trial_no,
                "trial_id": str(tri.trial_id),
                "stimulus": stim_id,
                "observer": obs_id,
                "stimulus_onset_ms": onset,
                "offset_ms": float(tri.offset_ms),
                "left_px": placement.left_px,
                "top_px": placement.top_px,
                "scale": placement.scale,
            }
        )
        f = fix[(fix["trial"] == trial_no).fillna(False).to_numpy()]
        f = f[(f["onset_ms"] >= onset) & (f["onset_ms"] <= float(tri.offset_ms))].reset_index(drop=True)
        xi, yi, inside = to_image_px(f["x_px"].to_numpy(), f["y_px"].to_numpy(), placement)
        n_outside += int((~inside).sum())
        fix_parts.append(
            pd.DataFrame(
                {
                    "stimulus": stim_id,
                    "observer": obs_id,
                    "trial_key": key,
                    "x_px": xi[inside],
                    "y_px": yi[inside],
                    "onset_ms": f["onset_ms"].to_numpy()[inside] - onset,
                    "duration_ms": f["duration_ms"].to_numpy()[inside],
                    "order": np.arange(len(f))[inside],
                }
            )
        )
        if with_samples:
            s = rec.samples
            sel = (s["trial"] == trial_no).fillna(False).to_numpy()
            n = eye_name(use_eye)
            sample_parts.append(
                pd.DataFrame(
                    {
                        "trial_key": key,
                        "time_ms": s["time_ms"].to_numpy()[sel] - onset,
                        "x_px": s[f"x_{n}_px"].to_numpy()[sel],
                        "y_px": s[f"y_{n}_px"].to_numpy()[sel],
                        "pupil": s[f"pupil_{n}"].to_numpy()[sel],
                    }
                )
            )
    row = {
        "id": stem,
        "source": path.name,
        "source_sha256": sha256_path(path),
        "format": rec.format,
        "eye": use_eye,
        "sampling_rate_hz": rec.sampling_rate_hz,
        "screen_width_px": geometry.width_px,
        "screen_height_px": geometry.height_px,
        "screen_width_cm": geometry.width_cm,
        "screen_height_cm": geometry.height_cm,
        "distance_cm": geometry.distance_cm,
        "n_fixations_outside": n_outside,
    }
    fixations = pd.concat(fix_parts, ignore_index=True) if fix_parts else pd.DataFrame()
    samples = pd.concat(sample_parts, ignore_index=True) if sample_parts else None
    if video_trials:
        warnings.warn(
            f"{path}: {len(video_trials)} video trial(s) {video_trials[:5]} left out of this image dataset "
            "(video stimuli go into video datasets: gazelab.datasets.video.build_video_dataset)",
            stacklevel=3,
        )
    from gazelab.preprocessing.quality import trial_quality

    quality = trial_quality(rec, geometry, name=stem)
    return _Session(row, obs_id, trials_out, fixations, samples, stimuli, sigma, quality)


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height of a stimulus image; an unreadable file or a decompression bomb is a ParseError."""
    import warnings as _w

    from PIL import Image

    try:
        with _w.catch_warnings():
            _w.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ParseError(
            path, f"not a readable image of at most {Image.MAX_IMAGE_PIXELS} pixels ({type(exc).__name__}: {exc})"
        ) from None


def _check_result(tmp: Path, out: Path) -> None:
    """Validate a freshly written dataset before it replaces anything; refuse it when invalid."""
    from gazelab.datasets.validate import validate

    errors = [p for p in validate(tmp) if p.severity == "error"]
    if errors:
        raise GazelabError(
            f"{out}: the result would not be a valid dataset ({len(errors)} problem(s), first: {errors[0]}); "
            "nothing was written or replaced"
        )


def _check_append_target(out: Path, sessions: Sequence[str | Path]) -> None:
    """The dataset to append to must be valid (checksums included) before anything touches it."""
    from gazelab.datasets.validate import validate

    check_output(out, overwrite=True, inputs=tuple(sessions))
    errors = [p for p in validate(out) if p.severity == "error"]
    if errors:
        raise GazelabError(
            f"{out}: cannot append to an invalid dataset ({len(errors)} problem(s), first: {errors[0]}); "
            "it was left as it is"
        )


# ---- the whole dataset ---------------------------------------------------------------------------


def _existing(path: Path) -> dict[str, Any]:
    """Tables and provenance of an existing release (for appending)."""
    from gazelab.datasets.validate import check_format

    with h5py.File(path, "r") as f:
        check_format(f, path)
        out = {name: schema.read_table(f, name) for name in schema.TABLES}
        out["samples"] = schema.read_table(f, "samples") if "samples" in f else None
        out["quality"] = schema.read_table(f, "quality") if "quality" in f else None
        out["history"] = json.loads(f["provenance"].attrs.get("history_json", "[]"))
        out["parameters"] = json.loads(f["provenance"].attrs.get("parameters_json", "{}"))
        out["notes"] = [n for n in str(f["provenance"].attrs.get("notes", "")).split("\n") if n]
    return out


def build_dataset(
    sessions: Sequence[str | Path],
    out: str | Path,
    *,
    screen_cm: tuple[float, float],
    distance_cm: float,
    screen_px: tuple[int, int] | None = None,
    stimuli_dir: str | Path | None = None,
    trial_table: str | Path | pd.DataFrame | None = None,
    stand_in: bool = False,
    algorithm: str = "ivt",
    eye: str = "best",
    sigma_deg: float = 1.0,
    with_samples: bool = False,
    append: bool = False,
    title: str = "",
    detector_params: dict[str, Any] | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
    _after_stimulus: Callable[[int], None] | None = None,
) -> BuildReport:
    """Build (or append to) a gazelab HDF5 dataset from recorded sessions.

    Parameters
    ----------
    sessions : sequence of path
        Recordings (EyeLink ASC, or any format :func:`gazelab.preprocessing.read` reads).
    out : path
        The dataset file (``.h5``). Written atomically: a temporary file beside it is renamed
        into place only when complete.
    screen_cm : (float, float)
        Visible screen width and height in cm (the same for all sessions of one call).
    distance_cm : float
        Viewing distance in cm.
    screen_px : (int, int), optional
        Screen resolution, px; default each recording's ``DISPLAY_COORDS``.
    stimuli_dir : path, optional
        Folder holding the stimulus images named by ``!V IMGLOAD`` or the trial table.
    trial_table : path or DataFrame, optional
        The maintainer's trial table (see :func:`read_trial_table`); it overrides the
        recordings' own ``IMGLOAD`` messages.
    stand_in : bool, optional
        For recordings that shipped no stimuli: map each trial without a stimulus to a grey
        stand-in image of the screen's size (declared in the file's provenance).
    algorithm : str, optional
        Fixation detector (default 'ivt').
    eye : {'best', 'L', 'R'}, optional
        Eye whose fixations are used; 'best' (default) picks the eye with the most valid samples.
    sigma_deg : float, optional
        Saliency-map sigma in degrees of visual angle (default 1.0).
    with_samples : bool, optional
        Also store each trial's raw samples of the chosen eye.
    append : bool, optional
        Add the sessions to the existing file ``out`` (its rows are kept; a session whose file
        is already in the dataset is refused).
    title : str, optional
        Dataset title stored as a root attribute.
    detector_params : dict, optional
        Parameters passed to the detector.
    progress : bool or None, optional
        Progress bars (None: on a terminal).
    overwrite : bool, optional
        Replace an existing ``out`` (without ``append``). Default False: an existing file is
        refused. An input (a recording, the trial table) is never an output. With ``append`` the
        existing file must pass :func:`~gazelab.datasets.validate` (checksums included) first.

    Returns
    -------
    BuildReport

    Raises
    ------
    GazelabError
        For unreadable sessions, missing stimuli, stimulus names leading outside ``stimuli_dir``,
        bad parameters, an existing ``out`` without ``overwrite``, or a result the validator
        rejects; no file is written or replaced.
    """
    t0 = time.perf_counter()
    out = Path(out)
    stimuli_path = Path(stimuli_dir) if stimuli_dir is not None else None
    if stimuli_path is not None and not stimuli_path.is_dir():
        raise ParameterError("stimuli_dir", str(stimuli_path), "an existing folder of images")
    table = read_trial_table(trial_table) if isinstance(trial_table, (str, Path)) else trial_table
    if not sessions:
        raise ParameterError("sessions", [], "at least one recording")
    if append and not out.is_file():
        raise ParameterError("out", str(out), "an existing dataset to append to")
    inputs = tuple(sessions) + ((trial_table,) if isinstance(trial_table, (str, Path)) else ())
    if append:
        _check_append_target(out, inputs)
    else:
        check_output(out, overwrite=overwrite, inputs=inputs)
    show = progress if progress is not None else None
    previous = _existing(out) if append else None
    params = {
        "algorithm": algorithm,
        "eye": eye,
        "sigma_deg": sigma_deg,
        "detector_params": detector_params or {},
        "stand_in": stand_in,
        "with_samples": with_samples,
    }
    if previous is not None:
        old = {k: previous["parameters"].get(k) for k in ("algorithm", "sigma_deg")}
        if old != {"algorithm": algorithm, "sigma_deg": sigma_deg}:
            raise ParameterError("append", params, f"the parameters the dataset was built with: {old}")
    image_sizes: dict[str, tuple[int, int]] = {}
    if previous is not None:
        st = previous["stimuli"]
        image_sizes = {
            str(i): (int(w), int(h)) for i, w, h in zip(st["id"], st["width_px"], st["height_px"], strict=True)
        }
    collected: list[_Session] = []
    quality: list[str] = []  # the readers' data-quality warnings, kept in the file's provenance
    for p in tqdm([Path(s) for s in sessions], desc="sessions", unit="session", disable=_hide(show), leave=False):
        sid = f"{p.parent.name}_{p.name}" if p.is_dir() else p.name.split(".")[0]
        if previous is not None and sid in set(previous["sessions"]["id"].astype(str)):
            raise ParameterError("sessions", str(p), "a recording not already in the dataset")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session = _collect_session(
                p,
                screen_cm=screen_cm,
                distance_cm=distance_cm,
                screen_px=screen_px,
                stimuli_dir=stimuli_path,
                trial_table=table,
                stand_in=stand_in,
                algorithm=algorithm,
                eye=eye,
                sigma_deg=sigma_deg,
                with_samples=with_samples,
                observer=None,
                detector_params=detector_params or {},
                image_sizes=image_sizes,
            )
        collected.append(session)
        quality += [f"{p.name}: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    ids = [s.row["id"] for s in collected]
    if len(set(ids)) != len(ids):
        raise ParameterError("sessions", ids, "recordings with distinct file names")
    tables = _merge(previous, collected, with_samples)
    history = (previous["history"] if previous else []) + [
        {
            "action": "append" if previous else "build",
            "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "software": f"gazelab {__version__}",
            "sessions": [s.row["source"] for s in collected],
        }
    ]
    notes = list(previous["notes"]) if previous else []
    if tables["stimuli"]["stand_in"].astype(bool).any() and STAND_IN_NOTE not in notes:
        notes.append(STAND_IN_NOTE)
    notes += quality
    with atomic_path(out) as tmp:
        _write(
            tmp,
            tables,
            params,
            history,
            notes,
            title,
            source=out if previous else None,
            n_old_stimuli=len(previous["stimuli"]) if previous else 0,
            progress=show,
            after_stimulus=_after_stimulus,
        )
        _check_result(tmp, out)
    return _report(out, tables, t0, notes)


def _report(out: Path, tables: dict[str, Any], t0: float, notes: Sequence[str]) -> BuildReport:
    """What a finished write produced (counts from the tables, size from the file)."""
    return BuildReport(
        path=out,
        sessions=len(tables["sessions"]),
        stimuli=len(tables["stimuli"]),
        observers=len(tables["observers"]),
        trials=len(tables["trials"]),
        fixations=len(tables["fixations"]),
        fixations_outside=int(tables["sessions"]["n_fixations_outside"].sum()),
        seconds=time.perf_counter() - t0,
        size_bytes=out.stat().st_size,
        notes=list(notes),
    )


def write_header(f: h5py.File, *, title: str, created_utc: str, modified_utc: str) -> None:
    """Root attributes of a dataset being written; ``complete`` stays 0 until the end."""
    f.attrs["format"] = schema.FORMAT_NAME
    f.attrs["format_version"] = schema.FORMAT_VERSION
    f.attrs["complete"] = 0
    f.attrs["title"] = title
    f.attrs["created_utc"] = created_utc
    f.attrs["modified_utc"] = modified_utc


def _hide(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _merge(previous: dict[str, Any] | None, collected: list[_Session], with_samples: bool) -> dict[str, Any]:
    """Combine earlier tables (rows kept, in order) with the new sessions' rows."""
    if previous is not None:
        sessions = previous["sessions"].copy()
        observers = previous["observers"].copy()
        stimuli = previous["stimuli"].copy()
        trials = previous["trials"].copy()
        fixations = previous["fixations"].copy()
        samples = previous["samples"]
        quality = [previous["quality"]] if previous.get("quality") is not None else []
        sigma_rows = [(str(i), float(s)) for i, s in zip(stimuli["id"], stimuli["sigma_px"], strict=True)]
    else:
        sessions = pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.TABLES["sessions"]})
        observers = pd.DataFrame({"id": pd.Series(dtype=object), "metadata_json": pd.Series(dtype=object)})
        stimuli = pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.TABLES["stimuli"]})
        trials = pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.TABLES["trials"]})
        fixations = pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.TABLES["fixations"]})
        samples = None
        quality = []
        sigma_rows = []
    obs_index = {str(v): i for i, v in enumerate(observers["id"])}
    stim_index = {str(v): i for i, v in enumerate(stimuli["id"])}
    new_obs, new_stim, new_sessions, new_trials, new_fix, new_samples = [], [], [], [], [], []
    for s in collected:
        if s.observer not in obs_index:
            obs_index[s.observer] = len(obs_index)
            new_obs.append({"id": s.observer, "metadata_json": "{}"})
        for t in s.trials:
            if t["observer"] not in obs_index:
                obs_index[t["observer"]] = len(obs_index)
                new_obs.append({"id": t["observer"], "metadata_json": "{}"})
        for sid, spec in s.stimuli.items():
            if sid not in stim_index:
                stim_index[sid] = len(stim_index)
                w, h = spec["size"]
                new_stim.append(
                    {
                        "id": sid,
                        "file_name": spec["file_name"],
                        "label": spec["label"],
                        "split": spec["split"],
                        "width_px": w,
                        "height_px": h,
                        "channels": 3,
                        "stand_in": int(spec["stand_in"]),
                        "sigma_px": np.nan,
                        "_path": spec["path"],
                    }
                )
        sess_row = len(sessions) + len(new_sessions)
        new_sessions.append(s.row | {"observer": obs_index[s.observer]})
        if s.quality is not None:
            quality.append(s.quality.assign(session=sess_row))
        base = len(trials) + len(new_trials)
        for t in s.trials:
            new_trials.append(
                {
                    "session": sess_row,
                    "trial": t["trial"],
                    "trial_id": t["trial_id"],
                    "stimulus": stim_index[t["stimulus"]],
                    "observer": obs_index[t["observer"]],
                    "stimulus_onset_ms": t["stimulus_onset_ms"],
                    "offset_ms": t["offset_ms"],
                    "left_px": t["left_px"],
                    "top_px": t["top_px"],
                    "scale": t["scale"],
                }
            )
        if len(s.fixations):
            f = s.fixations
            new_fix.append(
                pd.DataFrame(
                    {
                        "stimulus": f["stimulus"].map(stim_index).astype(np.int32),
                        "observer": f["observer"].map(obs_index).astype(np.int32),
                        "trial": (f["trial_key"] + base).astype(np.int32),
                        "x_px": f["x_px"],
                        "y_px": f["y_px"],
                        "onset_ms": f["onset_ms"],
                        "duration_ms": f["duration_ms"],
                        "order": f["order"].astype(np.int32),
                    }
                )
            )
        if with_samples and s.samples is not None and len(s.samples):
            new_samples.append(
                s.samples.assign(trial=(s.samples["trial_key"] + base).astype(np.int32)).drop(columns="trial_key")
            )
        sigma_rows += s.sigma
    if new_obs:
        observers = pd.concat([observers, pd.DataFrame(new_obs)], ignore_index=True)
    if new_stim:
        stimuli = pd.concat([stimuli, pd.DataFrame(new_stim)], ignore_index=True)
    sessions = pd.concat([sessions, pd.DataFrame(new_sessions)], ignore_index=True)
    if new_trials:
        trials = pd.concat([trials, pd.DataFrame(new_trials)], ignore_index=True)
    if new_fix:
        fixations = (
            pd.concat([fixations, *new_fix], ignore_index=True)
            if len(fixations)
            else pd.concat(new_fix, ignore_index=True)
        )
    if new_samples:
        samples = pd.concat(([samples] if samples is not None else []) + new_samples, ignore_index=True)
    # saliency sigma per stimulus: the median over the trials that showed it
    sig = pd.DataFrame(sigma_rows, columns=["id", "sigma_px"]).groupby("id")["sigma_px"].median()
    stimuli["sigma_px"] = stimuli["id"].astype(str).map(sig).astype(float)
    fixations = fixations.sort_values(["stimulus", "observer", "trial", "order"], kind="stable").reset_index(drop=True)
    if samples is not None:
        samples = samples.sort_values(["trial", "time_ms"], kind="stable").reset_index(drop=True)
    return {
        "sessions": sessions,
        "observers": observers,
        "stimuli": stimuli,
        "trials": trials,
        "fixations": fixations,
        "samples": samples,
        "quality": pd.concat(quality, ignore_index=True) if quality else None,
    }


def _offsets(keys: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(np.asarray(keys, dtype=np.int64), np.arange(n + 1), side="left").astype(np.int64)


def _image_bytes(row: pd.Series) -> bytes:
    """The bytes stored for a new stimulus: its file as published, or a PNG stand-in."""
    w, h = int(row["width_px"]), int(row["height_px"])
    if int(row["stand_in"]):
        return schema.encode_png(np.full((h, w, 3), 128, dtype=np.uint8))
    path = Path(row["_path"])
    raw = path.read_bytes()
    try:
        schema.decode_image(raw)  # fully decodable, not just a valid header
        got = schema.image_header(raw)
    except (ValueError, OSError) as exc:
        raise ParseError(path, f"cannot decode the image ({exc})") from None
    if got[:2] != (w, h):
        raise ParseError(path, f"image is {got[0]}x{got[1]}; expected {w}x{h}")
    return raw


def _write(
    tmp: Path,
    tables: dict[str, Any],
    params: dict[str, Any],
    history: list[dict[str, Any]],
    notes: list[str],
    title: str,
    *,
    source: Path | None,
    n_old_stimuli: int,
    progress: bool | None,
    after_stimulus: Callable[[int], None] | None,
) -> None:
    stimuli = tables["stimuli"]
    fixations = tables["fixations"]
    with h5py.File(tmp, "w") as f, h5py.File(source, "r") if source else contextlib.nullcontext() as old:
        write_header(f, title=title, created_utc=history[0]["time_utc"], modified_utc=history[-1]["time_utc"])
        for name, spec in schema.TABLES.items():
            schema.write_table(f, name, tables[name], spec)
        f["fixations"].create_dataset("stimulus_offsets", data=_offsets(fixations["stimulus"], len(stimuli)))
        if tables["samples"] is not None:
            g = schema.write_table(f, "samples", tables["samples"], schema.OPTIONAL_TABLES["samples"])
            g.create_dataset("trial_offsets", data=_offsets(tables["samples"]["trial"], len(tables["trials"])))
        if tables.get("quality") is not None:
            from gazelab.datasets.quality import write_quality

            write_quality(f, tables["quality"])
        imgs = f.create_group("stimuli/images")
        maps = f.create_group("maps/saliency")
        maps.attrs.update(
            {
                "normalization": "sum",
                "boundary": "reflect",
                "truncate_sigma": 4.0,
                "sigma_deg": float(params.get("sigma_deg") or np.nan),
                "units": "probability per image pixel",
                "stored_precision": f"float32 rounded to {24 - schema.MAP_DROPPED_BITS} significant bits",
            }
        )
        previews = f.create_group("maps/saliency_preview")
        previews.attrs["shorter_side_px"] = schema.PREVIEW_SIDE
        previews.attrs["method"] = "box filter (area average) of the full map, renormalised to sum 1"
        offsets = f["fixations/stimulus_offsets"][()]
        for i in tqdm(range(len(stimuli)), desc="stimuli", unit="stimulus", disable=_hide(progress), leave=False):
            check_interrupt()  # Ctrl-C stops the build here even if h5py swallowed it
            row = stimuli.iloc[i]
            w, h = int(row["width_px"]), int(row["height_px"])
            name = schema.image_path(i).rsplit("/", 1)[1]
            if old is not None and i < n_old_stimuli:
                old.copy(old[schema.image_path(i)], imgs, name=name)
            else:
                raw = _image_bytes(row)
                ds = imgs.create_dataset(name, data=np.frombuffer(raw, dtype=np.uint8))
                _, _, channels, fmt = schema.image_header(raw)
                ds.attrs["format"] = fmt
                stimuli.loc[i, "channels"] = channels
            a, b = int(offsets[i]), int(offsets[i + 1])
            fx = fixations.iloc[a:b]
            sigma = float(row["sigma_px"]) if np.isfinite(row["sigma_px"]) else 1.0
            m = schema.store_map(saliency_map(fx["x_px"].to_numpy(), fx["y_px"].to_numpy(), (h, w), sigma))
            ds = maps.create_dataset(name, data=m, chunks=m.shape, compression="gzip", compression_opts=4, shuffle=True)
            ds.attrs["sigma_px"] = sigma
            ds.attrs["n_fixations"] = b - a
            # previews are read on every training step: stored uncompressed (a read costs 0.08 ms
            # instead of 0.6-0.7 ms to decompress; benchmarks/bench_hdf5_layout.py)
            previews.create_dataset(name, data=schema.preview_map(m).astype(np.float32))
            if after_stimulus is not None:
                after_stimulus(i)
        f["stimuli/channels"][...] = stimuli["channels"].to_numpy(np.int32)
        prov = f.create_group("provenance")
        prov.attrs["software"] = "gazelab"
        prov.attrs["software_version"] = __version__
        prov.attrs["python"] = platform.python_version()
        prov.attrs["parameters_json"] = json.dumps(params, default=str)
        prov.attrs["history_json"] = json.dumps(history)
        prov.attrs["notes"] = "\n".join(notes)
        for key in ("licence", "citation", "source_url"):
            if params.get(key):
                prov.attrs[key] = str(params[key])
        _write_checksums(f)
        f.attrs["complete"] = 1


def write_tables(
    out: str | Path,
    tables: dict[str, Any],
    params: dict[str, Any],
    *,
    notes: Sequence[str] = (),
    title: str = "",
    action: str,
    sources: Sequence[str] = (),
    progress: bool | None = None,
) -> BuildReport:
    """Write a complete dataset from ready tables, atomically (what importers use).

    The result is validated before it replaces ``out``; an invalid one raises
    :class:`~gazelab.errors.GazelabError` and leaves ``out`` as it was. Whether an existing
    ``out`` may be replaced is the caller's check (:func:`gazelab._io.check_output`).

    ``tables`` holds DataFrames ``sessions``, ``observers``, ``stimuli`` (with a ``_path`` column
    naming each image file), ``trials``, ``fixations`` (sorted by stimulus) and ``samples``
    (or None), with the columns of :mod:`gazelab.datasets.schema`.
    """
    t0 = time.perf_counter()
    out = Path(out)
    history = [
        {
            "action": action,
            "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "software": f"gazelab {__version__}",
            "sessions": list(sources),
        }
    ]
    fx = tables["fixations"]
    tables["fixations"] = fx.sort_values(["stimulus", "observer", "trial", "order"], kind="stable").reset_index(
        drop=True
    )
    with atomic_path(out) as tmp:
        _write(
            tmp,
            tables,
            params,
            history,
            list(notes),
            title,
            source=None,
            n_old_stimuli=0,
            progress=progress,
            after_stimulus=None,
        )
        _check_result(tmp, out)
    return _report(out, tables, t0, notes)


def _write_checksums(f: h5py.File) -> None:
    paths: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and not name.startswith("checksums"):
            paths.append("/" + name)

    f.visititems(visit)
    paths.sort()
    g = f.create_group("checksums")
    g.create_dataset("path", data=np.array(paths, dtype=object), dtype=schema.STR)
    g.create_dataset(
        "sha256", data=np.array([schema.array_sha256(f[p]) for p in paths], dtype=object), dtype=schema.STR
    )
