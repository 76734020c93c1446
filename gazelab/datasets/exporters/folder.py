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
from tqdm.auto import tqdm

from gazelab.datasets import schema
from gazelab.datasets.validate import check_format
from gazelab.errors import ParameterError

__all__ = ["export_folder", "map_png"]


def map_png(saliency: np.ndarray) -> bytes:
    """A saliency map as an 8-bit grey PNG scaled to a maximum of 255 (all zero stays zero)."""
    from PIL import Image

    m = saliency.astype(np.float64)
    peak = m.max()
    q = np.round(m / peak * 255).astype(np.uint8) if peak > 0 else np.zeros(m.shape, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(q, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def export_folder(path: str | Path, out: str | Path, *, progress: bool | None = None) -> Path:
    """Write a dataset as images + PNG maps + CSV tables.

    Parameters
    ----------
    path : path
        The gazelab dataset (``.h5``).
    out : path
        Output folder; created; must be empty if it exists.
    progress : bool or None, optional
        Progress bar (None: on a terminal).

    Returns
    -------
    Path
        The folder.
    """

    path, out = Path(path), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ParameterError("out", str(out), "a new or empty folder")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(exist_ok=True)
    with h5py.File(path, "r") as f:
        check_format(f, path)
        st = schema.read_table(f, "stimuli")
        fx = schema.read_table(f, "fixations")
        obs = f["observers/id"].asstr()[()]
        for i in tqdm(
            range(len(st)),
            desc="export",
            unit="stimulus",
            disable=None if progress is None else not progress,
            leave=False,
        ):
            (out / "images" / str(st["file_name"][i])).write_bytes(f[schema.image_path(i)][()].tobytes())
            (out / "maps" / f"{st['id'][i]}.png").write_bytes(map_png(f[schema.map_path(i)][()]))
    table = fx.assign(stimulus=st["id"].to_numpy()[fx["stimulus"]], observer=obs[fx["observer"]])
    table[["stimulus", "observer", "x_px", "y_px", "onset_ms", "duration_ms", "order"]].to_csv(
        out / "fixations.csv", index=False
    )
    st[["id", "file_name", "width_px", "height_px", "label", "split", "sigma_px"]].to_csv(
        out / "stimuli.csv", index=False
    )
    return out
