"""Hugging Face export: an imagefolder layout that Hugging Face ``datasets`` loads as it is.

The loading test runs ``datasets`` (not a gazelab dependency) in a separate process from a
throwaway folder (``.venv-hf`` in the repository, or ``GAZELAB_HF_DATASETS_PATH``) made with
``pip install --no-deps --target DIR datasets==5.2.0 huggingface-hub xxhash multiprocess httpx
...``; it is skipped when that folder has no ``datasets``. Offline: nothing is fetched.
"""

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from gazelab.datasets import build_dataset, schema
from gazelab.datasets.exporters import export_huggingface
from tests.datasets.conftest import Peer, check_refuses_overwrite_and_cli, make_session, make_stimuli

HF = Peer("datasets", "Hugging Face datasets", "GAZELAB_HF_DATASETS_PATH", ".venv-hf")

SCRIPT = r"""
import json, sys
from datasets import load_dataset
ds = load_dataset("imagefolder", data_dir=sys.argv[1])
train = ds["train"]
row = train[0]
print(json.dumps({"splits": sorted(ds.keys()), "n": len(train), "columns": sorted(train.column_names),
                  "size": list(row["image"].size), "id": row["id"],
                  "map": [type(row["map"]).__name__, list(row["map"].size), row["map"].mode], "n_fix": len(row["fixations"]["x_px"]),
                  "observers": row["observers"]}))
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hf")
    stimuli = make_stimuli(tmp / "stimuli")
    sessions = [make_session(tmp / f"P0{i}.asc", seed=i) for i in (1, 2)]
    h5 = tmp / "d.h5"
    build_dataset(sessions, h5, screen_cm=(37.5, 30.0), distance_cm=60.0, stimuli_dir=stimuli, title="toy gaze")
    return h5


def test_layout_metadata_and_card(dataset, tmp_path):
    out = export_huggingface(dataset, tmp_path / "hf")
    lines = (out / "train" / "metadata.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    with h5py.File(dataset, "r") as f:
        st, fx = schema.read_table(f, "stimuli"), schema.read_table(f, "fixations")
        first_map = f[schema.map_path(0)][()]
    assert len(rows) == len(st) and sum(len(r["fixations"]["x_px"]) for r in rows) == len(fx)
    r = rows[0]
    assert (out / "train" / r["file_name"]).is_file() and r["observers"] == ["P01", "P02"]
    png = np.asarray(Image.open(out / "train" / r["map_file_name"]))
    assert png.shape == first_map.shape and png.max() == 255
    np.testing.assert_array_equal(png, np.round(first_map.astype(np.float64) / first_map.max() * 255))
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "path: train/**" in card and "toy gaze" in card
    check_refuses_overwrite_and_cli(export_huggingface, "huggingface", dataset, tmp_path / "hf", "README.md")


def test_hugging_face_datasets_loads_it(dataset, tmp_path):
    HF.skip_unless_installed()
    out = export_huggingface(dataset, tmp_path / "hf")
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    res = HF.run(SCRIPT, [out], env=env, timeout=300)
    assert res["splits"] == ["train"] and res["n"] == 3
    # datasets reads every "<name>_file_name" column as one more image column "<name>"
    assert {"image", "map", "fixations", "observers", "id"} <= set(res["columns"])
    assert res["map"][1] == res["size"] and res["map"][2] == "L"
    assert res["observers"] == ["P01", "P02"] and res["n_fix"] > 0
