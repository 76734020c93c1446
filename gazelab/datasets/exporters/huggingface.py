"""Export a dataset as a Hugging Face ``imagefolder`` dataset (images + metadata + dataset card).

Layout (one folder per split, as ``datasets.load_dataset("imagefolder", data_dir=OUT)`` and the
Hub expect; stimuli without a split go to ``train``, ``val`` becomes ``validation``)::

    OUT/README.md                         dataset card: YAML front matter (configs, tags) + description
    OUT/<split>/metadata.jsonl            one JSON object per stimulus (see below)
    OUT/<split>/images/<file_name>        the stimulus image, the bytes as published
    OUT/<split>/maps/<id>.png             its saliency map, 8-bit grey scaled to a maximum of 255

Each metadata line: ``file_name`` (the image, relative to the split folder: ImageFolder's
``image`` column), ``map_file_name`` (the map, relative likewise: ``datasets`` 5.2 loads it as a
second image column, ``map``), ``id``, ``label``,
``width_px``, ``height_px``, ``sigma_px`` (of the map), ``observers`` (ids of the observers who
saw it), and ``fixations``: columns ``observer``, ``x_px``, ``y_px`` (image px from the left /
top edge), ``onset_ms`` (from stimulus onset), ``duration_ms``, ``order`` (in the observer's
sequence), one list each.

The README's front matter is a minimal card of this exporter's own; the full card generator
(``gazelab card``) may replace it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelab import __version__
from gazelab._io import atomic_path, check_output, safe_name
from gazelab.datasets import schema
from gazelab.datasets.exporters.folder import map_png
from gazelab.datasets.validate import check_format

__all__ = ["export_huggingface"]

_SPLITS = {"": "train", "train": "train", "val": "validation", "validation": "validation", "test": "test"}


def _split_folder(split: str) -> str:
    key = str(split).strip().lower()
    return _SPLITS[key] if key in _SPLITS else safe_name(key, "split")


def _record(
    i: int, st: pd.DataFrame, fx: pd.DataFrame, observers: np.ndarray, image: str, map_name: str
) -> dict[str, Any]:
    mine = fx[fx["stimulus"] == i].sort_values(["observer", "order"], kind="stable")
    who = observers[mine["observer"].to_numpy()]
    return {
        "file_name": image,
        "map_file_name": map_name,
        "id": str(st["id"][i]),
        "label": str(st["label"][i]),
        "width_px": int(st["width_px"][i]),
        "height_px": int(st["height_px"][i]),
        "sigma_px": float(st["sigma_px"][i]),
        "observers": sorted({str(o) for o in who}),
        "fixations": {
            "observer": [str(o) for o in who],
            "x_px": [round(float(v), 3) for v in mine["x_px"]],
            "y_px": [round(float(v), 3) for v in mine["y_px"]],
            "onset_ms": [round(float(v), 3) for v in mine["onset_ms"]],
            "duration_ms": [round(float(v), 3) for v in mine["duration_ms"]],
            "order": [int(v) for v in mine["order"]],
        },
    }


def _card(title: str, source: str, splits: dict[str, int], n_observers: int, n_fixations: int) -> str:
    n = sum(splits.values())
    size = "n<1K" if n < 1000 else "1K<n<10K" if n < 10000 else "10K<n<100K" if n < 100000 else "n>100K"
    yaml_splits = "".join(f"      - split: {s}\n        path: {s}/**\n" for s in splits)
    counts = ", ".join(f"{s}: {k}" for s, k in splits.items())
    return (
        "---\n"
        f"pretty_name: {json.dumps(title)}\n"
        "license: unknown\n"
        "tags:\n  - eye-tracking\n  - saliency\n  - human-gaze\n  - fixations\n"
        f"size_categories:\n  - {size}\n"
        "configs:\n  - config_name: default\n    data_files:\n"
        f"{yaml_splits}"
        "---\n\n"
        f"# {title}\n\n"
        f"Human gaze on {n} images ({counts}) from {n_observers} observers, {n_fixations} fixations; "
        f"exported by gazelab {__version__} from `{source}`.\n\n"
        "Each row is one image (`image`) with its saliency map (`map_file_name`, an 8-bit grey PNG "
        "scaled to a maximum of 255: a Gaussian fixation density of width `sigma_px`), the ids of the "
        "observers who saw it and their fixations (`x_px`, `y_px` in image px from the left / top edge, "
        "`onset_ms` from stimulus onset, `duration_ms`, `order` in each observer's sequence).\n\n"
        "```python\nfrom datasets import load_dataset\n"
        'ds = load_dataset("imagefolder", data_dir="PATH/TO/THIS/FOLDER")\n```\n\n'
        "Licence, authors and citation: see the release this export came from.\n"
    )


def export_huggingface(
    path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool | None = None
) -> Path:
    """Write a dataset as a Hugging Face ``imagefolder`` dataset with per-image fixations and maps.

    Parameters
    ----------
    path : path
        The gazelab dataset (``.h5``).
    out : path
        Output folder (created; it must not exist unless ``overwrite``).
    overwrite : bool, optional
        Replace files in an existing ``out``.
    progress : bool or None, optional
        Progress bar (None: on a terminal).

    Returns
    -------
    Path
        ``out``.
    """
    path, out = Path(path), Path(out)
    check_output(out, overwrite=overwrite, inputs=(path,))
    records: dict[str, list[dict[str, Any]]] = {}
    with h5py.File(path, "r") as f:
        check_format(f, path)
        st, fx = schema.read_table(f, "stimuli"), schema.read_table(f, "fixations")
        observers = f["observers/id"].asstr()[()]
        title = str(f.attrs.get("title", "")) or path.stem
        bar = tqdm(
            range(len(st)), desc="export", unit="image", disable=None if progress is None else not progress, leave=False
        )
        for i in bar:
            split = _split_folder(st["split"][i])
            image = f"images/{safe_name(str(st['file_name'][i]), 'stimulus file_name')}"
            map_name = f"maps/{safe_name(str(st['id'][i]), 'stimulus id')}.png"
            _write_bytes(out / split / image, f[schema.image_path(i)][()].tobytes())
            _write_bytes(out / split / map_name, map_png(f[schema.map_path(i)][()]))
            records.setdefault(split, []).append(_record(i, st, fx, observers, image, map_name))
    for split, rows in records.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        _write_bytes(out / split / "metadata.jsonl", text.encode("utf-8"))
    splits = {s: len(r) for s, r in records.items()}
    card = _card(title, path.name, splits, len(observers), len(fx))
    _write_bytes(out / "README.md", card.encode("utf-8"))
    return out


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
