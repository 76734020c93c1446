"""The real EyeLinkTracker code path against the replay link (real recordings, no pylink needed)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gazelab.acquisition.config import load_config
from gazelab.acquisition.runner import run_session
from gazelab.acquisition.trackers import eyelink_replay
from gazelab.acquisition.trackers.eyelink import EyeLinkTracker
from gazelab.errors import GazelabError
from gazelab.geometry import Geometry
from gazelab.preprocessing import detect_fixations, read
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
EYELINK = SHARED_DATA / "eyelink"
needs_data = pytest.mark.skipif(not EYELINK.is_dir(), reason="../shared/data/eyelink is absent")
G = Geometry(1024, 768, 37.5, 28.0, 60.0)


class HeadlessDisplay:
    """A display stand-in at PsychoPy's boundary: flips at 60 Hz, SPACE whenever a key is awaited."""

    waits_for_blank = False

    def __init__(self):
        self.frame_s = 1 / 60

    def flip(self, on_flip=None):
        import time

        time.sleep(self.frame_s)
        if on_flip is not None:
            on_flip()

    def wait(self, s):
        import time

        time.sleep(s)

    def keys(self, allowed):
        return []

    def wait_keys(self, allowed):
        return "space"

    def __getattr__(self, name):  # text, target, cross, image, screenshot, close: nothing to draw
        return lambda *a, **k: None


def _experiment(tmp_path, rate):
    stim = tmp_path / "stimuli"
    stim.mkdir()
    for name in ("scene1.png", "scene2.png", "scene3.png"):
        shutil.copyfile(REPO / "examples" / "stimuli" / name, stim / name)
    yaml = tmp_path / "exp.yaml"
    yaml.write_text(
        "name: replay\nscreen: {width_px: 1024, height_px: 768, width_cm: 37.5, height_cm: 28.0, distance_cm: 60}\n"
        "stimuli: {folder: stimuli/}\ntiming: {fixation_cross_ms: 100, stimulus_ms: 500, inter_trial_ms: 100}\n"
        f"order: fixed\ndrift_check_every: 2\ntracker: {{backend: eyelink, sampling_rate_hz: {rate}, eye: R}}\n"
        "output: sessions/\n"
    )
    return load_config(yaml)


@needs_data
@pytest.mark.parametrize(("name", "rate"), [("mono1000.asc.gz", 1000), ("mono2000.asc.gz", 2000)])
def test_replayed_session_receives_every_sample_and_event(tmp_path, name, rate):
    source = EYELINK / name
    cfg = _experiment(tmp_path, rate)
    trk = EyeLinkTracker(cfg.geometry, address=f"replay:{source}", sampling_rate_hz=rate, eyes="R", edf="P011.EDF")
    folder = run_session(cfg, "P01", 1, tracker=trk, display=HeadlessDisplay(), echo=lambda s: None)
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "complete" and meta["tracker_mode"] == "replay"
    assert meta["tracker_address"] == f"replay:{source}" and meta["lost_data_events"] == 0
    rec, ref = read(folder), read(source)
    assert rec.blocks["block"].size == 3 == len(meta["recording_spans_ms"])  # one block per trial, no gap splits
    t = rec.samples["time_ms"].to_numpy()
    ref_t = ref.samples["time_ms"].to_numpy()
    for _, b in rec.blocks.iterrows():  # every sample of the file over each recorded span, none lost
        want = ref_t[(ref_t >= b["onset_ms"]) & (ref_t <= b["offset_ms"])]
        got = t[(t >= b["onset_ms"]) & (t <= b["offset_ms"])]
        np.testing.assert_array_equal(got, want)
    assert abs(meta["samples_received"] - meta["samples_expected"]) <= 3 * len(rec.blocks)
    assert meta["samples_received"] == len(rec.samples)
    np.testing.assert_allclose(rec.samples["x_right_px"], ref.samples.set_index("time_ms").loc[t, "x_right_px"])
    # the link events are there, and the tracker's fixations over the span are the file's
    assert (rec.events["type"] == "fixation").any()
    got = detect_fixations(rec, cfg.geometry, algorithm="eyelink")
    spans = rec.blocks[["onset_ms", "offset_ms"]].to_numpy()
    fx = ref.events[ref.events["type"] == "fixation"]
    inside = np.zeros(len(fx), bool)
    for a, b in spans:
        inside |= (fx["onset_ms"] >= a).to_numpy() & (fx["offset_ms"] <= b).to_numpy()
    np.testing.assert_array_equal(np.sort(got["onset_ms"].to_numpy()), np.sort(fx["onset_ms"].to_numpy()[inside]))
    # the same through the CLI, and ivt on the link samples finds the file's fixations over the span
    from click.testing import CliRunner

    from gazelab.cli import cli

    for algo in ("eyelink", "ivt"):
        out = tmp_path / f"fix-{algo}.csv"
        args = [
            "fixations",
            str(folder),
            "-a",
            algo,
            "--screen-cm",
            "37.5",
            "28",
            "--distance-cm",
            "60",
            "-o",
            str(out),
        ]
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
        table = pd.read_csv(out)
        want = fx["onset_ms"].to_numpy()[inside]
        near = np.abs(table["onset_ms"].to_numpy()[:, None] - want[None, :]).min(axis=0) <= 20
        assert near.mean() >= (1.0 if algo == "eyelink" else 0.6), (algo, near)
    # the EDF stand-in came back, stimuli sit beside it, IMGLOAD names them relative to it
    assert (folder / meta["tracker_data_file"]).is_file()
    imgload = rec.messages[rec.messages["text"].str.startswith("!V IMGLOAD")]["text"]
    assert all((folder / s.split()[3]).is_file() for s in imgload)
    assert rec.messages["text"].str.startswith("!V IAREA RECTANGLE 1").sum() == 3
    # calibration and drift check as the file's tracker reported them; no made-up !CAL lines
    cal = json.loads((folder / "calibration.json").read_text())
    assert cal["source"] == "eyelink" and cal["result"][0]["grade"] == "GOOD"
    texts = rec.messages["text"]
    assert not texts.str.startswith("!CAL CALIBRATION").any()
    drift = texts[texts.str.startswith("DRIFTCORRECT")]
    assert len(drift) == 1 and drift.iloc[0] in {" ".join(m.split()) for m in ref.messages["text"]}


@needs_data
def test_blinks_are_empty_gaze(tmp_path):
    source = EYELINK / "pm_eyelink_binocular_example.asc"
    ref = read(source)
    blink = ref.events[ref.events["type"] == "blink"].iloc[0]
    trk = EyeLinkTracker(G, address=f"replay:{source}", sampling_rate_hz=1000, eyes="LR", replay_speed=20.0)
    trk.connect()
    trk.el._jump_to(float(blink["onset_ms"]) - 200)
    trk.start_recording()
    import time

    time.sleep(0.03)  # 600 ms of file time
    rows = trk.newest_samples()
    trk.stop_recording()
    rows += trk.newest_samples()
    events = trk.link_events()
    trk.close()
    df = pd.DataFrame(rows).set_index(0)
    eye = 2 if blink["eye"] == "L" else 5
    inside = df.loc[(df.index > blink["onset_ms"]) & (df.index < blink["offset_ms"])]
    assert len(inside) > 10 and inside[eye].isna().all() and inside[eye + 2].isna().all()
    assert not (df[[2, 3, 5, 6]] <= -32767).any().any()  # MISSING_DATA never written as gaze
    assert any(e[0] == "blink" for e in events)


def test_replay_constants_are_pylinks():
    pylink = pytest.importorskip("pylink")
    for name in ("STARTBLINK", "ENDBLINK", "STARTSACC", "ENDSACC", "STARTFIX", "ENDFIX", "LOSTDATAEVENT"):
        assert getattr(eyelink_replay, name) == getattr(pylink, name), name
    assert eyelink_replay.SAMPLE_TYPE == pylink.SAMPLE_TYPE and eyelink_replay.MISSING_DATA == pylink.MISSING_DATA
    assert eyelink_replay.ESC_KEY == pylink.ESC_KEY


def _silent_host(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("pylink")

    def refuse(address):
        raise RuntimeError(f"Could not connect to tracker at {address}")

    fake.EyeLink = refuse
    monkeypatch.setitem(sys.modules, "pylink", fake)


def test_a_host_that_does_not_answer_leaves_no_session(tmp_path, monkeypatch):
    _silent_host(monkeypatch)
    cfg = _experiment(tmp_path, 1000)
    with pytest.raises(GazelabError, match=r"100\.1\.1\.1 does not answer.*cable.*Host software"):
        run_session(cfg, "P01", 1, tracker="eyelink", out=tmp_path / "out", display=HeadlessDisplay())
    assert not (tmp_path / "out").exists()


def test_cli_unreachable_host_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gazelab.cli import cli

    _silent_host(monkeypatch)
    _experiment(tmp_path, 1000)
    args = [
        "run",
        str(tmp_path / "exp.yaml"),
        "-p",
        "P07",
        "--tracker-address",
        "10.9.8.7",
        "--out",
        str(tmp_path / "o"),
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0 and "10.9.8.7" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_real_pylink_unreachable_address_is_one_error(tmp_path):
    pytest.importorskip("pylink")
    trk = EyeLinkTracker(G, address="127.0.0.1")  # loopback: nothing listens there
    with pytest.raises(GazelabError, match=r"127\.0\.0\.1 does not answer"):
        trk.connect()
