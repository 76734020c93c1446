import numpy as np
import pytest

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing import read_asc
from gazelab.simulation import simulate_gaze, write_asc

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
