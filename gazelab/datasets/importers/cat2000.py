"""Importer for CAT2000 (Borji & Itti 2015), training set.

Layout: ``trainSet/Stimuli/<Category>/NNN.jpg`` (1920x1080), ``trainSet/FIXATIONMAPS/<Category>/
NNN.jpg`` and ``trainSet/FIXATIONLOCS/<Category>/NNN.mat`` holding ``fixLocs``, an image-sized
map that is 1 at fixated pixels. The per-observer data (``allFixData.mat``) is a MATLAB
``containers.Map`` that cannot be read outside MATLAB, so fixations are taken from ``fixLocs``:
one fixation per marked pixel, at the pixel centre, pooled over observers (observer
``pooled``), without timing. The category is the stimulus label; ids are ``<Category>/NNN``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.datasets.importers import register_importer
from gazelab.datasets.importers._common import fixation_part, read_mat, stimulus_row, write_imported
from gazelab.datasets.release import BuildReport
from gazelab.errors import ParseError

__all__ = ["import_cat2000"]

CITATION = "A. Borji, L. Itti. CAT2000: A large scale fixation dataset for boosting saliency research. arXiv 2015."
_NAME = re.compile(r"^\d{3}\.jpg$", re.IGNORECASE)


@register_importer("cat2000")
def import_cat2000(
    source: str | Path,
    out: str | Path,
    *,
    sigma_px: float | None = None,
    sigma_fraction: float = 0.02,
    progress: bool | None = None,
) -> BuildReport:
    """Import the CAT2000 training set into gazelab HDF5.

    Parameters
    ----------
    source : path
        The CAT2000 folder (holding ``trainSet/``) or ``trainSet`` itself.
    out : path
        The dataset file.
    sigma_px, sigma_fraction : float, optional
        Map sigma in image px (default 2 % of the larger side: 38 px at 1920, about 1 deg in
        the original setup).
    progress : bool or None, optional
        Progress bar.

    Returns
    -------
    BuildReport
    """
    root = Path(source)
    train = root / "trainSet" if (root / "trainSet").is_dir() else root
    stim_dir, locs_dir = train / "Stimuli", train / "FIXATIONLOCS"
    if not stim_dir.is_dir() or not locs_dir.is_dir():
        raise ParseError(root, "expected the CAT2000 layout: trainSet/Stimuli/<Category>/ and trainSet/FIXATIONLOCS/")
    stimuli, parts, sources = [], [], []
    for cat in sorted(d for d in stim_dir.iterdir() if d.is_dir()):
        for img in sorted(p for p in cat.iterdir() if _NAME.match(p.name)):
            mat = locs_dir / cat.name / f"{img.stem}.mat"
            locs = _fixation_locations(mat, f"{cat.name}/{img.name}")
            row = stimulus_row(
                img, sigma_px=sigma_px, sigma_fraction=sigma_fraction, label=cat.name, stim_id=f"{cat.name}/{img.stem}"
            )
            parts.append(_pooled_fixations(locs, row, len(stimuli), mat))
            stimuli.append(row)
            sources.append(mat)
    if not stimuli:
        raise ParseError(stim_dir, "no <Category>/NNN.jpg stimuli")
    params = {
        "sigma_px": sigma_px,
        "sigma_fraction": None if sigma_px else sigma_fraction,
        "citation": CITATION,
        "fixations": "FIXATIONLOCS marked pixels, pooled over observers",
        "source_url": "http://saliency.mit.edu",
    }
    return write_imported(
        out,
        stimuli,
        parts,
        layout="cat2000",
        sources=sources[:1],
        params=params,
        notes=["Fixations pooled over observers (FIXATIONLOCS); no timing."],
        title="CAT2000 (train)",
        progress=progress,
    )


def _fixation_locations(mat: Path, image: str) -> np.ndarray:
    """The ``fixLocs`` map of an image: 1 at fixated pixels."""
    if not mat.is_file():
        raise ParseError(mat, f"fixation locations of {image} missing")
    return np.asarray(read_mat(mat, "expected a variable 'fixLocs' (binary fixation map)", "fixLocs"))


def _pooled_fixations(locs: np.ndarray, row: dict[str, Any], stimulus: int, mat: Path) -> pd.DataFrame:
    """One fixation per marked pixel of ``fixLocs``, at the pixel centre, pooled over observers, untimed."""
    if locs.shape != (row["height_px"], row["width_px"]):
        raise ParseError(mat, f"fixLocs is {locs.shape}; expected the image's ({row['height_px']}, {row['width_px']})")
    r, c = np.nonzero(locs)
    return fixation_part(stimulus, "pooled", c + 0.5, r + 0.5)
