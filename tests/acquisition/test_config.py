"""Experiment config files: a valid one loads; each kind of mistake names its field."""

import numpy as np
import pytest
from PIL import Image

from gazelab.acquisition.config import load_config
from gazelab.errors import ParseError

GOOD = """
name: free-viewing
screen: {width_px: 1920, height_px: 1080, width_cm: 53.0, height_cm: 30.0, distance_cm: 60.0, refresh_hz: 60}
stimuli: {folder: stimuli/}
timing: {fixation_cross_ms: 500, stimulus_ms: 3000, inter_trial_ms: 0}
order: random
instructions: "Look freely."
calibration: {points: 13, validation_threshold_deg: 0.8}
drift_check_every: 4
tracker: {backend: simulated, sampling_rate_hz: 2000, eye: LR}
output: out/
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "stimuli").mkdir()
    for k in range(3):
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "stimuli" / f"{k}.png")
    return tmp_path


def test_video_stimuli_are_checked_on_load(folder, monkeypatch):
    cv2 = pytest.importorskip("cv2", reason="videos need the webcam extra (OpenCV)")
    w = cv2.VideoWriter(str(folder / "stimuli" / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for k in range(5):
        w.write(np.full((24, 32, 3), 40 * k, np.uint8))
    w.release()
    p = folder / "exp.yaml"
    p.write_text(GOOD)
    assert [s.name for s in load_config(p).stimuli] == ["0.png", "1.png", "2.png", "clip.avi"]
    (folder / "stimuli" / "broken.mp4").write_bytes(b"\x00")
    with pytest.raises(ParseError, match=r"broken.mp4: .*cannot be decoded"):
        load_config(p)
    (folder / "stimuli" / "broken.mp4").unlink()
    monkeypatch.setitem(__import__("sys").modules, "cv2", None)  # OpenCV not installed
    with pytest.raises(ParseError, match=r"video stimuli \['clip.avi'\] need OpenCV.*webcam extra"):
        load_config(p)


def test_good_config(folder):
    p = folder / "exp.yaml"
    p.write_text(GOOD)
    cfg = load_config(p)
    assert cfg.geometry.width_px == 1920 and cfg.geometry.distance_cm == 60.0 and cfg.refresh_hz == 60
    assert [s.name for s in cfg.stimuli] == ["0.png", "1.png", "2.png"]
    assert cfg.timing.inter_trial_ms == 0 and cfg.calibration.points == 13 and cfg.calibration.max_attempts == 3
    assert cfg.tracker.sampling_rate_hz == 2000 and cfg.tracker.eye == "LR" and cfg.output == (folder / "out").resolve()
    assert cfg.to_dict()["stimuli"][0].endswith("0.png")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("stimulus_ms: 3000", "stimulus_ms: -5"), "field 'timing.stimulus_ms': -5; expected a number > 0 (ms)"),
        (("points: 13", "points: 7"), "field 'calibration.points': 7; expected one of [5, 9, 13]"),
        (("backend: simulated", "backend: tobii"), "field 'tracker.backend': 'tobii'; expected one of"),
        (("distance_cm: 60.0", "distance_cm: far"), "field 'screen.distance_cm': 'far'; expected a number > 0 (cm)"),
        (("order: random", "order: shuffled"), "field 'order': 'shuffled'"),
        (("drift_check_every: 4", "drift_chek_every: 4"), "unknown field(s) ['drift_chek_every']"),
        (("{folder: stimuli/}", "{folder: nowhere/}"), "field 'stimuli.folder'"),
        (("{folder: stimuli/}", "{files: [0.png, 9.png]}"), "not found"),
        (("width_px: 1920, ", ""), "missing field 'screen.width_px'"),
        (("name: free-viewing", "name: [unclosed"), "not valid YAML"),
        (("{folder: stimuli/}", "{files: [0.png, clip.mp4]}"), "not found"),
    ],
)
def test_mistakes_name_the_field(folder, change, message):
    p = folder / "exp.yaml"
    p.write_text(GOOD.replace(*change))
    with pytest.raises(ParseError) as err:
        load_config(p)
    assert message in str(err.value) and str(p) in str(err.value)
