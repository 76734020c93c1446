"""Hostile and careless dataset handling: paths that leave the output, HDF5 links to elsewhere,
good files destroyed by a build, an append, an import or an export.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from gazelab.datasets import schema
from tests.hostile.conftest import CLI_GEOMETRY, assert_one_line, gazelab, rewrite_checksums, snapshot

# ---- names that would leave the output folder ----------------------------------------------------

UNSAFE_NAMES = [
    "../x.png",
    "../../outside/x.png",
    "/tmp/absolute.png",
    "a/../../x.png",
    "images/../../../x.png",
    "C:\\Windows\\x.png",
    "\\\\server\\share\\x.png",
    "..",
    "",
    "a\x01b.png",
    "new\nline.png",
]


def _set_name(path: Path, column: str, value: str, row: int = 0) -> None:
    with h5py.File(path, "r+") as f:
        f[f"stimuli/{column}"][row] = value
        rewrite_checksums(f)


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=repr)
def test_export_refuses_a_file_name_that_leaves_the_folder(dataset, tmp_path, name):
    _set_name(dataset, "file_name", name)
    out = tmp_path / "export" / "here"
    before = snapshot(tmp_path)
    assert_one_line(gazelab("export", "folder", dataset, "--out", out), "file_name")
    assert snapshot(tmp_path) == before  # nothing written, not even the output folder
    # and the validator calls it invalid
    result = gazelab("validate", dataset)
    assert result.exit_code == 1
    assert "/stimuli/file_name" in result.stderr and "unsafe" in result.stderr


@pytest.mark.parametrize("name", ["../../evil", "/etc/evil", "a/../../b"], ids=repr)
def test_export_refuses_a_stimulus_id_that_leaves_the_maps_folder(dataset, tmp_path, name):
    _set_name(dataset, "id", name)
    before = snapshot(tmp_path)
    assert_one_line(gazelab("export", "folder", dataset, "--out", tmp_path / "out"), "stimulus id")
    assert snapshot(tmp_path) == before
    assert "/stimuli/id" in gazelab("validate", dataset).stderr


def test_export_of_nested_names_stays_inside(dataset, tmp_path):
    _set_name(dataset, "file_name", "sub/dir/x.png")
    out = tmp_path / "out"
    result = gazelab("export", "folder", dataset, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "images" / "sub" / "dir" / "x.png").is_file()
    assert all(out in p.parents for p in out.rglob("*"))


def _build_args(rec: Path, stim: Path, table: Path, out: Path) -> list[object]:
    return ["build", rec, "--stimuli", stim, "--trial-table", table, *CLI_GEOMETRY, "--out", out]


@pytest.fixture
def build_inputs(tmp_path):
    from tests.datasets.conftest import make_session, make_stimuli

    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P01.asc", seed=1, imgload=False)
    return rec, stim


@pytest.mark.parametrize("how", ["relative ../", "absolute path", "symlink out of --stimuli"])
def test_trial_table_stimulus_outside_stimuli_is_refused(build_inputs, tmp_path, victim, how):
    from PIL import Image

    rec, stim = build_inputs
    outside_img = victim.parent / "x.png"
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(outside_img)
    if how == "relative ../":
        name = "../outside/x.png"
    elif how == "absolute path":
        name = str(outside_img)
    else:
        (stim / "link.png").symlink_to(outside_img)
        name = "link.png"
    table = tmp_path / "trials.csv"
    table.write_text(
        "recording,trial,stimulus\n" + "".join(f"P01.asc,{k},{name}\n" for k in (1, 2, 3)), encoding="utf-8"
    )
    out = tmp_path / "ds.h5"
    before = snapshot(tmp_path)
    assert_one_line(gazelab(*_build_args(rec, stim, table, out)), "stimulus")
    assert snapshot(tmp_path) == before
    assert not out.exists()


# ---- HDF5 content that points outside the file ---------------------------------------------------


def _plant(path: Path, kind: str, victim: Path) -> None:
    other = victim.parent / "other.h5"
    with h5py.File(other, "w") as g:
        g["x"] = np.frombuffer(victim.read_bytes(), np.uint8)
    with h5py.File(path, "r+") as f:
        ip = schema.image_path(0)
        n = f[ip].shape[0]
        if kind == "external link":
            del f[ip]
            f[ip] = h5py.ExternalLink(str(other), "/x")
        elif kind == "external raw storage":
            del f[ip]
            f.create_dataset(ip, shape=(victim.stat().st_size,), dtype="u1", external=[(str(victim), 0, n)])
        else:
            del f[ip]
            layout = h5py.VirtualLayout(shape=(victim.stat().st_size,), dtype="u1")
            layout[:] = h5py.VirtualSource(str(other), "x", shape=(victim.stat().st_size,))
            f.create_virtual_dataset(ip, layout)
        rewrite_checksums(f)


OUTSIDE = ["external link", "external raw storage", "virtual dataset"]


@pytest.mark.parametrize("kind", OUTSIDE)
def test_validate_refuses_outside_references(dataset, victim, kind):
    _plant(dataset, kind, victim)
    result = gazelab("validate", dataset)
    assert result.exit_code == 1
    assert "self-contained" in result.stderr and "INVALID" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", OUTSIDE)
def test_export_refuses_outside_references(dataset, tmp_path, victim, kind):
    _plant(dataset, kind, victim)
    before = snapshot(tmp_path)
    assert_one_line(gazelab("export", "folder", dataset, "--out", tmp_path / "out"), "self-contained")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", OUTSIDE)
def test_gaze_dataset_refuses_outside_references(dataset, victim, kind):
    pytest.importorskip("torch")
    from gazelab.datasets import GazeDataset
    from gazelab.errors import ParseError

    _plant(dataset, kind, victim)
    with pytest.raises(ParseError, match="self-contained"):
        GazeDataset(dataset)


@pytest.mark.parametrize("kind", OUTSIDE)
def test_append_refuses_outside_references(dataset, tmp_path, victim, kind):
    from tests.datasets.conftest import make_session, make_stimuli

    _plant(dataset, kind, victim)
    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)
    before = snapshot(tmp_path)
    args = ["build", rec, "--stimuli", stim, *CLI_GEOMETRY, "--out", dataset, "--append"]
    assert_one_line(gazelab(*args), "self-contained")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", OUTSIDE)
def test_info_refuses_outside_references(dataset, victim, kind):
    _plant(dataset, kind, victim)
    assert_one_line(gazelab("info", dataset), "self-contained")


# ---- good files never destroyed --------------------------------------------------------------------


def test_build_refuses_the_input_recording_as_output(build_inputs, tmp_path):
    from tests.datasets.conftest import make_session

    _, stim = build_inputs
    rec = make_session(tmp_path / "P09.asc", seed=9)
    before = snapshot(tmp_path)
    assert_one_line(gazelab("build", rec, "--stimuli", stim, *CLI_GEOMETRY, "--out", rec), "input")
    assert snapshot(tmp_path) == before


def test_build_onto_an_existing_dataset_needs_overwrite(dataset, tmp_path):
    from tests.datasets.conftest import make_session, make_stimuli

    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)
    before = snapshot(tmp_path)
    args = ["build", rec, "--stimuli", stim, *CLI_GEOMETRY, "--out", dataset]
    assert_one_line(gazelab(*args), "--overwrite")
    assert snapshot(tmp_path) == before  # the existing sessions are still there
    result = gazelab(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert gazelab("validate", dataset).exit_code == 0
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("damage", ["data changed", "checksum changed"])
def test_append_onto_a_corrupted_release_is_refused(dataset, tmp_path, damage):
    from tests.datasets.conftest import make_session, make_stimuli

    with h5py.File(dataset, "r+") as f:
        if damage == "data changed":
            f["fixations/x_px"][0] = f["fixations/x_px"][0] + 1.0
        else:
            f["checksums/sha256"][0] = "0" * 64
    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)
    before = snapshot(tmp_path)
    args = ["build", rec, "--stimuli", stim, *CLI_GEOMETRY, "--out", dataset, "--append"]
    assert_one_line(gazelab(*args), "invalid dataset", "checksum")
    assert snapshot(tmp_path) == before
    assert gazelab("validate", dataset).exit_code == 1  # still reported as corrupted


def test_append_onto_a_file_that_is_not_hdf5(tmp_path):
    from tests.datasets.conftest import make_session, make_stimuli

    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)
    notes = tmp_path / "notes.h5"
    notes.write_text("my precious notes\n")
    before = snapshot(tmp_path)
    args = ["build", rec, "--stimuli", stim, *CLI_GEOMETRY, "--out", notes, "--append"]
    assert_one_line(gazelab(*args), "notes.h5")
    assert snapshot(tmp_path) == before


def test_info_on_a_malformed_attribute(dataset):
    with h5py.File(dataset, "r+") as f:
        f.attrs["format_version"] = np.array([1.5, 2.5])
    assert_one_line(gazelab("info", dataset), "format_version")


def test_export_onto_a_non_empty_folder_needs_overwrite(dataset, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    before = snapshot(tmp_path)
    assert_one_line(gazelab("export", "folder", dataset, "--out", out), "--overwrite")
    assert snapshot(tmp_path) == before
    result = gazelab("export", "folder", dataset, "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (out / "thesis.tex").exists() and (out / "stimuli.csv").is_file()
    assert not list(tmp_path.glob(".*.part"))


def test_export_into_the_folder_holding_the_dataset(dataset, tmp_path):
    before = snapshot(tmp_path)
    assert_one_line(gazelab("export", "folder", dataset, "--out", tmp_path, "--overwrite"), "dataset")
    assert snapshot(tmp_path) == before


def _scene(folder: Path, duration_s: float) -> Path:
    from PIL import Image
    from scipy.io import savemat

    (folder / "stimuli").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 80, 3), np.uint8)).save(folder / "stimuli" / "001.jpg")
    cells = np.empty((1, 2), dtype=object)
    for o in range(2):
        cells[0, o] = np.array([[30.0, 40.0, 0.1, duration_s], [20.0, 20.0, 0.5, 0.2]])
    savemat(folder / "fixations.mat", {"fixations": cells})
    return folder


def test_import_of_an_invalid_result_never_replaces_a_good_file(dataset, tmp_path):
    src = _scene(tmp_path / "scene", duration_s=-0.25)  # a negative fixation duration in the source
    before = snapshot(tmp_path)
    msg = assert_one_line(gazelab("import", "nus-scene", src, "--out", dataset, "--overwrite"), str(dataset))
    assert "duration" in msg
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.glob(".*.part"))


def test_import_onto_an_existing_file_needs_overwrite(dataset, tmp_path):
    src = _scene(tmp_path / "scene", duration_s=0.25)
    before = snapshot(tmp_path)
    assert_one_line(gazelab("import", "nus-scene", src, "--out", dataset), "--overwrite")
    assert snapshot(tmp_path) == before


def test_import_of_a_text_file_named_fixations_mat(tmp_path):
    src = _scene(tmp_path / "scene", duration_s=0.25)
    (src / "fixations.mat").write_text("not a MATLAB file\n")
    before = snapshot(tmp_path)
    assert_one_line(gazelab("import", "nus-scene", src, "--out", tmp_path / "x.h5"), "fixations.mat")
    assert snapshot(tmp_path) == before


def test_decompression_bomb_stimulus(build_inputs, tmp_path):
    from PIL import Image

    rec, stim = build_inputs
    (stim / "huge.png").unlink(missing_ok=True)
    big = Image.new("1", (20000, 20000))  # 400 M pixels, a ~50 KB PNG
    big.save(stim / "huge.png")
    table = tmp_path / "trials.csv"
    table.write_text("recording,trial,stimulus\n" + "".join(f"P01.asc,{k},huge.png\n" for k in (1, 2, 3)))
    out = tmp_path / "ds.h5"
    before = snapshot(tmp_path)
    assert_one_line(gazelab(*_build_args(rec, stim, table, out)), "huge.png", "pixels")
    assert snapshot(tmp_path) == before


def test_fixations_out_rules(tmp_path):
    from tests.datasets.conftest import make_session

    rec = make_session(tmp_path / "P01.asc", seed=1)
    out = tmp_path / "fix.csv"
    out.write_text("old,table\n")
    args = ["fixations", rec, *CLI_GEOMETRY]
    out.chmod(0o444)
    before = snapshot(tmp_path)
    assert_one_line(gazelab(*args, "--out", out), "--overwrite")  # existing
    assert_one_line(gazelab(*args, "--out", rec), ".csv")  # the input itself (and not a table name)
    assert_one_line(gazelab(*args, "--out", out, "--overwrite"), "read-only")
    assert snapshot(tmp_path) == before
    out.chmod(0o644)
    result = gazelab(*args, "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert out.read_text() != "old,table\n"


def test_second_bids_export_under_the_same_subject(tmp_path):
    from tests.datasets.conftest import make_session

    rec = make_session(tmp_path / "P01.asc", seed=1)
    out = tmp_path / "bids"
    args = ["export", "bids", rec, "--out", out, "--subject", "01", *CLI_GEOMETRY]
    first = gazelab(*args)
    assert first.exit_code == 0, first.output
    before = snapshot(tmp_path)
    assert_one_line(gazelab(*args), "--overwrite")
    assert snapshot(tmp_path) == before
    assert gazelab(*args, "--overwrite").exit_code == 0
