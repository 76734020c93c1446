"""Video stimuli: a headless session with an image and a video, and one PsychoPy window under Xvfb."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gazelab.acquisition.config import load_config
from gazelab.acquisition.display import HeadlessDisplay
from gazelab.acquisition.runner import run_session
from gazelab.preprocessing import detect_fixations, read
from tests.conftest import run_python

cv2 = pytest.importorskip("cv2", reason="video stimuli need the webcam extra (OpenCV)")

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "out" / "test-artefacts"
FPS = 10


def square_video(path: Path, seconds: float, fps: int = FPS, size: tuple[int, int] = (160, 120)) -> Path:
    """A bright square crossing a dark frame left to right, with the frame number written on it."""
    w, h = size
    n = int(seconds * fps)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for k in range(n):
        frame = np.full((h, w, 3), 30, np.uint8)
        x = int(10 + (w - 50) * k / max(1, n - 1))
        frame[h // 2 - 15 : h // 2 + 15, x : x + 30] = (0, 200, 255)  # BGR: orange
        frame[:12, :] = (255, 0, 0)  # a blue band at the top: shows the frame is not upside down
        cv2.putText(frame, str(k + 1), (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        out.write(frame)
    out.release()
    return path


def experiment(folder: Path, stimulus_ms: float, files: list[str]) -> Path:
    p = folder / "exp.yaml"
    p.write_text(
        "name: video\n"
        "screen: {width_px: 800, height_px: 600, width_cm: 40.0, height_cm: 30.0, distance_cm: 60.0, refresh_hz: 60}\n"
        f"stimuli: {{files: {files}}}\n"
        f"timing: {{fixation_cross_ms: 200, stimulus_ms: {stimulus_ms}, inter_trial_ms: 0}}\n"
        "order: fixed\n"
        "calibration: {points: 5}\n"
        "drift_check_every: 0\n"
        "tracker: {backend: simulated, sampling_rate_hz: 500, eye: L}\n"
        "output: out/\n"
    )
    return p


def test_headless_session_with_an_image_and_a_video(tmp_path):
    square_video(tmp_path / "clip.avi", 2.0)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)).save(tmp_path / "pic.png")
    # stimulus_ms shorter than the 2 s video: the video is cut to 1.5 s (15 frames)
    cfg = load_config(experiment(tmp_path, 1500, ["pic.png", "clip.avi"]))
    shots = tmp_path / "shots"
    folder = run_session(cfg, "P01", display=HeadlessDisplay(cfg.geometry, screenshot_dir=shots), echo=lambda s: None)
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "complete"
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["stimulus"]) == ["pic.png", "clip.avi"]
    video = trials.iloc[1]
    # fit: 160x120 scaled by 5 onto 800x600, at the top-left corner
    assert (video["left_px"], video["top_px"], video["scale"]) == (0, 0, 5)
    assert video["fps"] == FPS and video["frames_shown"] + video["frames_skipped"] == 15
    assert video["frames_shown"] >= 12 and np.isnan(trials["fps"].iloc[0])
    rec = read(folder)
    m = rec.messages
    m2 = m[m["trial"] == 2]
    vf = m2[m2["text"].str.startswith("!V VFRAME")]
    assert len(vf) == video["frames_shown"]
    assert vf["text"].iloc[0] == "!V VFRAME 1 0 0 clip.avi"
    numbers = vf["text"].str.split().str[2].astype(int).to_numpy()
    assert numbers[0] == 1 and np.all(np.diff(numbers) >= 1) and numbers[-1] <= 15
    t_on = m2[m2["text"] == "STIMULUS_ONSET"]["time_ms"].to_numpy()
    t_off = m2[m2["text"] == "STIMULUS_OFFSET"]["time_ms"].to_numpy()
    assert len(t_on) == 1 and len(t_off) == 1
    assert abs(vf["time_ms"].iloc[0] - t_on[0]) < 5  # both on the first frame's flip
    # frames at the video's rate: the k-th VFRAME about (k - 1) * 100 ms after the onset
    late = vf["time_ms"].to_numpy() - t_on[0] - (numbers - 1) * 1000 / FPS
    assert np.median(np.abs(late)) < 15
    assert 1450 <= t_off[0] - t_on[0] <= 1650
    assert any(m2["text"] == f"!V TRIAL_VAR frames_shown {int(video['frames_shown'])}")
    assert not any(m2["text"].str.startswith("!V IMGLOAD"))  # the video trial loads no image
    # samples all through the video, on the screen, following the video
    s = rec.samples
    during = s[(s["time_ms"] >= t_on[0]) & (s["time_ms"] <= t_off[0])]
    assert len(during) >= 0.95 * (t_off[0] - t_on[0]) / 2  # 500 Hz
    assert during["x_left_px"].between(0, 800).mean() > 0.9
    # the screenshot of the first frame shows it where the placement says, upright
    shot = np.asarray(Image.open(shots / "video-2.png"))
    assert shot[20, 400, 2] > 200 and shot[20, 400, 0] < 60  # blue band at the top
    assert shot[300, 150, 0] > 200  # the orange square at the left, mid-height (frame 1)
    # the session is ready for a video dataset: frames + fixations in frame px, ms from the onset
    from gazelab.datasets import validate
    from gazelab.datasets.video import build_video_dataset

    frames = tmp_path / "clip"
    frames.mkdir()
    cap = cv2.VideoCapture(str(tmp_path / "clip.avi"))
    k = 0
    while (got := cap.read())[0]:
        cv2.imwrite(str(frames / f"{k:04d}.png"), got[1])
        k += 1
    fix = detect_fixations(rec, cfg.geometry, algorithm="ivt")
    fix = fix[(fix["onset_ms"] >= t_on[0]) & (fix["onset_ms"] < t_off[0])]
    assert len(fix) >= 2
    table = pd.DataFrame(
        {
            "video": "clip",
            "observer": "P01",
            "x_px": (fix["x_px"] - video["left_px"]) / video["scale"],
            "y_px": (fix["y_px"] - video["top_px"]) / video["scale"],
            "onset_ms": fix["onset_ms"] - t_on[0],
            "duration_ms": fix["duration_ms"],
        }
    )
    out = build_video_dataset([frames], table, tmp_path / "video.h5", fps=video["fps"])
    assert validate(out) == []
    # the image dataset builder takes the image trial and leaves the video trial out, saying so in the notes
    from gazelab.datasets import build_dataset

    report = build_dataset(
        [folder], tmp_path / "images.h5", screen_cm=(37.5, 30.0), distance_cm=60.0, stimuli_dir=tmp_path
    )
    assert report.stimuli == 1
    assert any("1 video trial(s) [2] left out" in n for n in report.notes)


SCRIPT = """
import sys, threading, time
from psychopy import event
from gazelab.acquisition.config import load_config
from gazelab.acquisition.runner import run_session
stop = threading.Event()
def feeder():
    while not stop.wait(0.3):
        event._onPygletKey(symbol="space", modifiers=0, emulated=True)
threading.Thread(target=feeder, daemon=True).start()
run_session(load_config(sys.argv[1]), "P01", 1, out=sys.argv[2], fullscr=False, screenshot_dir=sys.argv[3])
stop.set()
"""


def test_video_in_a_psychopy_window(tmp_path, xvfb):
    square_video(tmp_path / "clip.avi", 1.0)
    # the 1 s video is shorter than stimulus_ms: it plays to its end (10 frames)
    cfg = experiment(tmp_path, 3000, ["clip.avi"])
    shots = ARTEFACTS / "video"
    r = run_python(xvfb, ["-c", SCRIPT, str(cfg), str(tmp_path / "out"), str(shots)], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "out" / "sub-P01" / "ses-1"
    trials = pd.read_csv(folder / "trials.csv")
    assert trials["frames_shown"].iloc[0] + trials["frames_skipped"].iloc[0] == 10
    assert trials["frames_shown"].iloc[0] >= 8
    rec = read(folder)
    vf = rec.messages[rec.messages["text"].str.startswith("!V VFRAME")]
    on = rec.messages[rec.messages["text"] == "STIMULUS_ONSET"]["time_ms"].iloc[0]
    off = rec.messages[rec.messages["text"] == "STIMULUS_OFFSET"]["time_ms"].iloc[0]
    assert len(vf) == trials["frames_shown"].iloc[0] and 950 <= off - on <= 1150
    shot = np.asarray(Image.open(shots / "trial-1.png").convert("RGB"))
    assert shot.shape[:2] == (600, 800)
    assert shot[20, 400, 2] > 200 and shot[20, 400, 0] < 60  # blue band at the top: upright
    assert shot[300, 150, 0] > 200 and shot[300, 150, 2] < 60  # orange square, frame 1
    assert shot[300, 700].max() < 60  # dark where the square is not yet
