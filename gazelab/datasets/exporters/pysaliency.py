"""Export a dataset in pysaliency's own HDF5 format (the Tübingen benchmark's library).

``OUT/stimuli.hdf5``
    pysaliency ``Stimuli`` (type ``Stimuli``, version 1.1, as ``Stimuli.to_hdf5`` writes it):
    one dataset per stimulus, named by its index (``"0"``, ``"1"``, ...), holding the decoded
    image (uint8, ``(H, W, 3)`` or ``(H, W)`` for grey), attribute ``size``, and the stimulus
    attributes ``id`` and ``file_name`` (listed in ``__attributes__``). Read it with
    ``pysaliency.read_hdf5`` or ``pysaliency.Stimuli.read_hdf5``.
``OUT/fixations.hdf5``
    pysaliency ``FixationTrains`` (version 1.2, as pysaliency 0.2.22's ``FixationTrains.to_hdf5``
    writes it, and which later versions, writing 1.3, still read): one
    scanpath per trial (an observer viewing a stimulus) with ``train_xs``, ``train_ys`` (image px
    from the left / top edge, NaN-padded rows), ``train_ts`` (fixation onset, s from stimulus
    onset), ``train_ns`` (stimulus index), ``train_subjects`` (observer index) (a scanpath's
    length is where its NaN padding starts); each fixation's duration (ms) as the scanpath fixation attribute
    ``durations`` (mapped to ``duration`` on the fixations).
``OUT/index.json``
    The stimulus ids and observer ids the indices refer to, and the units.

pysaliency itself is not needed to write these files (h5py is).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelab._io import atomic_path, check_output
from gazelab.datasets import schema
from gazelab.datasets.validate import check_format

__all__ = ["export_pysaliency"]


def _json_attr(value: Any) -> np.bytes_:
    return np.bytes_(json.dumps(value))


def _write_stimuli(f: h5py.File, images: list[np.ndarray], stimuli: pd.DataFrame) -> None:
    f.attrs["type"] = np.bytes_("Stimuli")
    f.attrs["version"] = np.bytes_("1.1")
    for n, image in enumerate(images):
        f.create_dataset(str(n), data=image, compression="gzip", compression_opts=9)
    text = h5py.special_dtype(vlen=str)
    f.create_dataset("id", data=np.array([str(v).encode("utf-8") for v in stimuli["id"]], dtype=object), dtype=text)
    names = [str(v).encode("utf-8") for v in stimuli["file_name"]]
    f.create_dataset("file_name", data=np.array(names, dtype=object), dtype=text)
    f.attrs["__attributes__"] = _json_attr(["id", "file_name"])
    f.attrs["size"] = len(images)


def _padded(groups: list[np.ndarray], width: int, dtype: Any = float) -> np.ndarray:
    out = np.full((len(groups), max(width, 1)), np.nan, dtype=dtype)
    for i, g in enumerate(groups):
        out[i, : len(g)] = g
    return out


def _scanpaths(fixations: pd.DataFrame) -> dict[str, np.ndarray]:
    """One scanpath per trial that has fixations, in trial order; fixations in their order."""
    fx = fixations.sort_values(["trial", "order"], kind="stable")
    groups = [g for _, g in fx.groupby("trial", sort=True)]
    width = max((len(g) for g in groups), default=0)
    first = [g.iloc[0] for g in groups]
    return {
        "train_xs": _padded([g["x_px"].to_numpy(float) for g in groups], width),
        "train_ys": _padded([g["y_px"].to_numpy(float) for g in groups], width),
        "train_ts": _padded([g["onset_ms"].to_numpy(float) / 1000.0 for g in groups], width),
        "train_ns": np.array([int(r["stimulus"]) for r in first], dtype=np.int64),
        "train_subjects": np.array([int(r["observer"]) for r in first], dtype=np.int64),
        "durations": _padded([g["duration_ms"].to_numpy(float) for g in groups], width),
    }


def _write_fixations(f: h5py.File, trains: dict[str, np.ndarray]) -> None:
    f.attrs["type"] = np.bytes_("FixationTrains")
    f.attrs["version"] = np.bytes_("1.2")
    for name in ("train_xs", "train_ys", "train_ts", "train_ns", "train_subjects"):
        f.create_dataset(name, data=trains[name])
    f.attrs["__attributes__"] = _json_attr([])
    f.attrs["scanpath_attribute_mapping"] = _json_attr({"durations": "duration"})
    scanpath = f.create_group("scanpath_attributes")
    scanpath.attrs["__attributes__"] = _json_attr([])
    per_fixation = f.create_group("scanpath_fixation_attributes")
    per_fixation.create_dataset("durations", data=trains["durations"])
    per_fixation.attrs["__attributes__"] = _json_attr(["durations"])


def _read(path: Path, progress: bool | None) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[np.ndarray]]:
    with h5py.File(path, "r") as f:
        check_format(f, path)
        stimuli = schema.read_table(f, "stimuli")
        fixations = schema.read_table(f, "fixations")
        observers = [str(o) for o in f["observers/id"].asstr()[()]]
        images = []
        for i in tqdm(
            range(len(stimuli)),
            desc="stimuli",
            unit="image",
            disable=None if progress is None else not progress,
            leave=False,
        ):
            image = schema.decode_image(f[schema.image_path(i)][()])
            images.append(image[:, :, 0] if image.shape[2] == 1 else image)
    return stimuli, fixations, observers, images


def export_pysaliency(
    path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool | None = None
) -> list[Path]:
    """Write a dataset's stimuli and fixations as pysaliency ``Stimuli`` and ``FixationTrains`` HDF5 files.

    Parameters
    ----------
    path : path
        The gazelab dataset (``.h5``).
    out : path
        Output folder (created); ``stimuli.hdf5``, ``fixations.hdf5`` and ``index.json`` go in it.
    overwrite : bool, optional
        Replace those files when they exist (default: refuse, writing nothing).
    progress : bool or None, optional
        Progress bar while decoding the images (None: on a terminal).

    Returns
    -------
    list of Path
        The three files.

    Examples
    --------
    Load the export with pysaliency::

        stimuli = pysaliency.read_hdf5("OUT/stimuli.hdf5")
        fixations = pysaliency.read_hdf5("OUT/fixations.hdf5")
    """
    path, out = Path(path), Path(out)
    targets = [out / "stimuli.hdf5", out / "fixations.hdf5", out / "index.json"]
    for target in targets:
        check_output(target, overwrite=overwrite, inputs=(path,))
    stimuli, fixations, observers, images = _read(path, progress)
    with atomic_path(targets[0]) as tmp, h5py.File(tmp, "w") as f:
        _write_stimuli(f, images, stimuli)
    with atomic_path(targets[1]) as tmp, h5py.File(tmp, "w") as f:
        _write_fixations(f, _scanpaths(fixations))
    index = {
        "stimuli": [str(s) for s in stimuli["id"]],
        "subjects": observers,
        "units": {"x, y": "image px from the left / top edge", "t": "s from stimulus onset", "durations": "ms"},
        "source": path.name,
    }
    with atomic_path(targets[2]) as tmp:
        tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return targets
