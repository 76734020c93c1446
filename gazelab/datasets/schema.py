"""The gazelab HDF5 dataset format: its layout, in one place for the writer and the validator.

See ``docs/hdf5-format.md`` for the prose version. Tables are groups with one 1-D dataset per
column (equal lengths); stimulus images and saliency maps are one dataset per stimulus, named
by the stimulus' row number, so a reader touches only the stimulus it asks for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import pandas as pd

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "INDEXES",
    "MAP_DROPPED_BITS",
    "OPTIONAL_TABLES",
    "STR",
    "TABLES",
    "Column",
    "array_sha256",
    "decode_image",
    "encode_png",
    "image_header",
    "image_path",
    "map_path",
    "parse_version",
    "read_table",
    "store_map",
    "write_table",
]

#: Value of the root attribute ``format``.
FORMAT_NAME = "gazelab-gaze-dataset"
#: Value of the root attribute ``format_version`` (major.minor). Readers accept any file with the
#: same major version; a newer minor version may add groups, columns and attributes, which
#: readers ignore (the validator reports them as notes, not problems).
FORMAT_VERSION = "1.1"  # 1.1 added /quality (data quality per trial and eye)

STR = h5py.string_dtype("utf-8")
TABLE_CHUNK_ROWS = 4096  # small enough that one stimulus's rows decompress in microseconds


@dataclass(frozen=True)
class Column:
    """One column of a table: name, numpy dtype (``'str'`` for UTF-8 text), unit, meaning."""

    name: str
    dtype: str
    unit: str
    description: str


def _c(name: str, dtype: str, unit: str, description: str) -> Column:
    return Column(name, dtype, unit, description)


TABLES: dict[str, list[Column]] = {
    "sessions": [
        _c("id", "str", "", "session id (unique)"),
        _c("source", "str", "", "file name of the recording it was built from"),
        _c("source_sha256", "str", "", "sha256 of that file's bytes"),
        _c("format", "str", "", "reader that read it (e.g. eyelink-asc)"),
        _c("observer", "int32", "row", "row in /observers"),
        _c("eye", "str", "", "eye whose fixations were used: L or R"),
        _c("sampling_rate_hz", "float64", "Hz", "sampling rate"),
        _c("screen_width_px", "int32", "px", "screen resolution, horizontal"),
        _c("screen_height_px", "int32", "px", "screen resolution, vertical"),
        _c("screen_width_cm", "float64", "cm", "visible screen width"),
        _c("screen_height_cm", "float64", "cm", "visible screen height"),
        _c("distance_cm", "float64", "cm", "viewing distance"),
        _c("n_fixations_outside", "int64", "count", "fixations dropped because they fell outside the image"),
    ],
    "observers": [
        _c("id", "str", "", "observer (participant) id (unique)"),
        _c("metadata_json", "str", "", "free metadata as a JSON object"),
    ],
    "stimuli": [
        _c("id", "str", "", "stimulus id (unique)"),
        _c("file_name", "str", "", "image file name as shown"),
        _c("label", "str", "", "class label / category ('' if none)"),
        _c("split", "str", "", "split name: train, val, test or ''"),
        _c("width_px", "int32", "image px", "image width"),
        _c("height_px", "int32", "image px", "image height"),
        _c("channels", "int32", "", "1 (grey) or 3 (RGB)"),
        _c("stand_in", "uint8", "bool", "1 if the image is a stand-in for a stimulus the data did not ship"),
        _c("sigma_px", "float64", "image px", "sigma of the stored saliency map"),
    ],
    "trials": [
        _c("session", "int32", "row", "row in /sessions"),
        _c("trial", "int32", "", "trial number in the recording (1-based)"),
        _c("trial_id", "str", "", "the recording's trial id (TRIALID text)"),
        _c("stimulus", "int32", "row", "row in /stimuli"),
        _c("observer", "int32", "row", "row in /observers"),
        _c("stimulus_onset_ms", "float64", "ms, recording clock", "when the image appeared"),
        _c("offset_ms", "float64", "ms, recording clock", "end of the trial"),
        _c("left_px", "float64", "screen px", "image top-left corner on the screen, x"),
        _c("top_px", "float64", "screen px", "image top-left corner on the screen, y"),
        _c("scale", "float64", "screen px per image px", "image scale on the screen"),
    ],
    "fixations": [
        _c("stimulus", "int32", "row", "row in /stimuli"),
        _c("observer", "int32", "row", "row in /observers"),
        _c("trial", "int32", "row", "row in /trials"),
        _c("x_px", "float32", "image px", "fixation position, from the image's left edge"),
        _c("y_px", "float32", "image px", "fixation position, from the image's top edge"),
        _c("onset_ms", "float64", "ms from stimulus onset", "fixation start"),
        _c("duration_ms", "float32", "ms", "fixation duration"),
        _c("order", "int32", "", "0-based position in the trial's sequence of fixations"),
    ],
}

OPTIONAL_TABLES: dict[str, list[Column]] = {
    "samples": [
        _c("trial", "int32", "row", "row in /trials"),
        _c("time_ms", "float64", "ms from stimulus onset", "sample time"),
        _c("x_px", "float32", "screen px", "gaze, horizontal (NaN when missing)"),
        _c("y_px", "float32", "screen px", "gaze, vertical (NaN when missing)"),
        _c("pupil", "float32", "tracker units", "pupil size"),
    ],
    # since 1.1: data quality per recorded trial and eye (gazelab.preprocessing.quality)
    "quality": [
        _c("session", "int32", "row", "row in /sessions"),
        _c("trial", "str", "", "the recording's trial id (TRIALID text; 'block N' without trials)"),
        _c("eye", "str", "", "L or R"),
        _c("n_samples", "int64", "count", "samples in the trial"),
        _c("duration_ms", "float64", "ms", "trial length (n_samples sample periods)"),
        _c("data_loss", "float64", "fraction", "share of the trial's samples without gaze for that eye"),
        _c("blink_count", "int64", "count", "blinks starting in the trial"),
        _c("precision_rms_s2s_deg", "float64", "deg", "RMS sample-to-sample precision inside fixations"),
        _c("precision_std_deg", "float64", "deg", "RMS deviation from the fixation mean inside fixations"),
        _c("validation_mean_deg", "float64", "deg", "mean error of the last validation before the trial"),
        _c("validation_max_deg", "float64", "deg", "max error of the last validation before the trial"),
        _c("drift_offset_deg", "float64", "deg", "offset of the drift check just before the trial, as recorded"),
        _c("sampling_rate_hz", "float64", "Hz", "sampling rate"),
        _c("grade", "str", "", "GOOD, FAIR or POOR (thresholds in the group attribute thresholds_json)"),
    ],
}

#: Optional video part (``/videos``): per-video table, per-frame encoded images, fixations on
#: videos, and per-frame saliency maps (see docs/hdf5-format.md, "Videos").
VIDEO_TABLES: dict[str, list[Column]] = {
    "videos": [
        _c("id", "str", "", "video id (unique)"),
        _c("file_name", "str", "", "source (video file or frame folder) name"),
        _c("label", "str", "", "class label (e.g. the action), '' if none"),
        _c("split", "str", "", "split name or ''"),
        _c("width_px", "int32", "frame px", "frame width"),
        _c("height_px", "int32", "frame px", "frame height"),
        _c("n_frames", "int32", "count", "number of frames"),
        _c("fps", "float64", "frames/s", "frame rate"),
        _c("sigma_px", "float64", "frame px", "sigma of the per-frame saliency maps (in frame px)"),
    ],
    "videos/fixations": [
        _c("video", "int32", "row", "row in /videos"),
        _c("observer", "int32", "row", "row in /observers"),
        _c("x_px", "float32", "frame px", "fixation position from the frame's left edge"),
        _c("y_px", "float32", "frame px", "fixation position from the frame's top edge"),
        _c("onset_ms", "float64", "ms from video start", "fixation start"),
        _c("duration_ms", "float32", "ms", "fixation duration"),
    ],
}


def frames_path(i: int) -> str:
    """HDF5 path of video row ``i``'s frames: vlen uint8, one encoded image per frame."""
    return f"/videos/frames/{i:06d}"


def video_map_path(i: int) -> str:
    """HDF5 path of video row ``i``'s per-frame saliency maps: float32 (n_frames, h, w), each sums to 1 (or 0)."""
    return f"/maps/video_saliency/{i:06d}"


#: CSR offsets: rows of ``table`` for group value k are ``offsets[k]:offsets[k+1]``.
INDEXES = {"fixations": ("stimulus", "stimuli"), "samples": ("trial", "trials")}


def image_path(i: int) -> str:
    """HDF5 path of stimulus row ``i``'s image: the encoded file bytes (uint8, 1-D; see :func:`decode_image`)."""
    return f"/stimuli/images/{i:06d}"


def map_path(i: int) -> str:
    """HDF5 path of stimulus row ``i``'s saliency map (float32, (height, width), sums to 1; see :func:`store_map`)."""
    return f"/maps/saliency/{i:06d}"


#: Shorter side, px, of the saliency-map previews stored for fast loading at training sizes.
PREVIEW_SIDE = 256


def preview_path(i: int) -> str:
    """HDF5 path of stimulus row ``i``'s saliency-map preview (see :func:`preview_map`)."""
    return f"/maps/saliency_preview/{i:06d}"


def preview_shape(height: int, width: int) -> tuple[int, int]:
    """``(h, w)`` of the preview of a ``height x width`` map: the shorter side reduced to PREVIEW_SIDE px
    (maps smaller than that keep their size)."""
    s = min(1.0, PREVIEW_SIDE / min(height, width))
    return max(1, round(height * s)), max(1, round(width * s))


def preview_map(m: np.ndarray) -> np.ndarray:
    """Box-filtered (area-averaged) reduction of a map to :func:`preview_shape`, renormalised to sum 1."""
    from PIL import Image

    h, w = preview_shape(*m.shape)
    if (h, w) == m.shape:
        small = np.asarray(m, dtype=np.float64)
    else:
        small = np.asarray(
            Image.fromarray(np.asarray(m, dtype=np.float32), mode="F").resize((w, h), Image.BOX), dtype=np.float64
        )
    small = np.clip(small, 0, None)
    total = small.sum()
    return small / total if total > 0 else small


def parse_version(text: str) -> tuple[int, int]:
    """``'1.2'`` -> ``(1, 2)``; raises ValueError on anything else."""
    major, minor = str(text).split(".")
    return int(major), int(minor)


def write_table(parent: h5py.Group, name: str, df: pd.DataFrame, spec: list[Column]) -> h5py.Group:
    """Write a DataFrame as a columnar table group (chunked, gzip + shuffle, resizable)."""
    g = parent.create_group(name)
    g.attrs["columns"] = json.dumps([c.name for c in spec])
    n = len(df)
    for col in spec:
        values = df[col.name] if col.name in df.columns else pd.Series([None] * n)
        if col.dtype == "str":
            data = np.array(["" if v is None or v is pd.NA else str(v) for v in values], dtype=object)
            dtype: Any = STR
        else:
            data = np.asarray(values, dtype=col.dtype)
            dtype = col.dtype
        ds = g.create_dataset(
            col.name,
            data=data,
            dtype=dtype,
            maxshape=(None,),
            chunks=(max(1, min(TABLE_CHUNK_ROWS, n or 1)),),
            compression="gzip",
            compression_opts=4,
            shuffle=col.dtype != "str",
        )
        ds.attrs["unit"] = col.unit
        ds.attrs["description"] = col.description
    return g


def read_table(f: h5py.File | h5py.Group, name: str) -> pd.DataFrame:
    """Read a columnar table group back into a DataFrame (all its columns, in stored order)."""
    g = f[name]
    names = json.loads(g.attrs["columns"]) if "columns" in g.attrs else list(g.keys())
    n = g[names[0]].shape[0] if names else 0
    # columns a newer minor version added (same length) come along; indexes and groups do not
    names = names + [
        k
        for k in g
        if k not in names
        and isinstance(g[k], h5py.Dataset)
        and g[k].shape == (n,)
        and k not in ("stimulus_offsets", "trial_offsets")
    ]
    cols: dict[str, Any] = {}
    for c in names:
        ds = g[c]
        if h5py.check_string_dtype(ds.dtype) is not None:
            cols[c] = pd.array(ds.asstr()[()], dtype="string")
        else:
            cols[c] = ds[()]
    return pd.DataFrame(cols)


def array_sha256(ds: h5py.Dataset) -> str:
    """sha256 over a dataset's dtype, shape and C-ordered values (as stored, decompressed)."""
    h = hashlib.sha256()
    h.update(str(ds.dtype).encode())
    h.update(str(ds.shape).encode())
    if h5py.check_string_dtype(ds.dtype) is not None:
        for s in ds.asstr()[()]:
            h.update(s.encode("utf-8"))
            h.update(b"\x00")
    elif h5py.check_vlen_dtype(ds.dtype) is not None:  # e.g. video frames: hash each element's bytes
        for item in ds[()]:
            h.update(str(len(item)).encode())
            h.update(np.ascontiguousarray(item).tobytes())
    else:
        h.update(np.ascontiguousarray(ds[()]).tobytes())
    return h.hexdigest()


#: Saliency maps are stored as float32 rounded to 16 significant bits (the lowest 8 of float32's 24
#: mantissa bits zeroed, round to nearest): a relative error below 2**-16 (1.5e-5) per pixel, exact
#: zeros kept, and about half the size once shuffled and compressed. The exact map is recomputable
#: from the stored fixations and sigma (gazelab.preprocessing.maps.saliency_map).
MAP_DROPPED_BITS = 8

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def store_map(m: np.ndarray) -> np.ndarray:
    """A saliency map as stored: float32 rounded to 16 significant bits (see :data:`MAP_DROPPED_BITS`)."""
    u = np.ascontiguousarray(m, dtype=np.float32).view(np.uint32).copy()
    u += np.uint32(1 << (MAP_DROPPED_BITS - 1))
    u &= np.uint32((0xFFFFFFFF << MAP_DROPPED_BITS) & 0xFFFFFFFF)
    return u.view(np.float32)


def image_header(data: bytes | np.ndarray) -> tuple[int, int, int, str]:
    """``(width, height, channels, format)`` of encoded image bytes, reading the header only.

    Raises
    ------
    ValueError
        If the bytes are not an image Pillow can identify.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    try:
        with Image.open(io.BytesIO(raw)) as im:
            return im.size[0], im.size[1], 1 if im.mode in _GREY_MODES else 3, str(im.format)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not a decodable image: {exc}") from None


def decode_image(data: bytes | np.ndarray, *, draft_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode stored image bytes to uint8 ``(height, width, 3)`` RGB or ``(height, width, 1)`` grey.

    Parameters
    ----------
    data : bytes or ndarray of uint8
        The encoded file (as stored under :func:`image_path`).
    draft_size : (int, int), optional
        ``(width, height)`` the caller will resize to: JPEGs are then decoded at the smallest
        power-of-two reduction still at least that large (libjpeg's DCT scaling), much faster.
    """
    import io

    from PIL import Image

    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    with Image.open(io.BytesIO(raw)) as im:
        if draft_size is not None:
            im.draft(im.mode if im.mode in ("RGB", "L") else "RGB", draft_size)
        grey = im.mode in _GREY_MODES
        want = "L" if grey else "RGB"
        arr = np.asarray(im if im.mode == want else im.convert(want))
    arr = arr[:, :, None] if grey else arr
    return arr if arr.flags.writeable and arr.flags.c_contiguous else np.array(arr, dtype=np.uint8, order="C")


def encode_png(arr: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)`` array (lossless)."""
    import io

    from PIL import Image

    a = np.asarray(arr, dtype=np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", optimize=False)
    return buf.getvalue()
