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
import functools
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


@dataclass
class _SessionParts:
    """What a session's trials add up to, trial by trial."""

    observer: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    stimuli: dict[str, dict[str, Any]] = field(default_factory=dict)
    sigma: list[tuple[str, float]] = field(default_factory=list)
    fixations: list[pd.DataFrame] = field(default_factory=list)
    samples: list[pd.DataFrame] = field(default_factory=list)
    n_outside: int = 0
    video_trials: list[int] = field(default_factory=list)

    def add_trial(
        self, tri: Any, stim_id: str, spec: dict[str, Any], size: tuple[int, int], onset_ms: float, placement: Placement
    ) -> int:
        """Record a trial's stimulus and trial row; returns the trial's key within the session."""
        self.stimuli.setdefault(
            stim_id, {k: spec[k] for k in ("file_name", "label", "split", "stand_in", "path")} | {"size": size}
        )
        self.trials.append(
            {
                "trial": int(tri.trial),
                "trial_id": str(tri.trial_id),
                "stimulus": stim_id,
                "observer": self.observer,
                "stimulus_onset_ms": onset_ms,
                "offset_ms": float(tri.offset_ms),
                "left_px": placement.left_px,
                "top_px": placement.top_px,
                "scale": placement.scale,
            }
        )
        return len(self.trials) - 1


def _best_eye(rec: Recording) -> str:
    valid = {e: int(rec.samples[f"x_{eye_name(e)}_px"].notna().sum()) for e in rec.eyes}
    return max(rec.eyes, key=lambda e: (valid[e], e == "R"))


def _session_id(path: Path) -> str:
    """A session's id: a session folder (sub-P01/ses-1) is named by its parent too; files by their stem."""
    return f"{path.parent.name}_{path.name}" if path.is_dir() else path.name.split(".")[0]


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
    detector_params: dict[str, Any],
    image_sizes: dict[str, tuple[int, int]],
) -> _Session:
    """Read one recording, detect its fixations, find each trial's stimulus and placement, and
    map the trial's fixations (and samples) to image px; ``image_sizes`` gains the new stimuli."""
    rec = read(path)
    geometry = _session_geometry(rec, path, screen_px, screen_cm, distance_cm)
    use_eye = _session_eye(rec, eye, path)
    fix = detect_fixations(rec, geometry, algorithm=algorithm, eyes=use_eye, **detector_params)
    stem = _session_id(path)
    rows = None if trial_table is None else trial_table[trial_table["recording"].isin([path.name, stem])]
    trials, fix = _trials_or_whole_recording(rec, fix, rows, stand_in, path)
    parts = _SessionParts(observer=str(rec.metadata.get("participant") or stem))
    messages = rec.messages
    for tri in trials.itertuples(index=False):
        found = _trial_stimulus(tri, rows, messages, geometry, stand_in, path)
        if found is None:
            parts.video_trials.append(int(tri.trial))  # a video trial: build_video_dataset serves those
            continue
        spec, onset, table_observer = found
        parts.observer = table_observer or parts.observer
        stim_id = Path(spec["file_name"]).stem
        _locate_stimulus(spec, stim_id, stand_in, stimuli_dir, image_sizes, geometry, int(tri.trial), path)
        size = image_sizes[stim_id]
        placement = _placement(spec["how"], size, geometry, spec["x"], spec["y"], spec["w"], spec["scale"])
        key = parts.add_trial(tri, stim_id, spec, size, onset, placement)
        parts.sigma.append((stim_id, sigma_deg_to_image_px(sigma_deg, geometry, placement)))
        on_image, n_outside = _trial_fixations(fix, tri, onset, placement, stim_id, parts.observer, key)
        parts.fixations.append(on_image)
        parts.n_outside += n_outside
        if with_samples:
            parts.samples.append(_trial_samples(rec.samples, int(tri.trial), use_eye, onset, key))
    _warn_video_trials(path, parts.video_trials)
    return _finish_session(rec, path, stem, geometry, use_eye, parts)


def _session_geometry(
    rec: Recording,
    path: Path,
    screen_px: tuple[int, int] | None,
    screen_cm: tuple[float, float],
    distance_cm: float,
) -> Geometry:
    """The screen of a session: the given resolution or the recording's own."""
    size = screen_px or rec.screen_px
    if size is None:
        raise ParameterError("screen_px", None, f"the screen resolution: {path} does not state it")
    return Geometry(size[0], size[1], screen_cm[0], screen_cm[1], distance_cm)


def _session_eye(rec: Recording, eye: str, path: Path) -> str:
    """The eye whose fixations are used ('best': the one with the most valid samples)."""
    use_eye = _best_eye(rec) if eye == "best" else eye.upper()
    if use_eye not in rec.eyes:
        raise ParameterError("eye", eye, f"'best' or one of the recorded eyes {list(rec.eyes)} of {path}")
    return use_eye


def _trials_or_whole_recording(
    rec: Recording, fix: pd.DataFrame, rows: pd.DataFrame | None, stand_in: bool, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The recording's trials and fixations; without trials, the whole recording is trial 1."""
    if len(rec.trials):
        return rec.trials, fix
    if not stand_in and (rows is None or len(rows) == 0):
        raise ParseError(path, "the recording has no trials (TRIALID messages); supply a trial table")
    t = rec.samples["time_ms"].to_numpy()
    whole = pd.DataFrame(
        {
            "trial": [1],
            "trial_id": ["1"],
            "onset_ms": [t[0]],
            "offset_ms": [t[-1]],
            "image": [pd.NA],
            "image_position": [pd.NA],
        }
    )
    return whole, fix.assign(trial=pd.array([1] * len(fix), dtype="Int64"))


# where a stand-in stimulus lies: at the screen's top-left corner, image px = screen px
_STAND_IN_PLACEMENT = {"stand_in": True, "how": "top_left", "x": 0.0, "y": 0.0, "w": None, "scale": 1.0}


def _trial_stimulus(
    tri: Any, rows: pd.DataFrame | None, messages: pd.DataFrame, geometry: Geometry, stand_in: bool, path: Path
) -> tuple[dict[str, Any], float, str | None] | None:
    """Which stimulus a trial showed and where, from the trial table, ``!V IMGLOAD`` or a stand-in.

    Returns (spec, stimulus onset in ms on the recording clock, the table's observer or None),
    or None for a video trial.
    """
    trial_no = int(tri.trial)
    onset = float(tri.onset_ms)
    if rows is not None and len(rows):
        m = rows[(rows["trial"] == str(trial_no)) | (rows["trial"] == str(tri.trial_id))]
        if len(m):
            return _spec_from_table(m.iloc[0], trial_no, onset)
    names_image = getattr(tri, "image", None) is not None and tri.image is not pd.NA and bool(str(tri.image))
    if names_image:
        return _spec_from_imgload(tri), _imgload_onset(messages, trial_no, onset), None
    if ((messages["trial"] == trial_no) & messages["text"].str.startswith("!V VFRAME")).any():
        return None
    if stand_in:
        file_name = f"stand-in-{geometry.width_px}x{geometry.height_px}.png"
        return {"file_name": file_name, "label": "", "split": ""} | _STAND_IN_PLACEMENT, onset, None
    raise ParseError(
        path,
        f"trial {trial_no} names no stimulus (no !V IMGLOAD message and no trial-table row); "
        "supply --trial-table, or --stand-in for recordings that shipped no stimuli",
    )


def _num_or_none(value: Any) -> float | None:
    v = _num(value, np.nan)
    return None if np.isnan(v) else v


def _spec_from_table(match: pd.Series, trial_no: int, onset_ms: float) -> tuple[dict[str, Any], float, str | None]:
    """A trial's stimulus as its trial-table row names it (and the onset and observer it may set)."""
    file_name = safe_name(str(match["stimulus"]), f"trial-table stimulus of trial {trial_no}")
    spec = {
        "file_name": file_name,
        "label": str(match.get("label", "")),
        "split": str(match.get("split", "")),
        "stand_in": False,
        "how": str(match.get("placement", "") or "center"),
        "x": _num_or_none(match.get("x_px")),
        "y": _num_or_none(match.get("y_px")),
        "w": None,
        "scale": _num_or_none(match.get("scale")),
    }
    observer = str(match["observer"]) if "observer" in match.index and str(match["observer"]) else None
    return spec, _num(match.get("onset_ms"), onset_ms), observer


def _spec_from_imgload(tri: Any) -> dict[str, Any]:
    """A trial's stimulus as the recording's ``!V IMGLOAD`` message names and places it."""
    return {
        "file_name": Path(str(tri.image).replace("\\", "/")).name,
        "label": "",
        "split": "",
        "stand_in": False,
        "how": str(tri.image_position or "fill"),
        "x": _num_or_none(tri.image_x_px),
        "y": _num_or_none(tri.image_y_px),
        "w": _num_or_none(tri.image_width_px),
        "scale": None,
    }


def _imgload_onset(messages: pd.DataFrame, trial_no: int, onset_ms: float) -> float:
    """Stimulus onset: the trial's first ``!V IMGLOAD`` message (else the trial's start)."""
    hit = messages[(messages["trial"] == trial_no) & messages["text"].str.startswith("!V IMGLOAD")]
    return float(hit["time_ms"].iloc[0]) if len(hit) else onset_ms


def _locate_stimulus(
    spec: dict[str, Any],
    stim_id: str,
    stand_in: bool,
    stimuli_dir: Path | None,
    image_sizes: dict[str, tuple[int, int]],
    geometry: Geometry,
    trial_no: int,
    path: Path,
) -> None:
    """Find a trial's stimulus file and its size (``spec["path"]``, ``image_sizes``).

    With ``stand_in``, a stimulus named but not shipped becomes a screen-sized stand-in under its own id.
    """
    if stand_in and not spec["stand_in"] and stim_id not in image_sizes:
        available = stimuli_dir is not None and inside_folder(stimuli_dir, spec["file_name"], "stimulus").is_file()
        if not available:
            spec.update(_STAND_IN_PLACEMENT)
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
        spec["path"] = inside_folder(stimuli_dir, spec["file_name"], "stimulus") if stimuli_dir is not None else None


def _trial_fixations(
    fix: pd.DataFrame, tri: Any, onset_ms: float, placement: Placement, stim_id: str, observer: str, key: int
) -> tuple[pd.DataFrame, int]:
    """A trial's fixations from stimulus onset to trial end in image px (onset from stimulus
    onset), and how many fell outside the image (dropped)."""
    f = fix[(fix["trial"] == int(tri.trial)).fillna(False).to_numpy()]
    f = f[(f["onset_ms"] >= onset_ms) & (f["onset_ms"] <= float(tri.offset_ms))].reset_index(drop=True)
    xi, yi, inside = to_image_px(f["x_px"].to_numpy(), f["y_px"].to_numpy(), placement)
    on_image = pd.DataFrame(
        {
            "stimulus": stim_id,
            "observer": observer,
            "trial_key": key,
            "x_px": xi[inside],
            "y_px": yi[inside],
            "onset_ms": f["onset_ms"].to_numpy()[inside] - onset_ms,
            "duration_ms": f["duration_ms"].to_numpy()[inside],
            "order": np.arange(len(f))[inside],
        }
    )
    return on_image, int((~inside).sum())


def _trial_samples(samples: pd.DataFrame, trial_no: int, eye: str, onset_ms: float, key: int) -> pd.DataFrame:
    """A trial's raw samples of one eye (screen px; time from stimulus onset)."""
    sel = (samples["trial"] == trial_no).fillna(False).to_numpy()
    n = eye_name(eye)
    return pd.DataFrame(
        {
            "trial_key": key,
            "time_ms": samples["time_ms"].to_numpy()[sel] - onset_ms,
            "x_px": samples[f"x_{n}_px"].to_numpy()[sel],
            "y_px": samples[f"y_{n}_px"].to_numpy()[sel],
            "pupil": samples[f"pupil_{n}"].to_numpy()[sel],
        }
    )


def _warn_video_trials(path: Path, video_trials: list[int]) -> None:
    if video_trials:
        warnings.warn(
            f"{path}: {len(video_trials)} video trial(s) {video_trials[:5]} left out of this image dataset "
            "(video stimuli go into video datasets: gazelab.datasets.video.build_video_dataset)",
            stacklevel=5,  # the caller of build_dataset
        )


def _finish_session(
    rec: Recording, path: Path, stem: str, geometry: Geometry, eye: str, parts: _SessionParts
) -> _Session:
    """The session's row, its trials' rows joined, and the data quality of its recording."""
    from gazelab.preprocessing.quality import trial_quality

    row = {
        "id": stem,
        "source": path.name,
        "source_sha256": sha256_path(path),
        "format": rec.format,
        "eye": eye,
        "sampling_rate_hz": rec.sampling_rate_hz,
        "screen_width_px": geometry.width_px,
        "screen_height_px": geometry.height_px,
        "screen_width_cm": geometry.width_cm,
        "screen_height_cm": geometry.height_cm,
        "distance_cm": geometry.distance_cm,
        "n_fixations_outside": parts.n_outside,
    }
    fixations = pd.concat(parts.fixations, ignore_index=True) if parts.fixations else pd.DataFrame()
    samples = pd.concat(parts.samples, ignore_index=True) if parts.samples else None
    quality = trial_quality(rec, geometry, name=stem)
    return _Session(row, parts.observer, parts.trials, fixations, samples, parts.stimuli, parts.sigma, quality)


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
    stimuli_path, table = _check_build_inputs(sessions, out, stimuli_dir, trial_table, append, overwrite)
    previous = _existing(out) if append else None
    params = {
        "algorithm": algorithm,
        "eye": eye,
        "sigma_deg": sigma_deg,
        "detector_params": detector_params or {},
        "stand_in": stand_in,
        "with_samples": with_samples,
    }
    _check_append_parameters(previous, params)
    collect = functools.partial(
        _collect_session,
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
        detector_params=detector_params or {},
        image_sizes=_known_image_sizes(previous),
    )
    collected, quality = _collect_sessions(sessions, collect, previous, progress)
    tables = _merge(previous, collected, with_samples)
    action = "append" if previous else "build"
    history = (previous["history"] if previous else []) + [_history_entry(action, [s.row["source"] for s in collected])]
    notes = _dataset_notes(previous, tables, quality)
    n_old_stimuli = len(previous["stimuli"]) if previous else 0
    source = out if previous else None
    return _write(
        out,
        tables,
        params,
        history,
        notes,
        title,
        t0=t0,
        progress=progress,
        source=source,
        n_old_stimuli=n_old_stimuli,
        after_stimulus=_after_stimulus,
    )


def _check_build_inputs(
    sessions: Sequence[str | Path],
    out: Path,
    stimuli_dir: str | Path | None,
    trial_table: str | Path | pd.DataFrame | None,
    append: bool,
    overwrite: bool,
) -> tuple[Path | None, pd.DataFrame | None]:
    """Check a build's inputs and output before reading any session; returns the stimuli folder
    and the trial table (read)."""
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
    return stimuli_path, table


def _check_append_parameters(previous: dict[str, Any] | None, params: dict[str, Any]) -> None:
    """Appending keeps the detector and the map sigma the dataset was built with."""
    if previous is None:
        return
    old = {k: previous["parameters"].get(k) for k in ("algorithm", "sigma_deg")}
    if old != {"algorithm": params["algorithm"], "sigma_deg": params["sigma_deg"]}:
        raise ParameterError("append", params, f"the parameters the dataset was built with: {old}")


def _known_image_sizes(previous: dict[str, Any] | None) -> dict[str, tuple[int, int]]:
    """Stimulus id -> (width, height) px of the stimuli already in the dataset."""
    if previous is None:
        return {}
    st = previous["stimuli"]
    return {str(i): (int(w), int(h)) for i, w, h in zip(st["id"], st["width_px"], st["height_px"], strict=True)}


def _collect_sessions(
    sessions: Sequence[str | Path],
    collect: Callable[[Path], _Session],
    previous: dict[str, Any] | None,
    progress: bool | None,
) -> tuple[list[_Session], list[str]]:
    """Collect each session in turn; returns them and the readers' data-quality warnings (kept
    in the file's provenance)."""
    collected: list[_Session] = []
    quality: list[str] = []
    for p in tqdm([Path(s) for s in sessions], desc="sessions", unit="session", disable=_hide(progress), leave=False):
        if previous is not None and _session_id(p) in set(previous["sessions"]["id"].astype(str)):
            raise ParameterError("sessions", str(p), "a recording not already in the dataset")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            collected.append(collect(p))
        quality += [f"{p.name}: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    ids = [s.row["id"] for s in collected]
    if len(set(ids)) != len(ids):
        raise ParameterError("sessions", ids, "recordings with distinct file names")
    return collected, quality


def _history_entry(action: str, sessions: Sequence[str]) -> dict[str, Any]:
    """One entry of the file's history: what was done, when, by which gazelab, to which sessions."""
    return {
        "action": action,
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": f"gazelab {__version__}",
        "sessions": list(sessions),
    }


def _dataset_notes(previous: dict[str, Any] | None, tables: dict[str, Any], quality: list[str]) -> list[str]:
    """The file's notes: the earlier ones, the stand-in note when stand-ins are used, the new warnings."""
    notes = list(previous["notes"]) if previous else []
    if tables["stimuli"]["stand_in"].astype(bool).any() and STAND_IN_NOTE not in notes:
        notes.append(STAND_IN_NOTE)
    return notes + quality


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


_TABLE_NAMES = ("sessions", "observers", "stimuli", "trials", "fixations")


def _merge(previous: dict[str, Any] | None, collected: list[_Session], with_samples: bool) -> dict[str, Any]:
    """Combine earlier tables (rows kept, in order) with the new sessions' rows."""
    tables, quality, sigma_rows = _tables_so_far(previous)
    obs_index = {str(v): i for i, v in enumerate(tables["observers"]["id"])}
    stim_index = {str(v): i for i, v in enumerate(tables["stimuli"]["id"])}
    new: dict[str, list[Any]] = {name: [] for name in (*_TABLE_NAMES, "samples")}
    for s in collected:
        new["observers"] += _new_observers(s, obs_index)
        new["stimuli"] += _new_stimuli(s, stim_index)
        session = len(tables["sessions"]) + len(new["sessions"])
        new["sessions"].append(s.row | {"observer": obs_index[s.observer]})
        if s.quality is not None:
            quality.append(s.quality.assign(session=session))
        first_trial = len(tables["trials"]) + len(new["trials"])
        new["trials"] += [_trial_record(t, session, stim_index, obs_index) for t in s.trials]
        if len(s.fixations):
            new["fixations"].append(_fixation_records(s.fixations, first_trial, stim_index, obs_index))
        if with_samples and s.samples is not None and len(s.samples):
            trial = (s.samples["trial_key"] + first_trial).astype(np.int32)
            new["samples"].append(s.samples.assign(trial=trial).drop(columns="trial_key"))
        sigma_rows += s.sigma
    tables = _append_rows(tables, new)
    # saliency sigma per stimulus: the median over the trials that showed it
    sig = pd.DataFrame(sigma_rows, columns=["id", "sigma_px"]).groupby("id")["sigma_px"].median()
    tables["stimuli"]["sigma_px"] = tables["stimuli"]["id"].astype(str).map(sig).astype(float)
    tables["fixations"] = _sorted_fixations(tables["fixations"])
    if tables["samples"] is not None:
        tables["samples"] = tables["samples"].sort_values(["trial", "time_ms"], kind="stable").reset_index(drop=True)
    tables["quality"] = pd.concat(quality, ignore_index=True) if quality else None
    return tables


def _tables_so_far(
    previous: dict[str, Any] | None,
) -> tuple[dict[str, Any], list[pd.DataFrame], list[tuple[str, float]]]:
    """The earlier tables (copies; empty ones for a new build), their quality rows and sigmas."""
    if previous is None:
        empty = {
            name: pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.TABLES[name]}) for name in _TABLE_NAMES
        }
        return empty | {"samples": None}, [], []
    tables = {name: previous[name].copy() for name in _TABLE_NAMES} | {"samples": previous["samples"]}
    quality = [previous["quality"]] if previous.get("quality") is not None else []
    st = tables["stimuli"]
    return tables, quality, [(str(i), float(s)) for i, s in zip(st["id"], st["sigma_px"], strict=True)]


def _new_observers(s: _Session, obs_index: dict[str, int]) -> list[dict[str, Any]]:
    """Rows for the session's observers not seen before (numbered on in ``obs_index``)."""
    rows = []
    for observer in [s.observer, *(t["observer"] for t in s.trials)]:
        if observer not in obs_index:
            obs_index[observer] = len(obs_index)
            rows.append({"id": observer, "metadata_json": "{}"})
    return rows


def _new_stimuli(s: _Session, stim_index: dict[str, int]) -> list[dict[str, Any]]:
    """Rows for the session's stimuli not seen before (numbered on in ``stim_index``); the
    sigma comes later, the image file rides along in ``_path``."""
    rows = []
    for sid, spec in s.stimuli.items():
        if sid not in stim_index:
            stim_index[sid] = len(stim_index)
            w, h = spec["size"]
            rows.append(
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
    return rows


def _trial_record(t: dict[str, Any], session: int, stim_index: dict[str, int], obs_index: dict[str, int]) -> dict:
    """A /trials row: the collected trial with its session, stimulus and observer as row numbers."""
    return {
        "session": session,
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


def _fixation_records(
    f: pd.DataFrame, first_trial: int, stim_index: dict[str, int], obs_index: dict[str, int]
) -> pd.DataFrame:
    """/fixations rows of a session: ids and trial keys become row numbers."""
    return pd.DataFrame(
        {
            "stimulus": f["stimulus"].map(stim_index).astype(np.int32),
            "observer": f["observer"].map(obs_index).astype(np.int32),
            "trial": (f["trial_key"] + first_trial).astype(np.int32),
            "x_px": f["x_px"],
            "y_px": f["y_px"],
            "onset_ms": f["onset_ms"],
            "duration_ms": f["duration_ms"],
            "order": f["order"].astype(np.int32),
        }
    )


def _append_rows(tables: dict[str, Any], new: dict[str, list[Any]]) -> dict[str, Any]:
    """The tables with the new rows after the earlier ones."""
    out = dict(tables)
    for name in ("observers", "stimuli", "trials"):
        if new[name]:
            out[name] = pd.concat([tables[name], pd.DataFrame(new[name])], ignore_index=True)
    out["sessions"] = pd.concat([tables["sessions"], pd.DataFrame(new["sessions"])], ignore_index=True)
    if new["fixations"]:
        old = [tables["fixations"]] if len(tables["fixations"]) else []
        out["fixations"] = pd.concat([*old, *new["fixations"]], ignore_index=True)
    if new["samples"]:
        old = [tables["samples"]] if tables["samples"] is not None else []
        out["samples"] = pd.concat([*old, *new["samples"]], ignore_index=True)
    return out


def _sorted_fixations(fixations: pd.DataFrame) -> pd.DataFrame:
    """Fixations in file order: by stimulus (so /fixations/stimulus_offsets can index them), observer, trial, order."""
    return fixations.sort_values(["stimulus", "observer", "trial", "order"], kind="stable").reset_index(drop=True)


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
    out: Path,
    tables: dict[str, Any],
    params: dict[str, Any],
    history: list[dict[str, Any]],
    notes: list[str],
    title: str,
    *,
    t0: float,
    progress: bool | None,
    source: Path | None = None,
    n_old_stimuli: int = 0,
    after_stimulus: Callable[[int], None] | None = None,
) -> BuildReport:
    """Write the dataset into a temporary file beside ``out`` (header, tables, images and maps,
    provenance, checksums, then ``complete``), validate it and rename it into place.

    ``source`` is the dataset being appended to: its first ``n_old_stimuli`` images are copied.
    """
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f, h5py.File(source, "r") if source else contextlib.nullcontext() as old:
            write_header(f, title=title, created_utc=history[0]["time_utc"], modified_utc=history[-1]["time_utc"])
            _write_all_tables(f, tables)
            _write_images_and_maps(f, old, tables, params, n_old_stimuli, progress, after_stimulus)
            _write_provenance(f, params, history, notes)
            _write_checksums(f)
            f.attrs["complete"] = 1
        _check_result(tmp, out)
    return _report(out, tables, t0, notes)


def _write_all_tables(f: h5py.File, tables: dict[str, Any]) -> None:
    """The tables, with the offsets that index fixations by stimulus and samples by trial."""
    for name, spec in schema.TABLES.items():
        schema.write_table(f, name, tables[name], spec)
    f["fixations"].create_dataset(
        "stimulus_offsets", data=_offsets(tables["fixations"]["stimulus"], len(tables["stimuli"]))
    )
    if tables["samples"] is not None:
        g = schema.write_table(f, "samples", tables["samples"], schema.OPTIONAL_TABLES["samples"])
        g.create_dataset("trial_offsets", data=_offsets(tables["samples"]["trial"], len(tables["trials"])))
    if tables.get("quality") is not None:
        from gazelab.datasets.quality import write_quality

        write_quality(f, tables["quality"])


def _write_images_and_maps(
    f: h5py.File,
    old: h5py.File | None,
    tables: dict[str, Any],
    params: dict[str, Any],
    n_old_stimuli: int,
    progress: bool | None,
    after_stimulus: Callable[[int], None] | None,
) -> None:
    """Each stimulus's image (copied from ``old`` for its first ``n_old_stimuli``), saliency map
    and map preview; /stimuli/channels from the images."""
    stimuli, fixations = tables["stimuli"], tables["fixations"]
    imgs = f.create_group("stimuli/images")
    maps, previews = _map_groups(f, params)
    offsets = f["fixations/stimulus_offsets"][()]
    for i in tqdm(range(len(stimuli)), desc="stimuli", unit="stimulus", disable=_hide(progress), leave=False):
        check_interrupt()  # Ctrl-C stops the build here even if h5py swallowed it
        row = stimuli.iloc[i]
        name = schema.image_path(i).rsplit("/", 1)[1]
        if old is not None and i < n_old_stimuli:
            old.copy(old[schema.image_path(i)], imgs, name=name)
        else:
            stimuli.loc[i, "channels"] = _write_image(imgs, name, row)
        _write_map(maps, previews, name, row, fixations.iloc[int(offsets[i]) : int(offsets[i + 1])])
        if after_stimulus is not None:
            after_stimulus(i)
    f["stimuli/channels"][...] = stimuli["channels"].to_numpy(np.int32)


def _map_groups(f: h5py.File, params: dict[str, Any]) -> tuple[h5py.Group, h5py.Group]:
    """The groups of the saliency maps and their previews, with attributes saying how they were made."""
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
    return maps, previews


def _write_image(imgs: h5py.Group, name: str, row: pd.Series) -> int:
    """Store a new stimulus's encoded image; returns its number of channels."""
    raw = _image_bytes(row)
    ds = imgs.create_dataset(name, data=np.frombuffer(raw, dtype=np.uint8))
    _, _, channels, fmt = schema.image_header(raw)
    ds.attrs["format"] = fmt
    return channels


def _write_map(maps: h5py.Group, previews: h5py.Group, name: str, row: pd.Series, fx: pd.DataFrame) -> None:
    """A stimulus's saliency map from its fixations (gzip) and its preview (uncompressed)."""
    w, h = int(row["width_px"]), int(row["height_px"])
    sigma = float(row["sigma_px"]) if np.isfinite(row["sigma_px"]) else 1.0
    m = schema.store_map(saliency_map(fx["x_px"].to_numpy(), fx["y_px"].to_numpy(), (h, w), sigma))
    ds = maps.create_dataset(name, data=m, chunks=m.shape, compression="gzip", compression_opts=4, shuffle=True)
    ds.attrs["sigma_px"] = sigma
    ds.attrs["n_fixations"] = len(fx)
    # previews are read on every training step: stored uncompressed (a read costs 0.08 ms
    # instead of 0.6-0.7 ms to decompress; benchmarks/bench_hdf5_layout.py)
    previews.create_dataset(name, data=schema.preview_map(m).astype(np.float32))


def _write_provenance(f: h5py.File, params: dict[str, Any], history: list[dict[str, Any]], notes: list[str]) -> None:
    """Software, parameters, history and notes (and licence, citation, source when given)."""
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
    history = [_history_entry(action, sources)]
    tables["fixations"] = _sorted_fixations(tables["fixations"])
    return _write(out, tables, params, history, list(notes), title, t0=t0, progress=progress)


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
