"""Importers of SALICON (2015 JSON, 2017 MAT), MIT1003 and CAT2000, on tiny fixtures written in the
published layouts (file names, JSON keys, MAT variables; see the importers' docstrings). The real
archives are not available offline here."""

import json

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from gazelab.datasets import describe, validate
from gazelab.datasets.importers import get_importer
from gazelab.datasets.schema import read_table
from gazelab.errors import ParseError


def _jpg(path, w, h, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, quality=90)


def _fixations(out):
    with h5py.File(out, "r") as f:
        return read_table(f, "fixations"), read_table(f, "stimuli"), list(f["observers/id"].asstr()[()])


def test_salicon_2015_json(tmp_path):
    root = tmp_path / "salicon"
    names = ["COCO_train2014_000000000009.jpg", "COCO_train2014_000000000025.jpg"]
    for k, n in enumerate(names):
        _jpg(root / "images" / "train" / n, 640, 480, k)
    data = {
        "info": {"description": "SALICON"},
        "licenses": [{"id": 1, "name": "x", "url": ""}],
        "type": "fixations",
        "images": [
            {"id": 9, "file_name": names[0], "width": 640, "height": 480, "license": 1, "url": "", "date_captured": ""},
            {
                "id": 25,
                "file_name": names[1],
                "width": 640,
                "height": 480,
                "license": 1,
                "url": "",
                "date_captured": "",
            },
        ],
        "annotations": [
            {"id": 1, "image_id": 9, "worker_id": 7, "fixations": [[1, 1], [240, 320], [480, 640]]},
            {"id": 2, "image_id": 9, "worker_id": 8, "fixations": [[100, 200]]},
            {"id": 3, "image_id": 25, "worker_id": 7, "fixations": [[10, 20], [11, 21]]},
        ],
    }
    (root / "fixations_train2014.json").write_text(json.dumps(data))
    out = get_importer("salicon")(root, tmp_path / "s.h5").path
    assert validate(out) == []
    fx, st, obs = _fixations(out)
    assert list(st["id"]) == [n[:-4] for n in names] and obs == ["worker7", "worker8"]
    first = fx[(fx["stimulus"] == 0) & (fx["observer"] == 0)].sort_values("order")
    np.testing.assert_allclose(
        first[["x_px", "y_px"]], [[0.5, 0.5], [319.5, 239.5], [639.5, 479.5]]
    )  # [row, col], 1-based
    assert first["duration_ms"].isna().all() and describe(out)["fixations"] == 6
    with pytest.raises(ParseError, match=r"fixations_val2014\.json"):
        get_importer("salicon")(root, tmp_path / "v.h5", split="val")


def test_salicon_2017_mat(tmp_path):
    root = tmp_path / "salicon17"
    stem = "COCO_val2014_000000000042"
    _jpg(root / "images" / "val" / f"{stem}.jpg", 640, 480)
    gaze = np.empty((2, 1), dtype=[("location", "O"), ("timestamp", "O"), ("fixations", "O")])
    gaze[0, 0] = (
        np.array([[10.0, 20.0], [11.0, 21.0]]),
        np.array([[0.0], [10.0]]),
        np.array([[320.0, 240.0], [1.0, 1.0]]),
    )
    gaze[1, 0] = (np.array([[5.0, 5.0]]), np.array([[0.0]]), np.array([[640.0, 480.0]]))
    (root / "fixations" / "val").mkdir(parents=True)
    savemat(
        root / "fixations" / "val" / f"{stem}.mat", {"image": stem, "resolution": np.array([[480, 640]]), "gaze": gaze}
    )
    out = get_importer("salicon")(root, tmp_path / "s.h5", split="val").path
    assert validate(out) == []
    fx, _, obs = _fixations(out)
    assert obs == [f"{stem}-1", f"{stem}-2"]
    np.testing.assert_allclose(
        fx.sort_values(["observer", "order"])[["x_px", "y_px"]], [[319.5, 239.5], [0.5, 0.5], [639.5, 479.5]]
    )  # [x, y], 1-based


def test_mit1003(tmp_path):
    root = tmp_path / "mit"
    _jpg(root / "ALLSTIMULI" / "i05june05_static_street_boston_p1010764.jpeg", 1024, 768)
    targets = [(512, 384), (100, 150), (800, 600), (300, 700)]  # the first is the central cross
    rng = np.random.default_rng(0)
    samples = []
    for tx, ty in targets:
        samples.append(np.c_[tx + rng.normal(0, 2, 72), ty + rng.normal(0, 2, 72)])  # 300 ms each
        samples.append(np.c_[np.linspace(tx, tx + 50, 5), np.linspace(ty, ty + 50, 5)] * np.nan)  # a gap
    eye = np.vstack(samples)
    eye[75:77] = -1.0  # a blink inside the gap: negative values
    name = "i05june05_static_street_boston_p1010764"
    record = {"imgName": f"{name}.jpeg", "DATA": {"calib": np.zeros(2), "res": np.zeros(2), "eyeData": eye}}
    for subject in ("ajs", "emb"):
        d = root / "DATA" / subject
        d.mkdir(parents=True)
        savemat(d / f"{name}.mat", {name: record})
        savemat(d / "CalibrationData.mat", {"calib": np.zeros(3)})
    out = get_importer("mit1003")(root, tmp_path / "m.h5").path
    assert validate(out) == []
    fx, st, obs = _fixations(out)
    assert obs == ["ajs", "emb"] and st["width_px"][0] == 1024
    got = fx[fx["observer"] == 0].sort_values("order")
    np.testing.assert_allclose(got[["x_px", "y_px"]], targets[1:], atol=2)  # centre fixation dropped
    assert (got["duration_ms"] >= 100).all() and (np.diff(got["onset_ms"]) > 0).all()


def test_cat2000(tmp_path):
    root = tmp_path / "CAT2000"
    for cat, k in (("Action", "001"), ("Satelite", "134")):
        _jpg(root / "trainSet" / "Stimuli" / cat / f"{k}.jpg", 192, 108)
        _jpg(root / "trainSet" / "FIXATIONMAPS" / cat / f"{k}.jpg", 192, 108)
        locs = np.zeros((108, 192), np.uint8)
        locs[[10, 50], [20, 100]] = 1
        (root / "trainSet" / "FIXATIONLOCS" / cat).mkdir(parents=True)
        savemat(root / "trainSet" / "FIXATIONLOCS" / cat / f"{k}.mat", {"fixLocs": locs})
    (root / "trainSet" / "Stimuli" / "Action" / "Output").mkdir()
    out = get_importer("cat2000")(root, tmp_path / "c.h5").path
    assert validate(out) == []
    fx, st, obs = _fixations(out)
    assert list(st["id"]) == ["Action/001", "Satelite/134"] and list(st["label"]) == ["Action", "Satelite"]
    assert obs == ["pooled"]
    np.testing.assert_allclose(
        fx[fx["stimulus"] == 0].sort_values("order")[["x_px", "y_px"]], [[20.5, 10.5], [100.5, 50.5]]
    )
