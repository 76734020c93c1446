"""BIDS eye-tracking export of real recordings, session folders and datasets, checked by the official validator."""

import gzip
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.acquisition.session import SessionWriter, session_dir
from gazelab.acquisition.simulated_observer import simulate_gaze
from gazelab.acquisition.tracker_messages import format_validation_line
from gazelab.cli import cli
from gazelab.datasets import build_dataset
from gazelab.datasets.exporters import export_bids, export_bids_dataset
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from tests.conftest import read_quietly, session_geometry, session_meta
from tests.datasets.conftest import make_session, make_stimuli

G = Geometry(1024, 768, 40.0, 30.0, 60.0)
VALIDATOR = Path(sys.executable).with_name("bids-validator-deno")

# Warnings about metadata only the user can give (authors, licence, the task's description and
# the institution): allowed. Anything else the validator says fails the test.
USER_METADATA = {
    ("NO_AUTHORS", "Authors"),
    ("TOO_FEW_AUTHORS", None),
    ("JSON_KEY_RECOMMENDED", "License"),
    ("JSON_KEY_RECOMMENDED", "HEDVersion"),
    ("JSON_KEY_RECOMMENDED", "SourceDatasets"),
    ("JSON_KEY_RECOMMENDED", "Funding"),
    ("JSON_KEY_RECOMMENDED", "EthicsApprovals"),
    ("JSON_KEY_RECOMMENDED", "ReferencesAndLinks"),
    ("JSON_KEY_RECOMMENDED", "DatasetDOI"),
    ("SIDECAR_KEY_RECOMMENDED", "TaskDescription"),
    ("SIDECAR_KEY_RECOMMENDED", "Instructions"),
    ("SIDECAR_KEY_RECOMMENDED", "CogAtlasID"),
    ("SIDECAR_KEY_RECOMMENDED", "CogPOID"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionName"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionAddress"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionalDepartmentName"),
}


def validate(root: Path) -> Counter:
    """Run bids-validator-deno; return the count of (severity, code, subCode) it reports."""
    if not VALIDATOR.exists():
        pytest.skip("bids-validator-deno is not installed (pip install '.[test]')")
    proc = subprocess.run([str(VALIDATOR), str(root), "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    return Counter((i["severity"], i["code"], i.get("subCode")) for i in report["issues"]["issues"])


def assert_valid(root: Path) -> None:
    issues = validate(root)
    bad = {k: v for k, v in issues.items() if k[0] == "error" or (k[1], k[2]) not in USER_METADATA}
    assert not bad, bad


def _read_tsv(path):
    with gzip.open(path, "rt") as fh:
        return pd.read_csv(fh, sep="\t", header=None, na_values="n/a", keep_default_na=False)


def test_binocular_export(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "bino500.asc.gz")
    files = export_bids(rec, G, tmp_path, subject="07", task="saccade")
    names = sorted(p.name for p in files)
    assert "sub-07_task-saccade_recording-eye1_physio.tsv.gz" in names and "README" in names
    beh = tmp_path / "sub-07" / "beh"
    for k, eye in ((1, "left"), (2, "right")):
        stem = beh / f"sub-07_task-saccade_recording-eye{k}"
        meta = json.loads(Path(f"{stem}_physio.json").read_text())
        assert meta["PhysioType"] == "eyetrack" and meta["RecordedEye"] == eye
        assert meta["SamplingFrequency"] == 500.0 and meta["Columns"][:3] == [
            "timestamp",
            "x_coordinate",
            "y_coordinate",
        ]
        assert "EyeTrackerDistance" not in meta  # the screen distance is not the eye-to-camera distance
        data = _read_tsv(f"{stem}_physio.tsv.gz")
        assert len(data) == rec.n_samples
        np.testing.assert_allclose(data[0], rec.samples["time_ms"])
        np.testing.assert_allclose(data[1], rec.samples[f"x_{eye}_px"], equal_nan=True)
        ev = _read_tsv(f"{stem}_physioevents.tsv.gz")
        emeta = json.loads(Path(f"{stem}_physioevents.json").read_text())
        assert emeta["OnsetSource"] == "timestamp" and "onset" not in emeta
        own = rec.events[(rec.events["type"] == "fixation") & (rec.events["eye"] == eye[0].upper())]
        fix = ev[ev[2] == "fixation"]
        assert len(fix) == len(own)
        # onsets on the timestamp clock in its unit (ms), durations in s
        np.testing.assert_allclose(fix[0].to_numpy(), own["onset_ms"].to_numpy())
        np.testing.assert_allclose(fix[1].to_numpy(), own["duration_ms"].to_numpy() / 1000.0)
        assert data[0].min() <= fix[0].min() and fix[0].max() <= data[0].max()
        assert (ev[2] == "message").sum() == len(rec.messages)
        # the calibration keys are those of the file's last validation line of this eye
        text = [t for t in rec.messages["text"] if "!CAL VALIDATION" in t and eye.upper() in t][-1]
        avg = float(text.split("ERROR")[1].split()[0])
        assert meta["AverageCalibrationError"] == avg and meta["MaximalCalibrationError"] >= avg
    pres = json.loads((beh / "sub-07_task-saccade_events.json").read_text())
    assert "onset" not in pres
    p = pres["StimulusPresentation"]
    assert p["ScreenSize"] == [0.4, 0.3] and p["ScreenDistance"] == 0.6 and p["ScreenResolution"] == [1024, 768]
    events = pd.read_csv(beh / "sub-07_task-saccade_events.tsv", sep="\t")
    assert list(events.columns) == ["onset", "duration", "trial_type", "stim_file", "image"] and len(events) == 4
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] == "1.11.1"


def test_gzip_headers_have_no_name_or_time(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "mono250.asc.gz")
    for path in export_bids(rec, G, tmp_path, subject="01"):
        if path.name.endswith(".gz"):
            head = path.read_bytes()[:10]
            assert head[:2] == b"\x1f\x8b" and head[3] & 0x08 == 0 and head[4:8] == b"\0\0\0\0", path


def test_eye_tracker_distance_only_when_given(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "mono250.asc.gz")
    export_bids(rec, G, tmp_path, subject="01", eye_tracker_distance_cm=65.0)
    meta = json.loads((tmp_path / "sub-01/beh/sub-01_task-freeview_recording-eye1_physio.json").read_text())
    assert meta["EyeTrackerDistance"] == 0.65


@pytest.mark.parametrize("name", ["bino500.asc.gz", "mono1000.asc.gz", "binoRemote250.asc.gz", "mono2000.asc.gz"])
def test_real_recordings_pass_the_validator(eyelink_dir, tmp_path, name):
    rec = read_quietly(eyelink_dir / name)
    export_bids(rec, G, tmp_path, subject="01", session="1")
    assert_valid(tmp_path)


def test_refuses_to_overwrite_and_writes_nothing(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "mono250.asc.gz")
    export_bids(rec, G, tmp_path, subject="01")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(ParameterError, match="overwrite"):
        export_bids(rec, G, tmp_path, subject="01")
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    export_bids(rec, G, tmp_path, subject="02")  # a second subject joins the dataset
    assert (tmp_path / "sub-02").is_dir()


def test_labels_and_cli(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "mono250.asc.gz")
    with pytest.raises(ParameterError, match="subject"):
        export_bids(rec, G, tmp_path, subject="01_a")
    args = ["export", "bids", str(eyelink_dir / "mono250.asc.gz"), "--subject", "01", "--session", "2"]
    r = CliRunner().invoke(cli, [*args, "--screen-cm", "40", "30", "--distance-cm", "60", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b/sub-01/ses-2/beh/sub-01_ses-2_task-freeview_recording-eye1_physio.tsv.gz").exists()
    r = CliRunner().invoke(cli, ["export", "bids", str(eyelink_dir / "mono250.asc.gz"), "--out", str(tmp_path / "c")])
    assert r.exit_code == 1 and "--subject" in r.output
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "d")])
    assert r.exit_code == 1 and "--screen-cm" in r.output and not (tmp_path / "d").exists()


def make_session_folder(root: Path) -> Path:
    """A gazelab session folder: simulated gaze written through the real SessionWriter, with a validation line."""
    g = session_geometry()
    meta = session_meta("P07", "2", sampling_rate_hz=500.0)
    folder = session_dir(root, "P07", 2)
    sim = simulate_gaze(g, targets_px=np.array([[400.0, 300.0], [900.0, 700.0]]), sampling_rate_hz=500.0, seed=3)
    t = sim.time_ms + 1000.0
    with SessionWriter(folder, meta, eyes="L") as w:
        w.message(format_validation_line("L", "L", "GOOD", 0.41, 0.87, 0.2, (3.0, -2.0)), 990.0)
        w.message("TRIALID 1", t[0])
        w.message("!V IMGLOAD CENTER images/beach.png 640 512 960 720", t[0])
        w.add_samples([(tt, tt, x, y, p, 1.0) for tt, x, y, p in zip(t, sim.x_px, sim.y_px, sim.pupil, strict=True)])
        w.message("TRIAL_RESULT 0", t[-1])
    make_stimuli(folder / "images")  # the runner copies the stimuli into the session folder
    return folder


def test_session_folder_export(tmp_path):
    folder = make_session_folder(tmp_path / "sessions")
    r = CliRunner().invoke(cli, ["export", "bids", str(folder), "--out", str(tmp_path / "bids")])
    assert r.exit_code == 0, r.output
    beh = tmp_path / "bids/sub-P07/ses-2/beh"
    meta = json.loads((beh / "sub-P07_ses-2_task-freeview_recording-eye1_physio.json").read_text())
    assert meta["AverageCalibrationError"] == 0.41 and meta["MaximalCalibrationError"] == 0.87
    pres = json.loads((beh / "sub-P07_ses-2_task-freeview_events.json").read_text())["StimulusPresentation"]
    assert pres["ScreenDistance"] == 0.6 and pres["ScreenResolution"] == [1280, 1024]
    events = pd.read_csv(beh / "sub-P07_ses-2_task-freeview_events.tsv", sep="\t")
    assert list(events["stim_file"]) == ["images/beach.png"]
    copied = tmp_path / "bids/stimuli/images/beach.png"
    assert copied.read_bytes() == (folder / "images/beach.png").read_bytes()
    assert_valid(tmp_path / "bids")


def test_dataset_export_one_subject_per_observer(tmp_path):
    stimuli = make_stimuli(tmp_path / "stimuli")
    sessions = [make_session(tmp_path / f"P0{i}.asc", seed=i) for i in (1, 2)]
    h5 = tmp_path / "d.h5"
    build_dataset(sessions, h5, screen_cm=(37.5, 30.0), distance_cm=60.0, stimuli_dir=stimuli, with_samples=True)
    files = export_bids_dataset(h5, tmp_path / "bids")
    subjects = sorted(p.name for p in (tmp_path / "bids").glob("sub-*"))
    assert subjects == ["sub-P01", "sub-P02"] and len(files) == 2 * 6 + 2 + 3  # + 3 stimuli, shared
    ev = _read_tsv(tmp_path / "bids/sub-P01/beh/sub-P01_task-freeview_recording-eye1_physioevents.tsv.gz")
    assert (ev[2] == "fixation").sum() > 0
    assert_valid(tmp_path / "bids")
    no_samples = tmp_path / "n.h5"
    build_dataset(sessions, no_samples, screen_cm=(37.5, 30.0), distance_cm=60.0, stimuli_dir=stimuli)
    r = CliRunner().invoke(cli, ["export", "bids", str(no_samples), "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "--with-samples" in r.output


@pytest.mark.slow
def test_large_real_recording_passes_the_validator(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "220682rr01.asc.gz")
    export_bids(rec, Geometry(1920, 1080, 53.0, 30.0, 60.0), tmp_path, subject="01")
    assert_valid(tmp_path)
    shutil.rmtree(tmp_path)
