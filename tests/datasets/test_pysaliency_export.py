"""pysaliency export: the files load with pysaliency itself and score the same maps as gazelab does.

pysaliency 0.2.22 is not installed in the test environment (it needs ``pkg_resources``, gone from
setuptools >= 81, and ``np.trapz``, gone from numpy 2.4). The loading test runs it in a separate
process from a throwaway folder (``.venv-pysaliency`` in the repository, or the folder
``GAZELAB_PYSALIENCY_PATH`` names) holding ``pip install --no-deps --target DIR
pysaliency==0.2.22 setuptools==80.9.0``; it is skipped when that folder has no pysaliency.
"""

import json

import h5py
import numpy as np
import pytest

from gazelab.analysis import metrics as M
from gazelab.datasets import build_dataset, schema
from gazelab.datasets.exporters import export_pysaliency
from tests.datasets.conftest import Peer, check_refuses_overwrite_and_cli, make_session, make_stimuli

PYSALIENCY = Peer("pysaliency", "pysaliency", "GAZELAB_PYSALIENCY_PATH", ".venv-pysaliency")

SCRIPT = r"""
import hashlib, json, sys, warnings
import h5py, numpy as np
warnings.simplefilter("ignore")
if not hasattr(np, "trapz"):
    np.trapz = np.trapezoid
import pysaliency
from pysaliency.saliency_map_models import SaliencyMapModel

out, h5 = sys.argv[1], sys.argv[2]
stimuli = pysaliency.read_hdf5(out + "/stimuli.hdf5")
fixations = pysaliency.read_hdf5(out + "/fixations.hdf5")
with h5py.File(h5, "r") as f:
    maps = [f["/maps/saliency/%06d" % i][()].astype(float) for i in range(len(stimuli))]
by_hash = {hashlib.sha1(np.ascontiguousarray(stimuli.stimuli[i]).tobytes()).hexdigest(): maps[i] for i in range(len(stimuli))}

class Maps(SaliencyMapModel):
    def _saliency_map(self, stimulus):
        return by_hash[hashlib.sha1(np.ascontiguousarray(stimulus).tobytes()).hexdigest()]

model = Maps(caching=False)
nss = model.NSSs(stimuli, fixations)
shuffled = model.AUC_per_image(stimuli, fixations, nonfixations="shuffled")
res = {"type": type(fixations).__name__, "n_fixations": int(len(fixations.x)), "n": fixations.n.tolist(),
       "x": fixations.x.tolist(), "y": fixations.y.tolist(), "duration": fixations.duration.tolist(),
       "shapes": [list(s) for s in stimuli.sizes], "ids": list(stimuli.attributes["id"]),
       "nss": [], "auc_judd": [], "auc_shuffled": [float(v) for v in shuffled]}
for i in range(len(stimuli)):
    sel = fixations.n == i
    res["nss"].append(float(nss[sel].mean()))
    res["auc_judd"].append(float(model.AUC_Judd(stimuli, fixations[sel], jitter=False)))
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pys")
    stimuli = make_stimuli(tmp / "stimuli")
    sessions = [make_session(tmp / f"P0{i}.asc", seed=i) for i in (1, 2, 3)]
    h5 = tmp / "d.h5"
    build_dataset(sessions, h5, screen_cm=(37.5, 30.0), distance_cm=60.0, stimuli_dir=stimuli)
    return h5


def test_files_in_pysaliency_layout(dataset, tmp_path):
    files = export_pysaliency(dataset, tmp_path / "out")
    assert [p.name for p in files] == ["stimuli.hdf5", "fixations.hdf5", "index.json"]
    with h5py.File(dataset, "r") as src, h5py.File(files[0], "r") as st, h5py.File(files[1], "r") as fx:
        n_stim = len(src["stimuli/id"])
        assert st.attrs["type"] == b"Stimuli" and st.attrs["version"] == b"1.1" and st.attrs["size"] == n_stim
        first = schema.decode_image(src[schema.image_path(0)][()])
        assert st["0"].shape[:2] == first.shape[:2]
        assert fx.attrs["type"] == b"FixationTrains" and fx.attrs["version"] == b"1.2"
        assert np.isfinite(fx["train_xs"][()]).sum() == len(src["fixations/x_px"])
    index = json.loads(files[2].read_text())
    assert index["subjects"] == ["P01", "P02", "P03"]
    check_refuses_overwrite_and_cli(export_pysaliency, "pysaliency", dataset, tmp_path / "out", "fixations.hdf5")


def test_pysaliency_loads_the_export_and_scores_like_gazelab(dataset, tmp_path):
    PYSALIENCY.skip_unless_installed()
    out = tmp_path / "out"
    export_pysaliency(dataset, out)
    res = PYSALIENCY.run(SCRIPT, [out, dataset])
    assert res["type"] == "FixationTrains"
    with h5py.File(dataset, "r") as f:
        table = schema.read_table(f, "fixations")
        ids = [str(s) for s in f["stimuli/id"].asstr()[()]]
        maps = [f[schema.map_path(i)][()].astype(np.float64) for i in range(len(ids))]
    assert res["ids"] == ids and res["n_fixations"] == len(table)
    n, x, y = np.array(res["n"]), np.array(res["x"]), np.array(res["y"])
    ours = np.c_[table["stimulus"], table["x_px"].astype(float), table["y_px"].astype(float)]
    np.testing.assert_allclose(np.array(sorted(map(tuple, np.c_[n, x, y]))), np.array(sorted(map(tuple, ours))))
    assert sorted(res["duration"]) == pytest.approx(sorted(table["duration_ms"].astype(float)))
    h, w = np.array(res["shapes"])[:, 0], np.array(res["shapes"])[:, 1]
    for i, m in enumerate(maps):
        xy = np.c_[x[n == i], y[n == i]]
        # other stimuli's fixations, rescaled to this image's size (pysaliency's shuffled nonfixations)
        o = n != i
        others = np.c_[x[o] * w[i] / w[n[o]], y[o] * h[i] / h[n[o]]]
        assert M.nss(m, xy, convention="pysaliency") == pytest.approx(res["nss"][i], abs=1e-9)
        assert M.auc_judd(m, xy, convention="pysaliency", jitter=False) == pytest.approx(res["auc_judd"][i], abs=1e-9)
        assert M.auc_shuffled(m, xy, others, convention="pysaliency") == pytest.approx(res["auc_shuffled"][i], abs=1e-9)
