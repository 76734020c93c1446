"""Whole sessions in real PsychoPy windows under Xvfb (started here), driven by scripted keys.

Each session runs in a subprocess (PsychoPy needs the X display at import time and installs its
own logging), with a thread injecting key presses through PsychoPy's event queue.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gazelab.acquisition.session import recover
from gazelab.preprocessing import read
from tests.conftest import run_python

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "free-viewing.yaml"
ARTEFACTS = REPO / "out" / "test-artefacts"


SCRIPT = """
import sys, threading, time
from psychopy import event
from gazelab.acquisition.config import load_config
from gazelab.acquisition.runner import run_session
keys, escape_after, tracker = sys.argv[1].split(","), float(sys.argv[2]), sys.argv[3]
stop = threading.Event()
start = time.time()
def feeder():
    i = 0
    while not stop.wait(0.3):
        if escape_after > 0 and time.time() - start > escape_after:
            event._onPygletKey(symbol="escape", modifiers=0, emulated=True)
        else:
            event._onPygletKey(symbol=keys[i % len(keys)], modifiers=0, emulated=True)
            i += 1
threading.Thread(target=feeder, daemon=True).start()
from dataclasses import replace
config = load_config(sys.argv[4])
if tracker == "eyelink":  # pylink's dummy mode: tests never use a Host address
    config = replace(config, tracker=replace(config.tracker, address="dummy"))
run_session(config, "P01", 1, tracker=tracker, out=sys.argv[5], fullscr=False,
            screenshot_dir=sys.argv[6])
stop.set()
"""


def _run(display, out, shots, *, keys="space", escape_after=0.0, tracker="simulated", timeout=240, wait=True):
    env = {**os.environ, "DISPLAY": display}
    args = [sys.executable, "-c", SCRIPT, keys, str(escape_after), tracker, str(EXAMPLE), str(out), str(shots)]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return proc
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output
    return output


def test_full_simulated_session(xvfb, tmp_path):
    shots = ARTEFACTS / "screens"
    output = _run(xvfb, tmp_path, shots)
    folder = tmp_path / "sub-P01" / "ses-1"
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "complete" and meta["tracker"] == "simulated" and len(meta["order"]) == 4
    assert "tracker_minus_host_clock_ms" in meta
    cal = json.loads((folder / "calibration.json").read_text())["validations"]
    assert cal[-1]["accepted"] and cal[-1]["grade"] in ("GOOD", "FAIR") and len(cal[-1]["points"]) == 9
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["trial"]) == [1, 2, 3, 4] and (trials["scale"] == 1.6).all()
    rec = read(folder)
    assert len(rec.trials) == 4 and rec.trials["image"].notna().all()
    assert any(rec.messages["text"].str.startswith("DRIFTCORRECT"))
    onset = rec.messages[rec.messages["text"] == "STIMULUS_ONSET"]["time_ms"].to_numpy()
    imgload = rec.messages[rec.messages["text"].str.startswith("!V IMGLOAD")]["time_ms"].to_numpy()
    np.testing.assert_allclose(onset, imgload, atol=5)  # both sent on the flip that shows the image
    t = rec.samples["time_ms"].to_numpy()
    same_block = np.diff(rec.samples["block"].to_numpy()) == 0
    np.testing.assert_allclose(np.diff(t)[same_block], 1.0, atol=1e-3)  # no sample lost within a trial
    # the screenshots are real pictures: the trial shows the image, the validation screen text
    from PIL import Image

    trial = np.asarray(Image.open(shots / "trial-1.png"))
    assert trial.shape[:2] == (1024, 1280) and trial.std() > 20
    assert np.asarray(Image.open(shots / "validation-1.png")).std() > 1
    assert "validation 1:" in output and "session saved" in output
    # the session builds into a dataset whose fixations land on the images
    from gazelab.datasets import build_dataset, validate

    r = build_dataset(
        [folder],
        tmp_path / "ds.h5",
        stimuli_dir=REPO / "examples" / "stimuli",
        screen_cm=(37.5, 30.0),
        distance_cm=60.0,
    )
    assert r.stimuli == 4 and r.fixations > 10 and validate(tmp_path / "ds.h5") == []


def test_escape_ends_cleanly_and_an_existing_session_is_refused(xvfb, tmp_path):
    _run(xvfb, tmp_path, tmp_path / "shots", escape_after=14.0)
    folder = tmp_path / "sub-P01" / "ses-1"
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "aborted" and meta["n_samples"] > 0
    assert len(read(folder).samples) == meta["n_samples"]
    args = ["-m", "gazelab", "run", str(EXAMPLE), "--participant", "P01", "--out", str(tmp_path), "--windowed"]
    r = run_python(xvfb, args, timeout=60)
    assert r.returncode == 1 and "already exists" in r.stdout + r.stderr


def test_killed_session_is_recovered(xvfb, tmp_path):
    proc = _run(xvfb, tmp_path, tmp_path / "shots", wait=False)
    folder = tmp_path / "sub-P01" / "ses-1"
    deadline = time.time() + 120
    while time.time() < deadline and not (folder / "trials.csv").exists():
        time.sleep(0.2)
    time.sleep(1.0)  # inside trial 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert json.loads((folder / "session.json").read_text())["status"] == "running"
    recover(folder)
    rec = read(folder)
    assert json.loads((folder / "session.json").read_text())["status"] == "recovered"
    assert len(rec.trials) >= 2 and rec.n_samples > 3000


def test_eyelink_dummy_mode_session(xvfb, tmp_path):
    pytest.importorskip("pylink", reason="pylink is the eyelink extra")
    # dummy mode has no camera: no calibration, recorded as not measured; no made-up drift offset
    _run(xvfb, tmp_path, tmp_path / "shots", keys="space", tracker="eyelink")
    folder = tmp_path / "sub-P01" / "ses-1"
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "complete" and meta["tracker"] == "eyelink" and meta["tracker_mode"] == "dummy"
    assert json.loads((folder / "calibration.json").read_text())["result"] == "not measured"
    msgs = (folder / "messages.tsv").read_text()
    assert "TRIALID 1" in msgs and "!V IMGLOAD CENTER stimuli/" in msgs and "TRIAL_RESULT 0" in msgs
    assert "!CAL" not in msgs and "OFFSET not measured" in msgs and "OFFSET 0.00" not in msgs


HOST_SETUP = """
import threading, time
from psychopy import event
from gazelab.acquisition.display import PsychoPyDisplay
from gazelab.acquisition.trackers.eyelink import EyeLinkTracker
from gazelab.geometry import Geometry
g = Geometry(1280, 1024, 37.5, 30.0, 60.0)
d = PsychoPyDisplay(g, fullscr=False)
tr = EyeLinkTracker(g, address="dummy")
tr.connect()
threading.Timer(1.0, lambda: event._onPygletKey(symbol="escape", modifiers=0, emulated=True)).start()
events = tr.host_setup(d)
print("EVENTS", events)
tr.close()
d.close()
"""


def test_eyelink_host_setup_returns_on_escape(xvfb):
    """doTrackerSetup spins forever without custom graphics; with gazelab's, Escape leaves it."""
    pytest.importorskip("pylink", reason="pylink is the eyelink extra")
    r = run_python(xvfb, ["-c", HOST_SETUP], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "('key', 'escape')" in r.stdout
