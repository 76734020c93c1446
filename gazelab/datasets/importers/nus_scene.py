"""Importer for the NUS scene saliency dataset (Liang, Jiang, Liang & Zhao; 500 SUN2012 images).

Layout (as published in the MIT-licensed repository Yanakz/Scene): ``stimuli/001.jpg`` ...
``stimuli/500.jpg``; ``fixations.mat`` with the variable ``fixations``, a 500 x 12 MATLAB cell
array (row = image in file-name order, column = observer); each non-empty cell an N x 4 array,
one row per fixation in viewing order; ``imgInfo.mat`` with ``imgInfo.size`` (rows, columns).

Coordinate convention, verified here: columns 1-2 are (row y, column x) in image pixels: on the
non-square images the first column never exceeds the number of rows and the second spans the
columns (e.g. image 003, 1200 x 1600: column 1 in 455-1123, column 2 in 99-1482), and overlays of
the points fall on the scenes' objects. They are MATLAB pixel coordinates (pixel centres at
1..N), converted to gazelab's continuous image px by subtracting 0.5; columns 3-4 are onset and
duration in seconds, converted to ms. Points outside the image are dropped and counted.

The screen geometry of the experiment is not in the files, so the saliency maps' sigma is given
in image px: by default 3 % of the image's larger side (about 1 deg for an image spanning some
33 deg, a typical full-screen presentation), recorded in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.datasets.importers import register_importer
from gazelab.datasets.importers._common import fixation_part, read_mat, stimulus_row, write_imported
from gazelab.datasets.release import BuildReport
from gazelab.errors import ParameterError, ParseError

__all__ = ["import_nus_scene"]

NOTE = (
    "Imported from the NUS scene saliency dataset (fixations.mat, stimuli/); screen geometry unknown: "
    "sessions hold one row per observer with unknown screen (0 / NaN), trials place each image at the origin "
    "with scale 1 (image px = display px)."
)
CITATION = (
    "H. Liang, M. Jiang, R. Liang, Q. Zhao. Saliency prediction with scene structural guidance. "
    "Journal of Visual Communication and Image Representation, 2017."
)


@register_importer("nus-scene")
def import_nus_scene(
    source: str | Path,
    out: str | Path,
    *,
    sigma_px: float | None = None,
    sigma_fraction: float = 0.03,
    progress: bool | None = None,
) -> BuildReport:
    """Import the NUS scene dataset folder into a gazelab HDF5 release.

    Parameters
    ----------
    source : path
        The folder with ``stimuli/``, ``fixations.mat`` (and ``imgInfo.mat``, ``LICENSE.txt``).
    out : path
        The dataset file to write (atomically).
    sigma_px : float, optional
        Saliency-map sigma in image px for every image; default ``sigma_fraction`` of each
        image's larger side.
    sigma_fraction : float, optional
        See ``sigma_px`` (default 0.03).
    progress : bool or None, optional
        Progress bar (None: on a terminal).

    Returns
    -------
    BuildReport

    Raises
    ------
    ParseError
        If the folder does not have the published layout (naming the file and what was expected).
    """
    src = Path(source)
    mat = src / "fixations.mat"
    stim_dir = src / "stimuli"
    if not mat.is_file() or not stim_dir.is_dir():
        raise ParseError(src, "expected the NUS scene layout: fixations.mat and stimuli/*.jpg")
    if sigma_px is not None and not sigma_px > 0:
        raise ParameterError("sigma_px", sigma_px, "a sigma > 0 (image px)")
    cells = _fixation_cells(mat)
    files = sorted(stim_dir.glob("*.jpg"))
    if len(files) != cells.shape[0]:
        raise ParseError(stim_dir, f"{len(files)} images; fixations.mat has {cells.shape[0]} rows")
    stimuli, parts = [], []
    for i, path in enumerate(files):
        stimuli.append(stimulus_row(path, sigma_px=sigma_px, sigma_fraction=sigma_fraction))
        parts += _image_fixations(cells, i, mat)
    return write_imported(
        out,
        stimuli,
        parts,
        layout="nus-scene",
        sources=[mat],
        params=_provenance(src, sigma_px, sigma_fraction),
        notes=[NOTE],
        title="NUS scene saliency (500 SUN2012 images)",
        progress=progress,
    )


def _fixation_cells(mat: Path) -> np.ndarray:
    """The ``fixations`` cell array of ``fixations.mat``: images x observers."""
    cells = read_mat(mat, "no readable MATLAB variable 'fixations'", "fixations")
    if cells.ndim != 2 or cells.dtype != object:
        raise ParseError(mat, f"'fixations' is {cells.dtype} {cells.shape}; expected a cell array images x observers")
    return cells


def _image_fixations(cells: np.ndarray, i: int, mat: Path) -> list[pd.DataFrame]:
    """Each observer's fixations on image ``i`` (row ``i`` of the cell array) in image px and ms."""
    parts = []
    for k in range(cells.shape[1]):
        cell = np.asarray(cells[i, k], dtype=float)
        if cell.size == 0:
            continue
        if cell.ndim != 2 or cell.shape[1] != 4:
            raise ParseError(
                mat, f"cell ({i + 1}, {k + 1}) is {cell.shape}; expected N x 4 (y, x, onset s, duration s)"
            )
        y_px, x_px = cell[:, 0] - 0.5, cell[:, 1] - 0.5  # MATLAB (row, column) pixel centres
        parts.append(fixation_part(i, f"observer{k + 1:02d}", x_px, y_px, cell[:, 2] * 1000.0, cell[:, 3] * 1000.0))
    return parts


def _provenance(src: Path, sigma_px: float | None, sigma_fraction: float) -> dict[str, Any]:
    """The import's parameters, the dataset's licence (its LICENSE.txt, else MIT), citation and source."""
    licence = (
        (src / "LICENSE.txt").read_text(encoding="utf-8", errors="replace")
        if (src / "LICENSE.txt").is_file()
        else "MIT"
    )
    return {
        "sigma_px": sigma_px,
        "sigma_fraction": None if sigma_px else sigma_fraction,
        "coordinates": "MATLAB (row, column) pixel centres, minus 0.5 -> image px",
        "licence": licence,
        "citation": CITATION,
        "source_url": "https://github.com/Yanakz/Scene",
    }
