"""Importer for SALICON (Jiang, Huang, Duan & Zhao 2015), in either published layout.

2015 release (``fixations_<split>2014.json`` beside the image folders): a COCO-style JSON with
``images`` (``id``, ``file_name``, ``width``, ``height``, ...) and ``annotations`` (``id``,
``image_id``, ``worker_id``, ``fixations``), ``type: "fixations"``; one annotation per worker
and image; fixations are integer ``[row, col]`` pairs, 1-based (the official evaluation code
indexes ``map[row - 1][col - 1]``). No timing is published (onset and duration NaN).

2017 (LSUN) release: ``images/<split>/<stem>.jpg``, ``maps/<split>/<stem>.png`` and
``fixations/<split>/<stem>.mat`` with ``image``, ``resolution`` (``[[480, 640]]``) and
``gaze``, one struct per observer with ``location`` and ``timestamp`` (raw mouse samples) and
``fixations`` (``[x, y]`` pairs, 1-based). Observers are numbered per image (the release does
not link them across images), so observer ids are ``<image>-<k>``.

Both: 1-based pixel indices become continuous image px at the pixel centre (``index - 0.5``).
SALICON records mouse movements on a blurred image, not eye movements; the provenance says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gazelab.datasets.importers import register_importer
from gazelab.datasets.importers._common import fixation_part, read_mat, stimulus_row, write_imported
from gazelab.datasets.release import BuildReport
from gazelab.errors import ParameterError, ParseError

__all__ = ["import_salicon"]

CITATION = "M. Jiang, S. Huang, J. Duan, Q. Zhao. SALICON: Saliency in Context. CVPR 2015."
NOTE = (
    "SALICON fixations come from mouse movements over a foveated (blurred) image, a validated proxy for "
    "free-viewing eye movements, not from an eye tracker."
)


def _find_image(root: Path, name: str, split: str) -> Path:
    for cand in (root / "images" / split / name, root / "images" / name, root / split / name, root / name):
        if cand.is_file():
            return cand
    raise ParseError(root, f"image {name} of the {split} split not found under images/{split}/ or images/")


def _from_json(root: Path, split: str, sigma_px: float | None, sigma_fraction: float):
    path = root / f"fixations_{split}2014.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParseError(path, f"cannot read the SALICON JSON ({exc})") from None
    if data.get("type") != "fixations" or "images" not in data or "annotations" not in data:
        raise ParseError(path, "expected a SALICON fixations JSON: keys 'type' = 'fixations', 'images', 'annotations'")
    stimuli, index = [], {}
    for img in data["images"]:
        index[img["id"]] = len(stimuli)
        stimuli.append(
            stimulus_row(
                _find_image(root, img["file_name"], split),
                sigma_px=sigma_px,
                sigma_fraction=sigma_fraction,
                split=split,
            )
        )
    parts = []
    for ann in data["annotations"]:
        pts = np.asarray(ann["fixations"], dtype=float).reshape(-1, 2)
        if ann["image_id"] not in index:
            raise ParseError(path, f"annotation {ann.get('id')} names image_id {ann['image_id']}, not in 'images'")
        # [row, col] pixel indices, 1-based
        parts.append(
            fixation_part(index[ann["image_id"]], f"worker{ann['worker_id']}", pts[:, 1] - 0.5, pts[:, 0] - 0.5)
        )
    return stimuli, parts, [path]


def _from_mat(root: Path, split: str, sigma_px: float | None, sigma_fraction: float):
    folder = root / "fixations" / split
    files = sorted(folder.glob("*.mat"))
    if not files:
        raise ParseError(folder, "no .mat fixation files (expected the SALICON 2017 layout fixations/<split>/*.mat)")
    stimuli, parts = [], []
    for i, mat in enumerate(files):
        gaze = read_mat(mat, "expected a variable 'gaze' (struct array of observers)", "gaze", squeeze_me=False)
        stimuli.append(
            stimulus_row(
                _find_image(root, f"{mat.stem}.jpg", split),
                sigma_px=sigma_px,
                sigma_fraction=sigma_fraction,
                split=split,
            )
        )
        for k, obs in enumerate(gaze.ravel()):
            pts = np.asarray(obs["fixations"], dtype=float).reshape(-1, 2)
            parts.append(fixation_part(i, f"{mat.stem}-{k + 1}", pts[:, 0] - 0.5, pts[:, 1] - 0.5))  # [x, y], 1-based
    return stimuli, parts, files


@register_importer("salicon")
def import_salicon(
    source: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    sigma_px: float | None = None,
    sigma_fraction: float = 0.03,
    progress: bool | None = None,
) -> BuildReport:
    """Import one split of SALICON (2015 JSON or 2017 MAT layout, detected) into gazelab HDF5.

    Parameters
    ----------
    source : path
        The SALICON folder.
    out : path
        The dataset file.
    split : {'train', 'val'}, optional
        Which split (default 'train').
    sigma_px, sigma_fraction : float, optional
        Map sigma in image px (default 3 % of the larger side, 19.2 px for 640x480).
    progress : bool or None, optional
        Progress bar.

    Returns
    -------
    BuildReport
    """
    root = Path(source)
    if split not in ("train", "val"):
        raise ParameterError("split", split, "'train' or 'val' (the test split has no fixations)")
    if (root / f"fixations_{split}2014.json").is_file():
        stimuli, parts, sources = _from_json(root, split, sigma_px, sigma_fraction)
        layout = "salicon-2015"
    elif (root / "fixations" / split).is_dir():
        stimuli, parts, sources = _from_mat(root, split, sigma_px, sigma_fraction)
        layout = "salicon-2017"
    else:
        raise ParseError(root, f"neither fixations_{split}2014.json (2015) nor fixations/{split}/ (2017) found")
    params = {
        "layout": layout,
        "split": split,
        "sigma_px": sigma_px,
        "citation": CITATION,
        "coordinates": "1-based pixel indices minus 0.5 -> image px",
        "source_url": "http://salicon.net",
    }
    return write_imported(
        out,
        stimuli,
        parts,
        layout=layout,
        sources=sources,
        params=params,
        notes=[NOTE],
        title=f"SALICON ({split})",
        progress=progress,
    )
