"""The validator on a clean dataset and on deliberately damaged copies, through the CLI too."""

import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from gazelab.cli import cli
from gazelab.datasets import build_dataset, validate
from gazelab.datasets.schema import image_path, map_path


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    from tests.datasets.conftest import make_session, make_stimuli

    d = tmp_path_factory.mktemp("clean")
    stimuli = make_stimuli(d / "stimuli")
    sessions = [make_session(d / f"P{i}.asc", seed=i) for i in (1, 2)]
    out = d / "ds.h5"
    build_dataset(sessions, out, stimuli_dir=stimuli, screen_cm=(37.5, 30.0), distance_cm=60.0)
    return out


def _copy(clean, tmp_path, name="bad.h5"):
    target = tmp_path / name
    shutil.copy(clean, target)
    return target


def _messages(path):
    return [str(p) for p in validate(path) if p.severity == "error"]


def test_clean_file_validates(clean):
    assert validate(clean) == []
    r = CliRunner().invoke(cli, ["validate", str(clean)])
    assert r.exit_code == 0 and "valid" in r.output


def test_truncated_file(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    msgs = _messages(bad)
    assert len(msgs) >= 1 and ("not a readable HDF5" in msgs[0] or "could not be checked" in " ".join(msgs))


def test_wrong_dtype(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        x = f["fixations/x_px"][()]
        del f["fixations/x_px"]
        f["fixations"].create_dataset("x_px", data=x.astype(np.int32))
    msgs = _messages(bad)
    assert any("/fixations/x_px: dtype int32; expected float32" in m for m in msgs)


@pytest.mark.parametrize(("value", "expected"), [(np.nan, "non-finite"), (-0.5, "negative values")])
def test_nan_or_negative_in_a_map(clean, tmp_path, value, expected):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        f[map_path(0)][3, 3] = value
    msgs = _messages(bad)
    assert any(map_path(0) in m and expected in m for m in msgs)
    assert any(map_path(0) in m and "checksum mismatch" in m for m in msgs)


def test_fixation_out_of_range(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        f["fixations/x_px"][0] = 1e6
    msgs = _messages(bad)
    assert any("fixations outside their image" in m for m in msgs)


def test_bad_checksum_and_dangling_reference(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        f[image_path(1)][200] = f[image_path(1)][200] ^ 0xFF
        f["trials/stimulus"][0] = 99
    msgs = _messages(bad)
    assert any(image_path(1) in m and "checksum mismatch" in m for m in msgs)
    assert any("/trials/stimulus" in m and "point past /stimuli" in m for m in msgs)


def test_missing_pieces_and_wrong_format(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        del f[map_path(2)]
        del f["observers/metadata_json"]
        f.attrs["format_version"] = "2.0"
    msgs = _messages(bad)
    assert any("format version 2.0" in m for m in msgs)
    assert any(map_path(2) in m and "missing saliency map" in m for m in msgs)
    assert any("/observers/metadata_json: missing column" in m for m in msgs)


def test_not_hdf5_and_missing_file(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    assert "not a readable HDF5" in _messages(junk)[0]
    assert "no such file" in _messages(tmp_path / "none.h5")[0]


def test_cli_exit_codes_and_no_traceback(clean, tmp_path):
    bad = _copy(clean, tmp_path)
    with h5py.File(bad, "a") as f:
        f[map_path(0)][0, 0] = np.nan
        f["fixations/duration_ms"][0] = -1
    r = CliRunner().invoke(cli, ["validate", str(bad)])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and "INVALID" in r.output
    assert "durations not > 0" in r.output and "non-finite" in r.output
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    r = CliRunner().invoke(cli, ["validate", str(junk)])
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_info_and_release_commands(clean, tmp_path):
    r = CliRunner().invoke(cli, ["info", str(clean)])
    assert r.exit_code == 0 and "stimuli: 3" in r.output and "gazelab-gaze-dataset 1.1" in r.output
    target = _copy(clean, tmp_path, "rel.h5")
    meta = tmp_path / "release.yaml"
    meta.write_text("title: T\nversion: '1.0'\nlicence: MIT\ncitation: me\n")
    r = CliRunner().invoke(cli, ["release", str(target), "--meta", str(meta)])
    assert r.exit_code == 0 and (tmp_path / "rel.h5.manifest.json").exists()
    with h5py.File(target, "a") as f:
        f["fixations/x_px"][0] = 1e6
    r = CliRunner().invoke(cli, ["release", str(target), "--meta", str(meta)])
    assert r.exit_code == 1 and "does not validate" in r.output
