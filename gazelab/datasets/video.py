"""Video stimuli: per-frame saliency maps and the optional ``/videos`` part of a dataset.

The action-recognition case of Lai et al. (TMM): observers watch videos; each frame gets the
density of the fixations that were in progress during it. Frame ``f`` spans
``[f, f + 1) * 1000 / fps`` ms from the video start; a fixation counts in every frame it
overlaps, weighted by the overlap in ms, so a fixation present for half a frame counts half.
The per-frame maps are Gaussian densities (as :func:`gazelab.preprocessing.maps.saliency_map`),
each normalised to sum 1 (all zeros for a frame without fixations), computed on the frame grid
reduced so that its shorter side is at most 256 px (the training resolution; the frames
themselves are stored as published).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab import __version__
from gazelab._io import atomic_path, check_output
from gazelab.datasets import schema
from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.maps import saliency_map

__all__ = ["build_video_dataset", "frame_saliency_maps"]

_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


def frame_saliency_maps(
    x_px: np.ndarray,
    y_px: np.ndarray,
    onset_ms: np.ndarray,
    duration_ms: np.ndarray,
    *,
    n_frames: int,
    fps: float,
    shape: tuple[int, int],
    sigma_px: float,
) -> np.ndarray:
    """Per-frame saliency maps of fixations on a video.

    Parameters
    ----------
    x_px, y_px : ndarray
        Fixation positions in px of the map grid ``shape``.
    onset_ms, duration_ms : ndarray
        Fixation start (ms from the video start) and duration (ms).
    n_frames : int
        Number of frames.
    fps : float
        Frame rate, frames/s.
    shape : (int, int)
        Map ``(height, width)`` px.
    sigma_px : float
        Gaussian sigma in px of that grid.

    Returns
    -------
    ndarray, float32, shape (n_frames, height, width)
        Each frame's map sums to 1 (0 where no fixation overlaps the frame).
    """
    if not fps > 0:
        raise ParameterError("fps", fps, "a frame rate > 0 (frames/s)")
    on = np.asarray(onset_ms, float)
    off = on + np.asarray(duration_ms, float)
    period = 1000.0 / fps
    out = np.zeros((n_frames, *shape), dtype=np.float32)
    for f in range(n_frames):
        t0, t1 = f * period, (f + 1) * period
        overlap = np.minimum(off, t1) - np.maximum(on, t0)
        active = overlap > 0
        if active.any():
            out[f] = saliency_map(x_px[active], y_px[active], shape, sigma_px, weights=overlap[active])
    return out


def _frames(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES)
    if not files:
        raise ParseError(folder, f"no frame images ({', '.join(_FRAME_SUFFIXES)}) in the folder")
    return files


def build_video_dataset(
    videos: Sequence[str | Path],
    fixations: str | Path | pd.DataFrame,
    out: str | Path,
    *,
    fps: float,
    sigma_px: float | None = None,
    labels: Mapping[str, str] | None = None,
    splits: Mapping[str, str] | None = None,
    title: str = "",
    overwrite: bool = False,
) -> Path:
    """Write a video gaze dataset: frames, fixations and per-frame saliency maps.

    Parameters
    ----------
    videos : sequence of path
        One folder per video holding its frames as image files (sorted by name = frame order);
        the folder name is the video id.
    fixations : path or DataFrame
        CSV (or table) with ``video`` (id), ``observer``, ``x_px``, ``y_px`` (frame px),
        ``onset_ms`` (from the video start) and ``duration_ms``.
    out : path
        The dataset file (written atomically).
    fps : float
        Frame rate of the videos, frames/s.
    sigma_px : float, optional
        Map sigma in frame px; default 3 % of the frame's larger side.
    labels, splits : mapping, optional
        Video id -> class label / split name.
    title : str, optional
        Dataset title.
    overwrite : bool, optional
        Replace an existing ``out`` (only once the new file is complete); default False: an
        existing file is refused.

    Returns
    -------
    Path

    Raises
    ------
    ParameterError
        When ``out`` exists and ``overwrite`` is False, or is one of the video folders.
    """
    from gazelab.datasets.release import _write_checksums, write_header

    out = check_output(out, overwrite=overwrite, inputs=tuple(videos))

    folders = [Path(v) for v in videos]
    ids = [p.name for p in folders]
    if len(set(ids)) != len(ids):
        raise ParameterError("videos", ids, "folders with distinct names (the video ids)")
    fx = _read_video_fixations(fixations, ids)
    observers = sorted(fx["observer"].astype(str).unique())
    table, frames = _video_table(ids, folders, fps, sigma_px, labels, splits)
    fx, dropped = _index_fixations(fx, ids, observers, table)
    import h5py

    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        write_header(f, title=title, created_utc=created, modified_utc=created)
        _write_empty_image_part(f, observers)
        _write_video_tables(f, table, fx)
        _write_frames_and_maps(f, table, frames, fx, fps)
        _write_video_provenance(f, {"fps": fps, "sigma_px": sigma_px, "videos": ids}, dropped)
        _write_checksums(f)
        f.attrs["complete"] = 1
    return out


_VIDEO_FIXATION_COLUMNS = ["video", "observer", "x_px", "y_px", "onset_ms", "duration_ms"]


def _read_video_fixations(fixations: str | Path | pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """The fixation table (a copy), its columns and video ids checked."""
    fx = pd.read_csv(fixations) if isinstance(fixations, (str, Path)) else fixations.copy()
    missing = [c for c in _VIDEO_FIXATION_COLUMNS if c not in fx.columns]
    if missing:
        raise ParseError(
            str(fixations) if isinstance(fixations, (str, Path)) else "fixations",
            f"lacks column(s) {missing}; expected {_VIDEO_FIXATION_COLUMNS}",
        )
    fx["video"] = fx["video"].astype(str)
    unknown = sorted(set(fx["video"]) - set(ids))
    if unknown:
        raise ParameterError("fixations", unknown[:5], f"video ids among the folders {ids[:5]}")
    return fx


def _video_table(
    ids: list[str],
    folders: list[Path],
    fps: float,
    sigma_px: float | None,
    labels: Mapping[str, str] | None,
    splits: Mapping[str, str] | None,
) -> tuple[pd.DataFrame, list[list[bytes]]]:
    """One row per video (size from its first frame, frame count, rate, sigma) and every frame's bytes."""
    rows = []
    frames: list[list[bytes]] = []
    for vid, folder in zip(ids, folders, strict=True):
        raw = [p.read_bytes() for p in _frames(folder)]
        w, h, _, _ = schema.image_header(raw[0])
        rows.append(
            {
                "id": vid,
                "file_name": folder.name,
                "label": (labels or {}).get(vid, ""),
                "split": (splits or {}).get(vid, ""),
                "width_px": w,
                "height_px": h,
                "n_frames": len(raw),
                "fps": float(fps),
                "sigma_px": float(sigma_px) if sigma_px else 0.03 * max(w, h),
            }
        )
        frames.append(raw)
    return pd.DataFrame(rows), frames


def _index_fixations(
    fx: pd.DataFrame, ids: list[str], observers: list[str], table: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """Videos and observers as row numbers, sorted by video, observer and onset; fixations outside
    their frames dropped (and counted)."""
    vindex = {v: i for i, v in enumerate(ids)}
    obs_index = {o: i for i, o in enumerate(observers)}
    fx = fx.assign(
        video=fx["video"].map(vindex).astype(np.int32),
        observer=fx["observer"].astype(str).map(obs_index).astype(np.int32),
    )
    fx = fx.sort_values(["video", "observer", "onset_ms"], kind="stable").reset_index(drop=True)
    w_all = table["width_px"].to_numpy()[fx["video"]]
    h_all = table["height_px"].to_numpy()[fx["video"]]
    inside = (fx["x_px"] >= 0) & (fx["x_px"] < w_all) & (fx["y_px"] >= 0) & (fx["y_px"] < h_all)
    return fx[inside.to_numpy()].reset_index(drop=True), int((~inside).sum())


def _write_empty_image_part(f: Any, observers: list[str]) -> None:
    """The image tables and groups of the schema, empty (but the observers), so the file is a valid release."""
    empty = {
        name: pd.DataFrame({c.name: pd.Series(dtype=object) for c in spec}) for name, spec in schema.TABLES.items()
    }
    empty["observers"] = pd.DataFrame({"id": observers, "metadata_json": "{}"})
    for name, spec in schema.TABLES.items():
        schema.write_table(f, name, empty[name], spec)
    f["fixations"].create_dataset("stimulus_offsets", data=np.zeros(1, np.int64))
    f.create_group("stimuli/images")
    f.create_group("maps/saliency")
    f.create_group("maps/saliency_preview")


def _write_video_tables(f: Any, table: pd.DataFrame, fx: pd.DataFrame) -> None:
    """``/videos`` and ``/videos/fixations`` with the fixations' offsets per video."""
    g = schema.write_table(f, "videos", table, schema.VIDEO_TABLES["videos"])
    schema.write_table(f, "videos/fixations", fx, schema.VIDEO_TABLES["videos/fixations"])
    offsets = np.searchsorted(fx["video"].to_numpy(), np.arange(len(table) + 1)).astype(np.int64)
    g["fixations"].create_dataset("video_offsets", data=offsets)


def _write_frames_and_maps(
    f: Any, table: pd.DataFrame, frames: list[list[bytes]], fx: pd.DataFrame, fps: float
) -> None:
    """Every video's frames (as published) and its per-frame maps on the reduced grid."""
    import h5py

    fg = f.create_group("videos/frames")
    mg = f.create_group("maps/video_saliency")
    mg.attrs.update(
        {
            "normalization": "sum per frame",
            "boundary": "reflect",
            "truncate_sigma": 4.0,
            "grid": f"frame grid reduced to a shorter side of at most {schema.PREVIEW_SIDE} px",
            "frame_weighting": "overlap of the fixation with the frame, ms",
        }
    )
    off = f["videos/fixations/video_offsets"][()]
    for i, raw in enumerate(frames):
        ds = fg.create_dataset(f"{i:06d}", shape=(len(raw),), dtype=h5py.vlen_dtype(np.uint8))
        for k, b in enumerate(raw):
            ds[k] = np.frombuffer(b, np.uint8)
        h, w = int(table["height_px"][i]), int(table["width_px"][i])
        ph, pw = schema.preview_shape(h, w)
        s = pw / w
        sub = fx.iloc[int(off[i]) : int(off[i + 1])]
        maps = frame_saliency_maps(
            sub["x_px"].to_numpy() * s,
            sub["y_px"].to_numpy() * s,
            sub["onset_ms"].to_numpy(),
            sub["duration_ms"].to_numpy(),
            n_frames=len(raw),
            fps=fps,
            shape=(ph, pw),
            sigma_px=float(table["sigma_px"][i]) * s,
        )
        mds = mg.create_dataset(
            f"{i:06d}", data=maps, chunks=(1, ph, pw), compression="gzip", compression_opts=4, shuffle=True
        )
        mds.attrs["sigma_px"] = float(table["sigma_px"][i]) * s


def _write_video_provenance(f: Any, params: dict[str, Any], dropped: int) -> None:
    history = [
        {
            "action": "build videos",
            "time_utc": str(f.attrs["created_utc"]),
            "software": f"gazelab {__version__}",
            "sessions": [],
        }
    ]
    f.create_group("provenance").attrs.update(
        {
            "software": "gazelab",
            "software_version": __version__,
            "parameters_json": json.dumps(params),
            "history_json": json.dumps(history),
            "notes": f"{dropped} fixations outside their frames were dropped." if dropped else "",
        }
    )
