"""Importer for MIT1003 (Judd, Ehinger, Durand & Torralba 2009).

Layout: ``ALLSTIMULI/<name>.jpeg``; ``ALLFIXATIONMAPS/<name>_fixMap.jpg`` and ``_fixPts.jpg``;
``DATA/<subject>/<name>.mat`` holding one variable (the image name, cut to 63 characters), a
struct with ``imgName`` and ``DATA``, whose ``eyeData`` is the raw ``[x, y]`` gaze in image px
at 240 Hz (negative values during blinks). ``CalibrationData.mat`` and ``shuff_stimnames.mat``
in the subject folders are skipped.

MIT1003 publishes raw gaze, not fixations: they are detected here with gazelab's I-DT
(dispersion 1 deg, taken as 30 image px for the 1024-px images seen from about 0.75 m as in the
original setup, and 100 ms), a documented choice rather than Judd's own ``checkFixations``;
the first fixation of each trial (the central fixation cross) is dropped as in Judd et al.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gazelab.datasets.importers import register_importer
from gazelab.datasets.importers._common import read_mat, stimulus_row, write_imported
from gazelab.datasets.release import BuildReport
from gazelab.errors import ParseError

__all__ = ["fixations_from_eye_data", "import_mit1003"]

CITATION = "T. Judd, K. Ehinger, F. Durand, A. Torralba. Learning to predict where humans look. ICCV 2009."
RATE_HZ = 240.0
_SKIP = {"CalibrationData", "shuff_stimnames"}


def fixations_from_eye_data(
    xy: np.ndarray, *, dispersion_px: float = 30.0, min_duration_ms: float = 100.0, rate_hz: float = RATE_HZ
) -> pd.DataFrame:
    """I-DT fixations of raw ``[x, y]`` image-px samples (negative or NaN = missing).

    Returns
    -------
    pandas.DataFrame
        ``x_px``, ``y_px`` (mean position), ``onset_ms`` (from the first sample), ``duration_ms``.
    """
    from gazelab.preprocessing.detection.idt import dispersion_runs

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    bad = (x < 0) | (y < 0) | ~np.isfinite(x) | ~np.isfinite(y)
    x[bad] = np.nan
    y[bad] = np.nan
    period = 1000.0 / rate_hz
    runs = dispersion_runs(x, y, np.zeros(len(x), np.int64), period, dispersion_px, min_duration_ms)
    s, e = runs[:, 0], runs[:, 1]
    mean_x = np.array([np.nanmean(x[a : b + 1]) for a, b in runs])
    mean_y = np.array([np.nanmean(y[a : b + 1]) for a, b in runs])
    return pd.DataFrame({"x_px": mean_x, "y_px": mean_y, "onset_ms": s * period, "duration_ms": (e - s + 1) * period})


def _eye_data(mat: Path) -> np.ndarray:
    m = read_mat(mat, "cannot read the MATLAB file", squeeze_me=True, struct_as_record=False)
    names = [k for k in m if not k.startswith("__")]
    if len(names) != 1:
        raise ParseError(mat, f"expected one variable named after the image; found {names}")
    try:
        return np.asarray(m[names[0]].DATA.eyeData, dtype=float)
    except AttributeError:
        raise ParseError(mat, "expected the struct fields DATA.eyeData (raw [x, y] gaze at 240 Hz)") from None


@register_importer("mit1003")
def import_mit1003(
    source: str | Path,
    out: str | Path,
    *,
    sigma_px: float | None = None,
    sigma_fraction: float = 0.03,
    dispersion_px: float = 30.0,
    progress: bool | None = None,
) -> BuildReport:
    """Import MIT1003 (stimuli + per-subject raw gaze) into gazelab HDF5.

    Parameters
    ----------
    source : path
        The folder with ``ALLSTIMULI/`` and ``DATA/``.
    out : path
        The dataset file.
    sigma_px, sigma_fraction : float, optional
        Map sigma in image px (default 3 % of the larger side, about 31 px, close to the 1 deg
        of the MIT benchmark).
    dispersion_px : float, optional
        I-DT dispersion threshold in image px (default 30, about 1 deg).
    progress : bool or None, optional
        Progress bar.

    Returns
    -------
    BuildReport
    """
    root = Path(source)
    stim_dir, data_dir = root / "ALLSTIMULI", root / "DATA"
    if not stim_dir.is_dir() or not data_dir.is_dir():
        raise ParseError(root, "expected the MIT1003 layout: ALLSTIMULI/ and DATA/<subject>/")
    files = sorted(p for p in stim_dir.iterdir() if p.suffix.lower() in (".jpeg", ".jpg"))
    if not files:
        raise ParseError(stim_dir, "no .jpeg stimuli")
    stimuli = [stimulus_row(p, sigma_px=sigma_px, sigma_fraction=sigma_fraction) for p in files]
    index = {p.stem[:63]: i for i, p in enumerate(files)}
    parts, sources = [], []
    for subject in sorted(d for d in data_dir.iterdir() if d.is_dir()):
        for mat in sorted(subject.glob("*.mat")):
            if mat.stem in _SKIP:
                continue
            if mat.stem[:63] not in index:
                raise ParseError(mat, "names no stimulus in ALLSTIMULI/")
            fx = fixations_from_eye_data(_eye_data(mat), dispersion_px=dispersion_px).iloc[
                1:
            ]  # drop the centre fixation
            parts.append(
                fx.assign(stimulus=index[mat.stem[:63]], observer=subject.name, order=np.arange(1, len(fx) + 1))
            )
            sources.append(mat)
    params = {
        "sigma_px": sigma_px,
        "fixation_detection": f"I-DT {dispersion_px} px, 100 ms on 240 Hz eyeData",
        "citation": CITATION,
        "source_url": "http://people.csail.mit.edu/tjudd/WherePeopleLook/",
    }
    return write_imported(
        out,
        stimuli,
        parts,
        layout="mit1003",
        sources=sources[:1],
        params=params,
        notes=["Fixations detected by gazelab (I-DT) from the published raw gaze."],
        title="MIT1003",
        progress=progress,
    )
