"""Every registered detector on synthetic signals with known fixations (tests generated from the registry)."""

import numpy as np
import pandas as pd
import pytest

from gazelab.acquisition.simulated_observer import simulate_gaze, write_asc
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing import FIXATION_COLUMNS, Recording, agreement, detect_fixations, read_asc
from gazelab.preprocessing.detection import EyeSignal as Sig
from gazelab.preprocessing.detection import available_detectors, match_fixations, register_detector
from gazelab.preprocessing.detection.idt import idt

G = Geometry(1920, 1080, 53.0, 30.0, 60.0)
SAMPLE_DETECTORS = [d for d in available_detectors() if d != "eyelink"]


@pytest.fixture(scope="module", params=[250.0, 500.0, 1000.0])
def simulated(request, tmp_path_factory):
    rate = request.param
    # no microsaccades here: Engbert-Kliegl (built to find them) and I-DT rightly end a fixation at
    # the larger ones, which the truth keeps whole; tests/acquisition/test_simulated_observer.py checks them separately
    sim = simulate_gaze(
        G, n_fixations=40, sampling_rate_hz=rate, blink_probability=0.2, seed=int(rate), microsaccade_rate_hz=0.0
    )
    path = write_asc(sim, tmp_path_factory.mktemp("sim") / f"sim{int(rate)}.asc")
    return sim, read_asc(path)


def test_registry_lists_all_and_refuses_duplicates():
    assert available_detectors() == ["ek", "eyelink", "idt", "ivt"]
    with pytest.raises(ValueError, match="already registered"):
        register_detector("ivt")(lambda s: s)


@pytest.mark.parametrize("algorithm", SAMPLE_DETECTORS)
def test_detector_recovers_known_fixations(simulated, algorithm):
    sim, rec = simulated
    truth = detect_fixations(rec, G, algorithm="eyelink")
    assert len(truth) == len(sim.fixations)
    found = detect_fixations(rec, G, algorithm=algorithm)
    assert list(found.columns) == FIXATION_COLUMNS
    assert (found["algorithm"] == algorithm).all() and (found["eye"] == "L").all()
    a = agreement(truth, found).iloc[0]
    # I-DT's 100 ms window and its dispersion criterion make it coarser than the velocity methods
    assert a["matched_fraction"] >= (0.9 if algorithm == "idt" else 0.97)
    assert a["precision"] >= (0.75 if algorithm == "idt" else 0.95)
    assert a["mean_abs_onset_diff_ms"] <= (12 if algorithm == "idt" else 6)
    # positions: the matched fixations' means are within 0.2 deg of their targets (median)
    mm = match_fixations(truth, found)
    hit = mm[mm["matched"]]
    det = found.iloc[hit["match"].to_numpy()]
    err = G.angle_between(
        hit["x_px"].to_numpy(), hit["y_px"].to_numpy(), det["x_px"].to_numpy(), det["y_px"].to_numpy()
    )
    assert np.median(err) < 0.2
    # fixation table invariants
    assert (found["offset_ms"] >= found["onset_ms"]).all()
    np.testing.assert_allclose(
        found["duration_ms"], found["offset_ms"] - found["onset_ms"] + 1000 / rec.sampling_rate_hz
    )
    assert (found["dispersion_deg"] >= 0).all() and (found["n_samples"] >= 1).all()
    assert found["trial"].eq(1).all()


@pytest.mark.parametrize("algorithm", SAMPLE_DETECTORS)
def test_detectors_on_a_flat_signal_and_all_missing(algorithm):
    t = np.arange(0, 2000, 2.0)
    n = len(t)
    samples = pd.DataFrame(
        {
            "time_ms": t,
            "block": np.zeros(n, np.int32),
            "trial": pd.array([pd.NA] * n, dtype="Int64"),
            "x_left_px": np.full(n, 960.0),
            "y_left_px": np.full(n, 540.0),
            "pupil_left": np.full(n, 1000.0),
        }
    )

    empty = pd.DataFrame(
        {
            "type": pd.Series(dtype="string"),
            "eye": pd.Series(dtype="string"),
            "onset_ms": pd.Series(dtype=float),
            "offset_ms": pd.Series(dtype=float),
        }
    )
    rec = Recording(
        samples=samples,
        events=empty,
        messages=pd.DataFrame({"time_ms": [], "text": []}),
        trials=pd.DataFrame(),
        blocks=pd.DataFrame({"block": [0], "sampling_rate_hz": [500.0], "n_samples": [n]}),
        sampling_rate_hz=500.0,
        eyes=("L",),
        screen_px=(1920, 1080),
    )
    f = detect_fixations(rec, G, algorithm=algorithm)
    assert len(f) == 1 and f["duration_ms"].iloc[0] >= 1900 and f["x_px"].iloc[0] == 960.0
    rec.samples["x_left_px"] = np.nan
    assert len(detect_fixations(rec, G, algorithm=algorithm)) == 0


def test_idt_hand_made_steps():
    # three 200 ms plateaus 5 deg apart at 500 Hz, no noise: exactly three fixations
    t = np.arange(0, 600, 2.0)
    xdeg = np.repeat([-5.0, 0.0, 5.0], 100)
    x, y = G.deg_to_px(xdeg, np.zeros_like(xdeg))

    sig = Sig(
        "L",
        t,
        x,
        y,
        *G.px_to_deg(x, y),
        np.zeros(len(t), np.int64),
        pd.array([1] * len(t), dtype="Int64"),
        500.0,
        G,
        pd.DataFrame(),
    )
    f = idt(sig, dispersion_threshold_deg=1.0, min_duration_ms=100)
    assert f["onset_ms"].tolist() == [0, 200, 400] and f["offset_ms"].tolist() == [198, 398, 598]
    assert f["duration_ms"].tolist() == [200, 200, 200]
    # a missing sample splits a fixation; a window that would span it is never accepted
    x2 = x.copy()
    x2[50] = np.nan
    sig2 = Sig(
        "L",
        t,
        x2,
        y,
        *G.px_to_deg(x2, y),
        np.zeros(len(t), np.int64),
        pd.array([1] * len(t), dtype="Int64"),
        500.0,
        G,
        pd.DataFrame(),
    )
    f2 = idt(sig2, dispersion_threshold_deg=1.0, min_duration_ms=90)
    assert f2["onset_ms"].tolist() == [0, 102, 200, 400] and f2["offset_ms"].tolist()[:2] == [98, 198]


def test_eyelink_detector_reports_tracker_values(simulated):
    sim, rec = simulated
    f = detect_fixations(rec, G, algorithm="eyelink")
    np.testing.assert_allclose(f["onset_ms"], sim.fixations["onset_ms"] + 100000)
    np.testing.assert_allclose(f["x_px"], sim.fixations["x_px"], atol=0.05)


def test_unknown_algorithm_parameter_and_eye(simulated):
    _, rec = simulated
    with pytest.raises(ParameterError, match="one of \\['ek', 'eyelink', 'idt', 'ivt'\\]"):
        detect_fixations(rec, G, algorithm="hmm")
    with pytest.raises(ParameterError, match="velocity_threshold"):
        detect_fixations(rec, G, algorithm="idt", velocity_threshold_deg_s=30)
    with pytest.raises(ParameterError, match="eyes"):
        detect_fixations(rec, G, eyes="R")
    with pytest.raises(ParameterError, match="velocity_threshold_deg_s"):
        detect_fixations(rec, G, algorithm="ivt", velocity_threshold_deg_s=0)


def test_classic_ivt_options_and_interpolation(simulated):
    _, rec = simulated
    plain = detect_fixations(
        rec, G, algorithm="ivt", acceleration_threshold_deg_s2=None, pursuit_fixup_deg_s=0, motion_threshold_deg=0
    )
    assert len(plain) > 0
    filled = detect_fixations(rec, G, algorithm="ivt", interpolate_max_gap_ms=50, blink_margin_ms=20)
    assert len(filled) > 0
