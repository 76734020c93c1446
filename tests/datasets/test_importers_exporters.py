"""Importers (the real nus-scene dataset) and exporters (folder layout), round trips included."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.cli import cli
from gazelab.datasets import describe, validate
from gazelab.datasets.exporters import export_folder
from gazelab.datasets.importers import available_importers, get_importer
from gazelab.datasets.schema import read_table
from gazelab.errors import ParameterError, ParseError
from tests.conftest import SHARED_DATA

NUS = SHARED_DATA / "nus-scene"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    if not NUS.is_dir():
        pytest.skip(f"real nus-scene data not available: {NUS} is absent")
    out = tmp_path_factory.mktemp("nus") / "scene.h5"
    r = CliRunner().invoke(cli, ["import", "nus-scene", str(NUS), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_nus_scene_import_is_complete_and_valid(scene):
    assert validate(scene) == []
    info = describe(scene)
    assert (info["stimuli"], info["observers"]) == (500, 12)
    assert info["fixations"] == 43894 - 2  # two published points fall outside their image
    import h5py
    from scipy.io import loadmat

    cells = loadmat(NUS / "fixations.mat")["fixations"]
    with h5py.File(scene, "r") as f:
        fx = read_table(f, "fixations")
        st = read_table(f, "stimuli")
        assert "MIT" in f["provenance"].attrs["licence"]
        assert "Liang" in f["provenance"].attrs["citation"]
    # image 003 (1600 x 1200), observer 1: (row, col) -> (x, y) = (col - 0.5, row - 0.5), seconds -> ms
    first = np.asarray(cells[2, 0], float)
    got = fx[(fx["stimulus"] == 2) & (fx["observer"] == 0)].sort_values("order")
    np.testing.assert_allclose(got["x_px"], first[:, 1] - 0.5, rtol=1e-6)
    np.testing.assert_allclose(got["y_px"], first[:, 0] - 0.5, rtol=1e-6)
    np.testing.assert_allclose(got["onset_ms"], first[:, 2] * 1000)
    np.testing.assert_allclose(got["duration_ms"], first[:, 3] * 1000, rtol=1e-6)
    assert (st.loc[2, "width_px"], st.loc[2, "height_px"]) == (1600, 1200)
    assert st.loc[2, "sigma_px"] == pytest.approx(0.03 * 1600)


def test_gaze_dataset_loads_the_import(scene):
    torch = pytest.importorskip("torch")
    from gazelab.datasets import GazeDataset, collate_gaze
    from gazelab.datasets.transforms import JointResize

    ds = GazeDataset(scene, transforms=JointResize((224, 224)))
    assert len(ds) == 500
    batch = collate_gaze([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 224, 224)
    torch.testing.assert_close(batch["saliency"].sum((1, 2, 3)), torch.ones(4))


def test_folder_export_round_trip(scene, tmp_path):
    out = export_folder(scene, tmp_path / "folder")
    images = sorted((out / "images").iterdir())
    assert len(images) == 500 and images[0].read_bytes() == (NUS / "stimuli" / "001.jpg").read_bytes()
    from PIL import Image

    m = np.asarray(Image.open(out / "maps" / "003.png"))
    assert m.shape == (1200, 1600) and m.max() == 255
    fx = pd.read_csv(out / "fixations.csv", dtype={"stimulus": str})
    assert len(fx) == 43892 and set(fx["observer"]) == {f"observer{k:02d}" for k in range(1, 13)}
    import h5py

    with h5py.File(scene, "r") as f:
        peak = np.unravel_index(int(np.argmax(f["maps/saliency/000002"][()])), (1200, 1600))
    assert m[peak] == 255
    with pytest.raises(ParameterError, match="empty folder"):
        export_folder(scene, out)


def test_importer_registry_and_bad_layouts(tmp_path):
    assert "nus-scene" in available_importers()
    with pytest.raises(ParameterError, match="nus-scene"):
        get_importer("salicon-2099")
    with pytest.raises(ParseError, match=r"fixations\.mat"):
        get_importer("nus-scene")(tmp_path, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_cli_export(scene, tmp_path):
    r = CliRunner().invoke(cli, ["export", "folder", str(scene), "--out", str(tmp_path / "f")])
    assert r.exit_code == 0 and Path(tmp_path / "f" / "stimuli.csv").exists()
