"""Quality travels with releases: session folder -> build -> /quality, validate, manifest, min_grade, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from gazelab.cli import cli

EXPERIMENT = """name: quality-test
screen: {width_px: 800, height_px: 600, width_cm: 32.0, height_cm: 24.0, distance_cm: 60.0, refresh_hz: 60}
stimuli: {folder: stimuli/}
placement: fit
timing: {fixation_cross_ms: 100, stimulus_ms: 700, inter_trial_ms: 50}
order: fixed
seed: 1
instructions: Look.
calibration: {points: 9, validation_threshold_deg: 1.0, max_error_deg: 1.5, max_attempts: 2}
drift_check_every: 1
tracker: {backend: simulated, sampling_rate_hz: 250, eye: R}
output: sessions/
"""


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    from gazelab.acquisition import load_config
    from gazelab.acquisition.display import HeadlessDisplay
    from gazelab.acquisition.runner import run_session

    root = tmp_path_factory.mktemp("qsession")
    (root / "stimuli").mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(root / "stimuli" / f"s{k}.png")
    (root / "exp.yaml").write_text(EXPERIMENT)
    cfg = load_config(root / "exp.yaml")
    return run_session(
        cfg,
        "P01",
        1,
        tracker="simulated",
        out=root / "sessions",
        display=HeadlessDisplay(cfg.geometry),
        echo=lambda s: None,
    )


@pytest.fixture(scope="module")
def release(session_dir: Path) -> Path:
    from gazelab.datasets import build_dataset

    out = session_dir.parents[2] / "q.h5"
    build_dataset(
        [session_dir],
        out,
        screen_cm=(32.0, 24.0),
        distance_cm=60.0,
        stimuli_dir=session_dir.parents[2] / "stimuli",
        progress=False,
    )
    return out


def test_session_folder_quality_uses_its_own_geometry_and_validation(session_dir):
    from gazelab.datasets.quality import quality_report

    q = quality_report([session_dir], progress=False)  # no geometry options: session.json has it
    assert len(q) == 2 and set(q["eye"]) == {"R"} and list(q["trial"]) == ["1", "2"]
    assert (q["participant"] == "P01").all() and (q["session"] == "1").all()
    cal = json.loads((session_dir / "calibration.json").read_text())["validations"]
    assert q["validation_mean_deg"].notna().all()
    assert q["validation_mean_deg"].iloc[0] == pytest.approx(cal[-1]["mean_error_deg"], abs=0.006)
    assert q["precision_rms_s2s_deg"].notna().all() and (q["data_loss"] < 0.5).all()


def test_release_stores_validates_and_summarises_quality(release, tmp_path):
    from gazelab.datasets import validate, write_manifest
    from gazelab.datasets.quality import read_quality

    with h5py.File(release, "r") as f:
        assert f.attrs["format_version"] == "1.1" and "quality" in f
        assert "data_loss" in json.loads(f["quality"].attrs["thresholds_json"])
    assert [p for p in validate(release) if p.severity == "error"] == []
    q = read_quality(release)
    assert len(q) == 2 and (q["participant"] == "P01").all()
    m = json.loads(
        write_manifest(release, {"title": "t", "version": "1", "licence": "MIT", "citation": "c"}).read_text()
    )
    assert sum(m["quality"]["grades"].values()) == 2 and m["quality"]["participants"] == {"P01": q["grade"].mode()[0]}
    # a damaged quality table is reported
    bad = tmp_path / "bad.h5"
    bad.write_bytes(release.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["quality/data_loss"][0] = 1.5
    assert any("/quality/data_loss" in str(p) for p in validate(bad))


def test_gaze_dataset_min_grade_leaves_out_low_quality_trials(release, tmp_path):
    pytest.importorskip("torch")
    import shutil

    release = Path(shutil.copy(release, tmp_path / "copy.h5"))
    from gazelab.datasets import GazeDataset
    from gazelab.datasets.quality import observers_at_least, trials_below

    all_fix = sum(len(GazeDataset(release, targets=("fixations",))[i]["fixations"]) for i in range(2))
    assert len(trials_below(release, "POOR")) == 0
    good = GazeDataset(release, targets=("fixations", "saliency"), min_grade="POOR")
    assert sum(len(good[i]["fixations"]) for i in range(2)) == all_fix
    good.close()
    with h5py.File(release, "r+") as f:  # downgrade trial 1 by hand: its fixations must go
        f["quality/grade"][0] = "POOR"
    drop = trials_below(release, "GOOD")
    assert list(drop) == [0]
    ds = GazeDataset(release, targets=("fixations", "saliency"), min_grade="GOOD")
    kept = [ds[i] for i in range(2)]
    assert sum(len(k["fixations"]) for k in kept) < all_fix
    assert all(float(k["saliency"].sum()) in (0.0, pytest.approx(1.0, abs=1e-4)) for k in kept)
    assert observers_at_least(release, "POOR") == ["P01"]


def test_cli_quality_on_session_and_dataset_writes_tables(session_dir, release, tmp_path):
    out, summary = tmp_path / "q.csv", tmp_path / "p.csv"
    r = CliRunner().invoke(
        cli, ["quality", str(session_dir), str(release), "--out", str(out), "--summary", str(summary)]
    )
    assert r.exit_code == 0, r.output
    assert "4 trial-eye rows from 1 recording(s)" in r.output and "P01" in r.output
    assert out.is_file() and summary.is_file()
    r = CliRunner().invoke(cli, ["quality", str(session_dir), "--out", str(out)])
    assert r.exit_code == 1 and "--overwrite" in r.output
    r = CliRunner().invoke(cli, ["quality", str(session_dir), "-t", "data_loss=0,0", "--out", str(out), "--overwrite"])
    assert r.exit_code == 0, r.output
