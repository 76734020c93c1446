"""Export to the folder layout saliency datasets ship in (SALICON, MIT1003, CAT2000 style).

``OUT/images/<file_name>`` (the stimulus files as published), ``OUT/maps/<id>.png`` (8-bit
grey saliency maps scaled to a maximum of 255, the convention of those datasets),
``OUT/fixations.csv`` (one row per fixation: ``stimulus``, ``observer``, ``x_px``, ``y_px`` in
image px, ``onset_ms``, ``duration_ms``, ``order``) and ``OUT/stimuli.csv`` (``id``,
``file_name``, ``width_px``, ``height_px``, ``label``, ``split``, ``sigma_px``).
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelab._io import atomic_folder, check_output, safe_name
from gazelab.datasets import schema
from gazelab.datasets.validate import check_format
from gazelab.errors import ParameterError

__all__ = ["export_folder"]


def map_png(saliency: np.ndarray) -> bytes:
    """A saliency map as an 8-bit grey PNG scaled to a maximum of 255 (all zero stays zero)."""
    from PIL import Image

    m = saliency.astype(np.float64)
    peak = m.max()
    q = np.round(m / peak * 255).astype(np.uint8) if peak > 0 else np.zeros(m.shape, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(q, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def export_folder(path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool | None = None) -> Path:
    """Write a dataset as images + PNG maps + CSV tables.

    The folder is filled under a temporary name beside ``out`` and renamed when complete. Every
    stored name that becomes a file name (a stimulus's ``file_name``, its ``id``) must be a safe
    relative name, and the dataset must be self-contained: nothing is written outside ``out`` and
    nothing outside the dataset file is read.

    Parameters
    ----------
    path : path
        The gazelab dataset (``.h5``).
    out : path
        Output folder; created; if it exists it must be empty, or ``overwrite`` must be True.
    overwrite : bool, optional
        Replace an existing, non-empty ``out`` (only once the new folder is complete).
    progress : bool or None, optional
        Progress bar (None: on a terminal).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ParameterError
        For a non-empty ``out`` without ``overwrite``, an ``out`` holding the dataset, or an
        unsafe stored name.
    ParseError
        For a file that is not a complete, self-contained gazelab dataset.
    """
    path, out = Path(path), Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not overwrite:
            raise ParameterError("out", str(out), "a new or empty folder (or pass --overwrite to replace it)")
        check_output(out, overwrite=overwrite, inputs=(path,))
    if path.resolve().is_relative_to(out.resolve()):
        raise ParameterError("out", str(out), f"a folder that does not hold the dataset {path}")
    with h5py.File(path, "r") as f:
        check_format(f, path)
        st = schema.read_table(f, "stimuli")
        fx = schema.read_table(f, "fixations")
        obs = f["observers/id"].asstr()[()]
        files, maps = _names(st)
        with atomic_folder(out) as tmp:
            _write_stimuli(f, tmp, files, maps, progress)
            table = fx.assign(stimulus=st["id"].to_numpy()[fx["stimulus"]], observer=obs[fx["observer"]])
            table[["stimulus", "observer", "x_px", "y_px", "onset_ms", "duration_ms", "order"]].to_csv(
                tmp / "fixations.csv", index=False
            )
            st[["id", "file_name", "width_px", "height_px", "label", "split", "sigma_px"]].to_csv(
                tmp / "stimuli.csv", index=False
            )
    return out


def _names(st: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The image and map file names of every stimulus, each checked to stay inside the folder."""
    files = [safe_name(str(n), "stimulus file_name") for n in st["file_name"]]
    maps = [safe_name(f"{i}.png", "stimulus id") for i in st["id"].astype(str)]
    for what, names in (("stimulus file_name", files), ("stimulus id", maps)):
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ParameterError(what, dup, "names that are distinct (two stimuli would write one file)")
    return files, maps


def _write_stimuli(f: h5py.File, out: Path, files: list[str], maps: list[str], progress: bool | None) -> None:
    (out / "images").mkdir()
    (out / "maps").mkdir()
    for i in tqdm(
        range(len(files)),
        desc="export",
        unit="stimulus",
        disable=None if progress is None else not progress,
        leave=False,
    ):
        target = out / "images" / files[i]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f[schema.image_path(i)][()].tobytes())
        (out / "maps" / maps[i]).parent.mkdir(parents=True, exist_ok=True)
        (out / "maps" / maps[i]).write_bytes(map_png(f[schema.map_path(i)][()]))
