"""Building, appending and releasing gazelab HDF5 datasets."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from gazelab.datasets import build_dataset, describe, validate, write_manifest
from gazelab.datasets.schema import decode_image, image_path, map_path, read_table
from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.maps import saliency_map
from tests.conftest import read_quietly
from tests.datasets.conftest import STIMULI, make_session

KW = dict(screen_cm=(37.5, 30.0), distance_cm=60.0)


def test_build_from_sessions_with_imgload(sessions, stimuli_dir, tmp_path):
    out = tmp_path / "ds.h5"
    r = build_dataset(sessions, out, stimuli_dir=stimuli_dir, title="test", **KW)
    assert (r.sessions, r.observers, r.stimuli, r.trials) == (3, 3, 3, 9)
    assert validate(out) == []
    assert not list(tmp_path.glob("*.part"))
    with h5py.File(out, "r") as f:
        st = read_table(f, "stimuli")
        assert list(st["id"]) == ["beach", "forest", "face"]
        assert list(st["width_px"]) == [640, 400, 256] and list(st["channels"]) == [3, 3, 1]
        assert decode_image(f[image_path(2)][()]).shape == (256, 256, 1) and f[image_path(2)].dtype == np.uint8
        assert f[image_path(0)].attrs["format"] == "PNG" and f[image_path(1)].attrs["format"] == "JPEG"
        assert f[image_path(1)][()].tobytes() == (stimuli_dir / "forest.jpg").read_bytes()  # as published
        fx = read_table(f, "fixations")
        tr = read_table(f, "trials")
        # fixations are in image px, inside their image, sorted by stimulus; order is per trial
        w = st["width_px"].to_numpy()[fx["stimulus"]]
        assert ((fx["x_px"] >= 0) & (fx["x_px"] < w)).all()
        assert fx["stimulus"].is_monotonic_increasing
        assert (fx["onset_ms"] >= 0).all()
        assert list(tr["scale"][:3]) == [1.5, 2.0, 3.0]
        # the stored map equals a recomputation from the stored fixations with the stored sigma
        i = 1
        a, b = f["fixations/stimulus_offsets"][i : i + 2]
        sub = fx.iloc[a:b]
        sigma = float(st["sigma_px"][i])
        assert sigma == pytest.approx(2 * 60 * np.tan(np.radians(0.5)) / (37.5 / 1280) / 2.0)
        m = saliency_map(sub["x_px"], sub["y_px"], (300, 400), sigma)
        np.testing.assert_allclose(f[map_path(i)][()], m, rtol=2**-16 + 2**-23, atol=0)  # 16 bits + float32
        assert f[map_path(i)][()].sum() == pytest.approx(1.0, abs=1e-4)
        prov = json.loads(f["provenance"].attrs["history_json"])
        assert prov[0]["action"] == "build" and prov[0]["sessions"] == ["P01.asc", "P02.asc", "P03.asc"]
    info = describe(out)
    assert info["stimuli"] == 3 and info["title"] == "test" and info["fixations"] == r.fixations


def test_simulated_fixations_land_where_the_observer_looked(sessions, stimuli_dir, tmp_path):
    out = tmp_path / "ds.h5"
    build_dataset(sessions[:1], out, stimuli_dir=stimuli_dir, algorithm="eyelink", **KW)
    with h5py.File(out, "r") as f:
        fx = read_table(f, "fixations")
    # every true fixation of the simulation is inside its image, so none is dropped
    rec = read_quietly(sessions[0])
    assert len(fx) == int((rec.events["type"] == "fixation").sum())


def test_trial_table_instead_of_imgload(tmp_path, stimuli_dir):
    rec = make_session(tmp_path / "S1.asc", seed=5, imgload=False)
    rows = [
        {
            "recording": "S1.asc",
            "trial": k + 1,
            "stimulus": name,
            "placement": "center",
            "x_px": 640,
            "y_px": 512,
            "scale": s,
            "label": "scene" if k < 2 else "face",
            "split": "train",
        }
        for k, (name, (_, _, _, s)) in enumerate(STIMULI.items())
    ]
    table = tmp_path / "trials.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    out = tmp_path / "ds.h5"
    build_dataset([rec], out, stimuli_dir=stimuli_dir, trial_table=table, **KW)
    assert validate(out) == []
    with h5py.File(out, "r") as f:
        st = read_table(f, "stimuli")
    assert list(st["label"]) == ["scene", "scene", "face"] and set(st["split"]) == {"train"}
    with pytest.raises(ParseError, match="names no stimulus"):
        build_dataset([rec], tmp_path / "x.h5", stimuli_dir=stimuli_dir, **KW)
    assert not (tmp_path / "x.h5").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("recording,trial\nS1.asc,1\n")
    with pytest.raises(ParseError, match="lacks column"):
        build_dataset([rec], tmp_path / "x.h5", stimuli_dir=stimuli_dir, trial_table=bad, **KW)


def test_append_keeps_earlier_data(sessions, stimuli_dir, tmp_path):
    out = tmp_path / "ds.h5"
    build_dataset(sessions[:2], out, stimuli_dir=stimuli_dir, **KW)
    with h5py.File(out, "r") as f:
        before = read_table(f, "fixations")
        obs_before = list(read_table(f, "observers")["id"])
        img0 = f[image_path(0)][()]
    r = build_dataset(sessions[2:], out, stimuli_dir=stimuli_dir, append=True, **KW)
    assert (r.sessions, r.observers, r.stimuli) == (3, 3, 3)
    assert validate(out) == []
    with h5py.File(out, "r") as f:
        after = read_table(f, "fixations")
        assert list(read_table(f, "observers")["id"])[:2] == obs_before
        np.testing.assert_array_equal(f[image_path(0)][()], img0)  # the published bytes, unchanged
        hist = json.loads(f["provenance"].attrs["history_json"])
    assert [h["action"] for h in hist] == ["build", "append"]
    key = ["stimulus", "observer", "trial", "order", "x_px", "y_px"]
    merged = before[key].merge(after[key], how="left", indicator=True)
    assert (merged["_merge"] == "both").all() and len(after) > len(before)
    with pytest.raises(ParameterError, match="not already in the dataset"):
        build_dataset(sessions[:1], out, stimuli_dir=stimuli_dir, append=True, **KW)
    with pytest.raises(ParameterError, match="parameters the dataset was built with"):
        build_dataset(
            [make_session(tmp_path / "P09.asc", 9)], out, stimuli_dir=stimuli_dir, append=True, sigma_deg=2.0, **KW
        )


def test_failures_write_nothing(sessions, tmp_path):
    out = tmp_path / "ds.h5"
    with pytest.raises(ParameterError, match="stimuli_dir"):
        build_dataset(sessions, out, **KW)
    with pytest.raises(ParseError, match="not found"):
        build_dataset(sessions, out, stimuli_dir=tmp_path, **KW)
    assert list(tmp_path.glob("ds.h5*")) == []


def test_killed_build_leaves_no_finished_file(sessions, stimuli_dir, tmp_path):
    out = tmp_path / "ds.h5"
    marker = tmp_path / "started"
    script = f"""
import time
from pathlib import Path
from gazelab.datasets import build_dataset
def hook(i):
    Path({str(marker)!r}).write_text(str(i))
    time.sleep(60)
build_dataset({[str(s) for s in sessions]!r}, {str(out)!r}, stimuli_dir={str(stimuli_dir)!r},
              screen_cm=(37.5, 30.0), distance_cm=60.0, _after_stimulus=hook)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.time() + 60
        while not marker.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), "the build never reached its first stimulus"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    leftovers = list(tmp_path.glob(".ds.h5.*.part"))
    assert len(leftovers) == 1
    problems = validate(leftovers[0])
    assert problems and any("incomplete" in p.message or "not a readable HDF5" in p.message for p in problems)


def test_manifest(sessions, stimuli_dir, tmp_path):
    out = tmp_path / "ds.h5"
    build_dataset(sessions, out, stimuli_dir=stimuli_dir, **KW)
    meta = tmp_path / "release.yaml"
    meta.write_text(
        "title: Test gaze\nversion: 1.0.0\nlicence: CC-BY-4.0\ncitation: Doe et al. 2026\nauthors: [A. Doe]\n"
    )
    m = json.loads(write_manifest(out, meta).read_text())
    assert m["licence"] == "CC-BY-4.0" and m["counts"]["stimuli"] == 3 and m["format_version"] == "1.1"
    import hashlib

    assert m["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() and m["size_bytes"] == out.stat().st_size
    meta.write_text("title: x\nversion: 1\n")
    with pytest.raises(ParameterError, match="licence"):
        write_manifest(out, meta)


def test_real_recordings_with_stand_in_stimuli(eyelink_dir, tmp_path):
    out = tmp_path / "real.h5"
    small = sorted(p for p in eyelink_dir.glob("*.asc.gz") if "220682" not in p.name)
    r = build_dataset(small, out, screen_cm=(40.0, 30.0), distance_cm=60.0, stand_in=True, with_samples=True)
    assert r.sessions == len(small) and r.stimuli == 1 and r.fixations > 50
    assert validate(out) == []
    with h5py.File(out, "r") as f:
        assert f["stimuli/stand_in"][0] == 1
        assert "stand-in" in f["provenance"].attrs["notes"]
        assert f["samples/time_ms"].shape[0] > 20000
