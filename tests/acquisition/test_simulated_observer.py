import numpy as np
import pandas as pd
import pytest

from gazelab.acquisition.simulated_observer import simulate_gaze, write_asc
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing import read_asc

G = Geometry(1024, 768, 40.0, 30.0, 60.0)


def test_simulation_is_deterministic_and_physical():
    a = simulate_gaze(G, n_fixations=30, seed=3)
    b = simulate_gaze(G, n_fixations=30, seed=3)
    np.testing.assert_array_equal(a.x_px, b.x_px)
    assert len(a.saccades) == 29
    # main sequence: peak speed grows with amplitude, 10 deg saccades peak near 1.875*10/0.043 s
    big = a.saccades[a.saccades["amplitude_deg"].between(8, 12)]
    if len(big):
        assert big["peak_velocity_deg_s"].between(300, 520).all()
    assert np.diff(a.time_ms).min() == 2.0
    assert (a.fixations["duration_ms"] >= 40).all()


def test_targets_and_blinks_and_errors():
    sim = simulate_gaze(
        G,
        targets_px=np.array([[100, 100], [900, 700]]),
        blink_probability=1.0,
        fixation_duration_ms=(600, 10),
        noise_deg=0.0,
        drift_deg_s=0.0,
    )
    assert len(sim.blinks) == 2
    assert np.isnan(sim.x_px).sum() > 0
    first = sim.fixations.iloc[0]
    assert (first["x_px"], first["y_px"]) == (100, 100)
    with pytest.raises(ParameterError, match="sampling_rate_hz"):
        simulate_gaze(G, sampling_rate_hz=0)


@pytest.mark.parametrize("rate", [250.0, 2000.0])
def test_write_asc_round_trip(tmp_path, rate):
    sim = simulate_gaze(G, n_fixations=8, sampling_rate_hz=rate, blink_probability=0.5, seed=1)
    rec = read_asc(write_asc(sim, tmp_path / "sim.asc", eye="R"))
    assert rec.n_samples == len(sim.time_ms) and rec.eyes == ("R",) and rec.screen_px == (1024, 768)
    np.testing.assert_allclose(rec.samples["x_right_px"], sim.x_px, atol=0.051)
    np.testing.assert_allclose(rec.samples["time_ms"] - 100000, sim.time_ms)
    assert (rec.events["type"] == "fixation").sum() == len(sim.fixations)
    assert len(rec.trials) == 1 and rec.trials["result"].iloc[0] == "0"


def _gaps_hit(found, events, t0):
    """Which ``events`` (onset_ms, offset_ms rows) overlap a gap between consecutive detected fixations."""
    a = found["offset_ms"].to_numpy()[:-1] - t0
    b = found["onset_ms"].to_numpy()[1:] - t0
    return np.array([np.any((a < r.offset_ms + 1e-6) & (b > r.onset_ms - 1e-6)) for r in events.itertuples()])


def test_microsaccades_truth_and_switch():
    g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    sim = simulate_gaze(g, n_fixations=200, sampling_rate_hz=1000.0, blink_probability=0.0, seed=5)
    ms = sim.microsaccades
    rate = len(ms) / (sim.fixations["duration_ms"].sum() / 1000)
    assert 0.6 < rate < 1.6
    assert 0.18 < ms["amplitude_deg"].median() < 0.4 and ms["amplitude_deg"].between(0.05, 1.0).all()
    dur = ms["offset_ms"] - ms["onset_ms"] + 1
    assert dur.between(10, 25).all()
    # main sequence: faster with amplitude, 15-60 deg/s
    assert np.corrcoef(ms["amplitude_deg"], ms["peak_velocity_deg_s"])[0, 1] > 0.9
    assert ms["peak_velocity_deg_s"].between(5, 80).all()
    # inside their fixation, which stays whole in the truth
    f = sim.fixations.iloc[ms["fixation"].to_numpy()]
    assert (ms["onset_ms"].to_numpy() >= f["onset_ms"].to_numpy() + 80).all()
    assert (ms["offset_ms"].to_numpy() <= f["offset_ms"].to_numpy() - 29).all()
    # the eye really moves by the amplitude
    i0 = np.searchsorted(sim.time_ms, ms["onset_ms"]) - 1
    i1 = np.searchsorted(sim.time_ms, ms["offset_ms"]) + 1
    x, y = g.px_to_deg(sim.x_px, sim.y_px)
    moved = np.hypot(x[i1] - x[i0], y[i1] - y[i0])
    assert np.median(np.abs(moved - ms["amplitude_deg"])) < 0.08
    # off: the same signal without them
    off = simulate_gaze(
        g, n_fixations=200, sampling_rate_hz=1000.0, blink_probability=0.0, seed=5, microsaccade_rate_hz=0
    )
    assert len(off.microsaccades) == 0 and list(off.microsaccades.columns) == list(ms.columns)
    pd.testing.assert_frame_equal(off.fixations, sim.fixations)
    assert np.nanmax(np.abs(off.y_px - sim.y_px)) > 1 and np.array_equal(off.time_ms, sim.time_ms)
    with pytest.raises(ParameterError, match="microsaccade_rate_hz"):
        simulate_gaze(g, microsaccade_rate_hz=-1)


def test_engbert_kliegl_finds_the_microsaccades_and_ivt_keeps_fixations_whole(tmp_path):
    from gazelab.preprocessing import agreement, detect_fixations

    g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    # an EyeLink-like low-noise recording at 500 Hz (Engbert & Kliegl's own setting)
    sim = simulate_gaze(g, n_fixations=300, sampling_rate_hz=500.0, blink_probability=0.0, seed=7, noise_deg=0.01)
    rec = read_asc(write_asc(sim, tmp_path / "ms.asc"))
    t0 = rec.samples["time_ms"].iloc[0]
    ms = sim.microsaccades
    ek = detect_fixations(rec, g, algorithm="ek")
    hit = _gaps_hit(ek, ms, t0)
    big = ms["amplitude_deg"].to_numpy() >= 0.2
    assert hit[big].mean() >= 0.75 and hit.mean() >= 0.5
    # every gap in EK's fixations is a true saccade or microsaccade: no false detections
    events = pd.concat([sim.saccades[["onset_ms", "offset_ms"]], ms[["onset_ms", "offset_ms"]]])
    a = ek["offset_ms"].to_numpy()[:-1] - t0
    b = ek["onset_ms"].to_numpy()[1:] - t0
    on, off = events["onset_ms"].to_numpy(), events["offset_ms"].to_numpy()
    assert all(np.any((on < bb + 1e-6) & (off > aa - 1e-6)) for aa, bb in zip(a, b, strict=True))
    # I-VT with the EyeLink parser's 30 deg/s and 0.15 deg motion threshold does not split at most of them
    truth = detect_fixations(rec, g, algorithm="eyelink")
    ag = agreement(truth, detect_fixations(rec, g, algorithm="ivt")).iloc[0]
    assert ag["matched_fraction"] >= 0.97 and ag["precision"] >= 0.9
