"""Vendor presets of read_tabular and the ioHub reader.

SMI is read from a real export (tests/data/vendors, from pymovements' test files). Tobii Pro
Lab, Pupil Labs and Gazepoint had no licensed real sample: their tables are written here with
the documented headers from simulated gaze, so each unit, origin and validity rule is checked
against known values. The ioHub file is written with h5py in the table layout of PsychoPy's
data store (psychopy/iohub/datastore, iohub/devices/eyetracker/eye_events.py).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.acquisition.simulated_observer import simulate_gaze
from gazelab.cli import cli
from gazelab.errors import ParameterError, ParseError
from gazelab.geometry import Geometry
from gazelab.preprocessing import available_readers, detect_fixations, read, read_iohub, read_tabular
from gazelab.preprocessing.readers import available_presets

DATA = Path(__file__).resolve().parents[1] / "data" / "vendors"
G = Geometry(1920, 1080, 53.0, 30.0, 60.0)


@pytest.fixture(scope="module")
def sim():
    targets = np.array([[400.0, 300.0], [1500.0, 800.0], [960.0, 540.0]])
    return simulate_gaze(G, targets_px=targets, sampling_rate_hz=120.0, blink_probability=0.0, seed=4)


def test_presets_are_readers():
    assert {"tobii", "pupil-labs", "pupil-player", "pupil-cloud", "gazepoint", "smi"} <= set(available_presets())
    assert {"tobii", "pupil-labs", "gazepoint", "smi", "iohub"} <= set(available_readers())
    with pytest.raises(ParameterError, match="format"):
        read_tabular(DATA / "smi_begaze_didec_example.txt", format="eyetribe")


def test_smi_begaze_real_export():
    rec = read(DATA / "smi_begaze_didec_example.txt", format="smi")
    assert rec.format == "smi" and rec.eyes == ("L", "R") and rec.n_samples == 15
    assert rec.samples["time_ms"].iloc[0] == pytest.approx(70590726108 / 1000.0)  # us -> ms
    assert rec.samples["x_left_px"].iloc[0] == pytest.approx(858.16)
    assert rec.sampling_rate_hz == pytest.approx(250, rel=0.01)
    assert list(rec.messages["text"]) == ["test.bmp"] and rec.messages["line"].iloc[0] == 43
    assert list(rec.events["type"]) == ["saccade", "saccade"]  # the last sample's Event Info
    assert list(rec.trials["trial_id"]) == ["1"]


def test_smi_lost_eye_is_missing(tmp_path):
    text = (DATA / "smi_begaze_didec_example.txt").read_text()
    p = tmp_path / "lost.txt"
    p.write_text(text.replace("858.16\t516.11\t858.16\t516.11", "0.00\t0.00\t858.16\t516.11"))
    rec = read_tabular(p, format="smi")
    assert np.isnan(rec.samples["x_left_px"].iloc[0]) and rec.samples["x_right_px"].iloc[0] == pytest.approx(858.16)


def _tobii(sim, path):
    n = len(sim.time_ms)
    valid = np.where(np.arange(n) % 10 == 3, "Invalid", "Valid")
    moves = np.where(np.isin(np.arange(n), np.arange(20, 40)), "Saccade", "Fixation")
    df = pd.DataFrame(
        {
            "Recording timestamp": (sim.time_ms * 1000).astype(np.int64),
            "Sensor": "Eye Tracker",
            "Event": "",
            "Event value": "",
            "Gaze point left X": np.round(sim.x_px).astype(int),
            "Gaze point left Y": np.round(sim.y_px).astype(int),
            "Gaze point right X": np.round(sim.x_px).astype(int),
            "Gaze point right Y": np.round(sim.y_px).astype(int),
            "Pupil diameter left": "3,12",
            "Pupil diameter right": "3,20",
            "Validity left": valid,
            "Validity right": "Valid",
            "Eye movement type": moves,
            "Presented Stimulus name": "beach.png",
        }
    )
    event = df.iloc[[0]].assign(Sensor="", Event="ImageStimulusStart", **{"Event value": "beach.png"})
    pd.concat([event, df]).to_csv(path, sep="\t", index=False)
    return path


def test_tobii_pro_lab(sim, tmp_path):
    rec = read_tabular(_tobii(sim, tmp_path / "rec.tsv"), format="tobii")
    assert rec.n_samples == len(sim.time_ms) and rec.eyes == ("L", "R")
    np.testing.assert_allclose(rec.samples["time_ms"], (sim.time_ms * 1000).astype(np.int64) / 1000)
    assert rec.samples["x_left_px"].isna().sum() == (np.arange(len(sim.time_ms)) % 10 == 3).sum()
    assert rec.samples["pupil_right"].iloc[0] == pytest.approx(3.2)  # decimal comma as Pro Lab writes it
    assert list(rec.messages["text"]) == ["ImageStimulusStart beach.png"]
    ev = rec.events[rec.events["eye"] == "L"]
    assert list(ev["type"]) == ["fixation", "saccade", "fixation"]
    assert ev["onset_ms"].iloc[1] == pytest.approx(rec.samples["time_ms"].iloc[20])
    assert list(rec.trials["trial_id"]) == ["beach.png"]
    fix = detect_fixations(rec, G, algorithm="ivt", eyes="R")
    assert len(fix) >= 3


def test_pupil_player_bottom_left_origin(sim, tmp_path):
    w, h = 1088, 1080
    p = tmp_path / "gaze_positions.csv"
    conf = np.where(np.arange(len(sim.time_ms)) % 7 == 0, 0.3, 0.95)
    pd.DataFrame(
        {
            "gaze_timestamp": 342005.97 + sim.time_ms / 1000.0,
            "world_index": 0,
            "confidence": conf,
            "norm_pos_x": sim.x_px / w,
            "norm_pos_y": 1.0 - sim.y_px / h,  # Pupil's normalised coordinates start bottom left
            "base_data": "342005.969916-0 342005.973727-1",
        }
    ).to_csv(p, index=False)
    with pytest.raises(ParameterError, match="screen_px"):
        read_tabular(p, format="pupil-labs")
    rec = read_tabular(p, format="pupil-labs", screen_px=(w, h))
    assert rec.format == "pupil-player" and rec.eyes == ("L",)
    good = conf >= 0.6
    np.testing.assert_allclose(rec.samples["y_left_px"].to_numpy()[good], sim.y_px[good], atol=1e-6)
    assert rec.samples["x_left_px"].isna().sum() == (~good).sum()
    assert rec.sampling_rate_hz == pytest.approx(120.0, rel=1e-3)


def test_pupil_cloud(sim, tmp_path):
    p = tmp_path / "gaze.csv"
    n = len(sim.time_ms)
    fid = np.where(np.arange(n) < 30, "1", np.where(np.arange(n) > 50, "2", ""))
    pd.DataFrame(
        {
            "section id": "s",
            "recording id": "r",
            "timestamp [ns]": (1.7e18 + sim.time_ms * 1e6).astype(np.int64),
            "gaze x [px]": sim.x_px,
            "gaze y [px]": sim.y_px,
            "worn": np.where(np.arange(n) == 5, 0, 1),
            "fixation id": fid,
            "blink id": "",
        }
    ).to_csv(p, index=False)
    rec = read(p, format="pupil-labs")
    assert rec.format == "pupil-cloud" and np.isnan(rec.samples["x_left_px"].iloc[5])
    np.testing.assert_allclose(np.diff(rec.samples["time_ms"]), np.diff(sim.time_ms), atol=1e-3)
    assert list(rec.events["type"]) == ["fixation", "fixation"]


def test_gazepoint(sim, tmp_path):
    p = tmp_path / "all_gaze.csv"
    n = len(sim.time_ms)
    pd.DataFrame(
        {
            "MEDIA_ID": 0,
            "MEDIA_NAME": "beach",
            "CNT": np.arange(n),
            "TIME(2024/05/02 10:11:12.123)": sim.time_ms / 1000.0,
            "FPOGX": sim.x_px / 1920,
            "FPOGY": sim.y_px / 1080,
            "FPOGID": np.where(np.arange(n) < 40, 1, 2),
            "FPOGV": np.where((np.arange(n) >= 30) & (np.arange(n) < 45), 0, 1),
            "LPOGX": sim.x_px / 1920,
            "LPOGY": sim.y_px / 1080,
            "LPOGV": np.where(np.arange(n) == 3, 0, 1),
            "RPOGX": sim.x_px / 1920,
            "RPOGY": sim.y_px / 1080,
            "RPOGV": 1,
            "LPMM": 3.5,
            "RPMM": 3.6,
            "USER": np.where(np.arange(n) >= 10, "START_TRIAL", ""),
        }
    ).to_csv(p, index=False)
    rec = read_tabular(p, format="gazepoint", screen_px=(1920, 1080))
    np.testing.assert_allclose(rec.samples["x_right_px"], sim.x_px, atol=1e-6)
    assert np.isnan(rec.samples["x_left_px"].iloc[3]) and rec.samples["pupil_right"].iloc[0] == 3.6
    assert list(rec.messages["text"]) == ["START_TRIAL"]
    assert rec.messages["time_ms"].iloc[0] == pytest.approx(sim.time_ms[10])
    fix = rec.events[rec.events["eye"] == "L"]
    assert len(fix) == 2 and fix["onset_ms"].iloc[1] == pytest.approx(sim.time_ms[45])


def test_missing_columns_name_the_preset(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("a\tb\n1\t2\n")
    with pytest.raises(ParseError, match="not a tobii export"):
        read_tabular(p, format="tobii")


def test_cli_format_option(tmp_path):
    r = CliRunner().invoke(cli, ["info", str(DATA / "smi_begaze_didec_example.txt"), "--format", "smi"])
    assert r.exit_code == 0, r.output
    assert "smi" in r.output and "15" in r.output
    r = CliRunner().invoke(cli, ["info", str(DATA / "smi_begaze_didec_example.txt"), "-f", "nope"])
    assert r.exit_code == 1 and "format" in r.output


# -- ioHub -------------------------------------------------------------------------------------------

_BASE = [
    ("experiment_id", "u4"),
    ("session_id", "u4"),
    ("device_id", "u2"),
    ("event_id", "u4"),
    ("type", "u1"),
    ("device_time", "f8"),
    ("logged_time", "f8"),
    ("time", "f8"),
    ("confidence_interval", "f4"),
    ("delay", "f4"),
    ("filter_id", "i2"),
]


def _bino_dtype():
    fields = []
    for n in ("left", "right"):
        for k in ("gaze_x", "gaze_y", "gaze_z", "eye_cam_x", "eye_cam_y", "eye_cam_z", "angle_x", "angle_y"):
            fields.append((f"{n}_{k}", "f4"))
        fields += [(f"{n}_raw_x", "f4"), (f"{n}_raw_y", "f4"), (f"{n}_pupil_measure1", "f4")]
        fields += [
            (f"{n}_pupil_measure1_type", "u1"),
            (f"{n}_pupil_measure2", "f4"),
            (f"{n}_pupil_measure2_type", "u1"),
        ]
        fields += [(f"{n}_{k}", "f4") for k in ("ppd_x", "ppd_y", "velocity_x", "velocity_y", "velocity_xy")]
    return np.dtype([*_BASE, *fields, ("status", "u1")])


def make_iohub(path: Path, sim) -> Path:
    import h5py

    n = len(sim.time_ms)
    samples = np.zeros(n, _bino_dtype())
    samples["time"] = 12.5 + sim.time_ms / 1000.0
    for side in ("left", "right"):
        samples[f"{side}_gaze_x"] = sim.x_px - 960.0  # ioHub 'pix': from the centre, y up
        samples[f"{side}_gaze_y"] = 540.0 - sim.y_px
        samples[f"{side}_pupil_measure1"] = 1200.0
    fix_dtype = np.dtype(
        [*_BASE, ("eye", "u1"), ("duration", "f4"), ("average_gaze_x", "f4"), ("average_gaze_y", "f4")]
    )
    fix = np.zeros(1, fix_dtype)
    fix["eye"], fix["time"], fix["duration"] = 21, 12.5 + sim.time_ms[30] / 1000.0, 0.2
    fix["average_gaze_x"], fix["average_gaze_y"] = 100.0, -50.0
    msg = np.zeros(2, np.dtype([*_BASE, ("msg_offset", "f4"), ("category", "S32"), ("text", "S128")]))
    msg["time"] = [12.5, 12.5 + sim.time_ms[-1] / 1000.0]
    msg["text"] = [b"TRIALID 1", b"TRIAL_RESULT 0"]
    with h5py.File(path, "w") as f:
        ev = f.create_group("data_collection/events")
        ev.create_dataset("eyetracker/BinocularEyeSampleEvent", data=samples)
        ev.create_dataset("eyetracker/FixationEndEvent", data=fix)
        ev.create_dataset("experiment/MessageEvent", data=msg)
    return path


def test_iohub(sim, tmp_path):
    path = make_iohub(tmp_path / "events.hdf5", sim)
    with pytest.raises(ParameterError, match="screen_px"):
        read_iohub(path)
    rec = read(path, screen_px=(1920, 1080))
    assert rec.format == "iohub" and rec.eyes == ("L", "R") and rec.n_samples == len(sim.time_ms)
    np.testing.assert_allclose(rec.samples["x_left_px"], sim.x_px, atol=1e-3)
    np.testing.assert_allclose(rec.samples["y_right_px"], sim.y_px, atol=1e-3)
    assert rec.sampling_rate_hz == pytest.approx(120.0, rel=1e-3)
    fx = rec.events.iloc[0]
    assert fx["type"] == "fixation" and fx["eye"] == "L" and fx["x_px"] == 1060.0 and fx["y_px"] == 590.0
    assert fx["offset_ms"] - fx["onset_ms"] == pytest.approx(200.0, abs=1e-3)
    assert list(rec.trials["trial_id"]) == ["1"] and rec.samples["trial"].notna().all()
    r = CliRunner().invoke(cli, ["info", str(path), "--screen-px", "1920", "1080"])
    assert r.exit_code == 0 and "iohub" in r.output, r.output


def test_iohub_not_a_datastore(tmp_path):
    import h5py

    p = tmp_path / "x.hdf5"
    with h5py.File(p, "w") as f:
        f.create_group("other")
    with pytest.raises(ParseError, match="not a PsychoPy ioHub data store"):
        read_iohub(p, screen_px=(100, 100))
