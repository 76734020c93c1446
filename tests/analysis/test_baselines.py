"""Human baselines: the centre-bias map and leave-one-observer-out consistency on real nus-scene data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazelab.analysis import metrics as M
from gazelab.analysis.baselines import (
    CentreBias,
    centre_bias_map,
    centre_bias_scores,
    dataset_centre_bias,
    inter_observer,
)
from gazelab.errors import ParameterError
from gazelab.preprocessing.maps import fixation_map, saliency_map

NUS = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nus-scene").resolve()
IMAGES = ["001.jpg", "002.jpg", "004.jpg", "005.jpg"]  # the first four 256 x 256 images: fast


def test_centre_bias_map_shape_mass_and_anisotropy():
    m = centre_bias_map((40, 80), CentreBias(0.25, 0.5, 0.1, 0.3))
    assert m.shape == (40, 80) and m.sum() == pytest.approx(1.0)
    r, c = np.unravel_index(m.argmax(), m.shape)
    assert c in (19, 20) and r in (19, 20)
    # sd 0.1 of 80 px = 8 px across, 0.3 of 40 px = 12 px down: wider down than across
    col = m[:, 20] / m[:, 20].max()
    row = m[20, :] / m[20, :].max()
    assert (col > 0.5).sum() > (row > 0.5).sum()
    with pytest.raises(ParameterError, match="params"):
        centre_bias_map((4, 4), CentreBias(std_x=0.0))
    with pytest.raises(ParameterError, match="shape"):
        centre_bias_map((0, 4))


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory) -> Path:
    """A 4-image nus-scene release built from the real data (its published layout, cut down)."""
    if not NUS.is_dir():
        pytest.skip(f"real nus-scene data not available: {NUS} is absent")
    from scipy.io import loadmat, savemat

    from gazelab.datasets.importers.nus_scene import import_nus_scene

    src = tmp_path_factory.mktemp("nus-small")
    (src / "stimuli").mkdir()
    cells = loadmat(NUS / "fixations.mat")["fixations"]
    rows = [int(name[:3]) - 1 for name in IMAGES]
    for name in IMAGES:
        (src / "stimuli" / name).symlink_to(NUS / "stimuli" / name)
    savemat(src / "fixations.mat", {"fixations": cells[rows]})
    out = src / "scene4.h5"
    import_nus_scene(src, out, progress=False)
    return out


def test_dataset_centre_bias_is_the_moments_of_relative_positions(small_scene):
    import h5py

    with h5py.File(small_scene, "r") as f:
        x, y = f["fixations/x_px"][()], f["fixations/y_px"][()]
    cb = dataset_centre_bias(small_scene)
    assert cb.n_fixations == len(x)
    assert cb.mean_x == pytest.approx(np.mean(x / 256), rel=1e-5)
    assert cb.std_y == pytest.approx(np.std(y / 256), rel=1e-5)


def test_inter_observer_is_leave_one_observer_out(small_scene):
    import h5py

    scores, summary = inter_observer(small_scene, metrics=["nss", "cc", "auc_judd"], progress=False)
    assert set(scores["source"]) == {"inter_observer", "centre_bias"}
    assert scores["stimulus"].nunique() == len(IMAGES)
    # recompute one row by hand: stimulus 0, its first observer
    row = scores[(scores.source == "inter_observer") & (scores.stimulus == 0)].iloc[0]
    with h5py.File(small_scene, "r") as f:
        a, b = f["fixations/stimulus_offsets"][0:2]
        x, y = f["fixations/x_px"][a:b], f["fixations/y_px"][a:b]
        obs = f["fixations/observer"][a:b]
        ids = f["observers/id"].asstr()[()]
        sigma = float(f["stimuli/sigma_px"][0])
    o = list(ids).index(row["observer"])
    rest = saliency_map(x[obs != o], y[obs != o], (256, 256), sigma)
    held = fixation_map(x[obs == o], y[obs == o], (256, 256))
    assert row["nss"] == pytest.approx(M.nss(rest, held), abs=1e-6)
    assert row["cc"] == pytest.approx(M.cc(rest, saliency_map(x[obs == o], y[obs == o], (256, 256), sigma)), abs=1e-6)
    assert row["n_fixations"] == held.sum() and row["n_rest"] == (obs != o).sum()
    # humans beat chance; the summary has one row per source and metric
    io = summary[summary.source == "inter_observer"].set_index("metric")["mean"]
    assert io["auc_judd"] > 0.6 and io["nss"] > 0.5
    assert len(summary) == 6 and (summary["n"] == len(IMAGES)).all()


def test_centre_bias_scores_and_errors(small_scene):
    cb = centre_bias_scores(small_scene, metrics=["auc_judd", "information_gain"], progress=False)
    assert len(cb) == len(IMAGES)
    assert (cb["auc_judd"] > 0.5).all()
    np.testing.assert_allclose(cb["information_gain"], 0.0, atol=1e-9)  # the baseline against itself
    with pytest.raises(ParameterError, match="metrics"):
        inter_observer(small_scene, metrics=["nope"])
    with pytest.raises(ParameterError, match="stimuli"):
        inter_observer(small_scene, stimuli=[99])
