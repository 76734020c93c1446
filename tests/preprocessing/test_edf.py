"""The EDF reader against eyelinkio's own reading of the three real EDF files its wheel ships.

eyelinkio's ``read_edf`` re-bases times to seconds from the first sample (sample i at i / rate)
and keeps gaze and pupil only; gazelab's reader keeps the tracker clock, so the checks map one
onto the other through the sample index.

``ivt`` against the files' own fixations (onset within 20 ms, one-to-one), geometry as for the
ASC files (1920 x 1080 px on 53 x 30 cm at 60 cm, tests/conftest.py), measured on this machine:
test_2_raw L 93.4 % of 121; test_raw L 81 % of 21 (under 50 fixations: not held to 90 %);
test_raw_binocular L 31.7 % of 480, R 55.2 % of 377. The binocular file misses the 90 % goal:
its own records show poor tracking (the drift check before its first trial fails with
L = 36.7 deg, R = 1.9 deg; 36 % of the left eye's samples are missing; left gaze runs to
x = -1700 px; 21 % of its left fixations last under 40 ms). With the geometry the tracker's own
resolution implies (about 58 px/deg: 53 cm wide at 92 cm) it is L 48.5 %, R 71.1 %; no setting
of window, threshold and minimum duration tried reached 90 % without halving precision.
That test is a strict xfail, so it reports the day it passes.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from gazelab.acquisition.tracker_messages import validations
from gazelab.errors import GazelabError, ParseError
from gazelab.preprocessing import agreement, detect_fixations, read, read_edf
from tests.conftest import geometry_for

FILES = ["test_raw.edf", "test_2_raw.edf", "test_raw_binocular.edf"]


@pytest.fixture(scope="session")
def both(edf_dir):
    """gazelab's and eyelinkio's reading of each file."""
    import eyelinkio

    return {name: (read_edf(edf_dir / name), eyelinkio.read_edf(edf_dir / name)) for name in FILES}


@pytest.mark.parametrize("name", FILES)
def test_counts_rate_and_eyes_equal_eyelinkio(both, name):
    rec, theirs = both[name]
    info, disc = theirs["info"], theirs["discrete"]
    assert rec.n_samples == theirs["samples"].shape[1] == rec.blocks["n_samples"].sum()
    assert rec.sampling_rate_hz == info["sfreq"]
    assert rec.eyes == {"LEFT_EYE": ("L",), "RIGHT_EYE": ("R",), "BINOCULAR": ("L", "R")}[info["eye"]]
    assert rec.metadata["pupil"] == {"PUPIL_AREA": "area", "PUPIL_DIAMETER": "diameter"}[info["ps_units"]]
    counts = rec.events["type"].value_counts()
    for ours, key in (("fixation", "fixations"), ("saccade", "saccades"), ("blink", "blinks")):
        assert counts.get(ours, 0) == len(disc.get(key, [])), ours
    assert len(rec.messages) == len(disc["messages"])
    assert rec.format == "eyelink-edf" and rec.screen_px == (1920, 1080)  # GAZE_COORDS 0 0 1919 1079


@pytest.mark.parametrize("name", FILES)
def test_times_are_the_tracker_clock_and_values_equal_eyelinkio(both, name):
    rec, theirs = both[name]
    t = rec.samples["time_ms"].to_numpy()
    rel = np.arange(len(t)) / rec.sampling_rate_hz  # eyelinkio's time of each sample, s
    assert (np.diff(t) > 0).all() and t[0] == rec.blocks["onset_ms"].iloc[0]
    # eyelinkio maps every event and message time onto its own axis by the sample times
    for ours, key in (("fixation", "fixations"), ("saccade", "saccades"), ("blink", "blinks")):
        ev = rec.events[rec.events["type"] == ours]
        np.testing.assert_allclose(np.interp(ev["onset_ms"], t, rel), theirs["discrete"][key]["stime"], atol=1e-9)
        np.testing.assert_allclose(np.interp(ev["offset_ms"], t, rel), theirs["discrete"][key]["etime"], atol=1e-9)
    their_msg = theirs["discrete"]["messages"]["stime"]
    np.testing.assert_allclose(np.interp(rec.messages["time_ms"] + rec.messages["offset_ms"], t, rel), their_msg)
    # gaze and pupil: equal wherever the sample is valid; eyelinkio leaves missing data as -32768/1e8
    fields = theirs["info"]["sample_fields"]
    for eye in rec.eyes:
        side = {"L": "left", "R": "right"}[eye]
        for ours, key in ((f"x_{side}_px", "xpos"), (f"y_{side}_px", "ypos"), (f"pupil_{side}", "ps")):
            row = fields.index(key if len(rec.eyes) == 1 else f"{key}_{side}")
            mine = rec.samples[ours].to_numpy()
            ok = ~np.isnan(mine)
            assert ok.mean() > 0.5
            np.testing.assert_allclose(mine[ok], np.round(theirs["samples"][row][ok], 1), atol=1e-9)


@pytest.mark.parametrize("name", FILES)
def test_missing_values_are_nan(both, name):
    rec, _ = both[name]
    s = rec.samples
    for eye in rec.eyes:
        side = {"L": "left", "R": "right"}[eye]
        x, y, p = (s[f"{c}_{side}{u}"].to_numpy() for c, u in (("x", "_px"), ("y", "_px"), ("pupil", "")))
        for v in (x, y, p):
            finite = v[~np.isnan(v)]
            assert not np.isin(finite, [-32768.0, 1e8]).any() and np.abs(finite).max() < 1e5
        assert (p[~np.isnan(p)] > 0).all()  # a zero pupil is a missing one
        assert np.array_equal(np.isnan(x), np.isnan(y)) and (np.isnan(p) >= np.isnan(x)).all()
        # the tracker's blinks are missing data
        bl = rec.events[(rec.events["type"] == "blink") & (rec.events["eye"] == eye)]
        inside = np.zeros(len(s), bool)
        t = s["time_ms"].to_numpy()
        for on, off in zip(bl["onset_ms"], bl["offset_ms"], strict=True):
            inside[(t >= on) & (t <= off)] = True
        assert inside.any() and np.isnan(x[inside]).mean() > 0.95


def test_blocks_trials_messages_and_validation(both):
    rec, theirs = both["test_raw.edf"]
    assert list(rec.blocks["onset_ms"]) == [415839.0, 464321.0]
    assert list(rec.blocks["offset_ms"]) == [415975.0, 531012.0]
    assert list(rec.trials["trial_id"]) == [str(i) for i in range(1, 21)] and rec.trials["trial"].iloc[0] == 1
    assert rec.samples["trial"].notna().any() and rec.events["trial"].notna().any()
    assert (rec.messages["block"].dropna() >= 0).all()
    val = validations(rec.messages)
    assert len(val) == 1 == len(theirs["info"]["calibrations"])
    v = val.iloc[0]
    assert (v["eye"], v["calibration_type"], v["grade"]) == ("L", "HV5", "GOOD")
    assert (v["mean_error_deg"], v["max_error_deg"], v["offset_deg"]) == (0.29, 0.65, 0.21)
    assert (v["offset_x_px"], v["offset_y_px"]) == (-7.6, -1.9)
    points = theirs["info"]["calibrations"][0]["validation"]["offset"]
    assert points.max() == v["max_error_deg"]  # eyelinkio parses the per-point lines of the same validation
    assert rec.metadata["tracker_version"] == "EYELINK II 1" and not rec.metadata["truncated"]

    bino, _ = both["test_raw_binocular.edf"]
    assert len(bino.blocks) == 15 and len(bino.trials) == 15
    assert (bino.trials["result"].dropna() == "0").sum() == 14
    # multi-line messages read as the ASC reader reads edf2asc's continuation lines
    assert bino.messages["text"].iloc[0] == "!CAL\n>>>>>>> CALIBRATION (HV3,P-CR) FOR LEFT: <<<<<<<<<"
    assert set(bino.samples["flags"].dropna().str.len()) == {5}  # edf2asc's binocular status field


def _agreement(rec):
    g = geometry_for(rec)
    return agreement(detect_fixations(rec, g, algorithm="eyelink"), detect_fixations(rec, g, algorithm="ivt"))


def test_ivt_agrees_with_the_files_own_fixations(both):
    a = _agreement(both["test_2_raw.edf"][0])
    assert list(a["n_reference"]) == [121]
    assert a["matched_fraction"].iloc[0] >= 0.90 and a["precision"].iloc[0] >= 0.9
    small = _agreement(both["test_raw.edf"][0])
    assert small["n_reference"].iloc[0] < 50 and small["matched_fraction"].iloc[0] >= 0.75


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="measured L 31.7 %, R 55.2 %: a poorly tracked recording (module docstring)",
)
def test_ivt_agreement_on_the_binocular_file(both):
    a = _agreement(both["test_raw_binocular.edf"][0])
    assert (a["n_reference"] >= 50).all()
    assert (a["matched_fraction"] >= 0.90).all(), a.to_string()


def test_damaged_files_give_one_error_naming_the_file(edf_dir, tmp_path):
    data = (edf_dir / "test_raw.edf").read_bytes()
    cases = {
        "cut.edf": data[: len(data) * 2 // 3],  # truncated in the data
        "head.edf": data[:100],  # truncated inside the text header (edfapi itself would crash)
        "garbage.edf": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "empty.edf": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ParseError) as err:
            read(path)
        text = str(err.value)
        assert text.startswith(str(path)) and "\n" not in text, text
        assert ("truncated" in text) or ("not an EyeLink EDF" in text), text
    with pytest.raises(ParseError, match="no such file"):
        read_edf(tmp_path / "absent.edf")


def test_the_edf_library_prints_nothing(edf_dir, capfd):
    read_edf(edf_dir / "test_raw.edf")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_missing_eyelinkio_is_one_clear_error(edf_dir, monkeypatch):
    from gazelab.preprocessing.readers import edf

    edf._api.cache_clear()
    monkeypatch.setitem(sys.modules, "eyelinkio", None)
    try:
        with pytest.raises(GazelabError, match=r"gazelab\[edf\]"):
            read_edf(edf_dir / "test_raw.edf")
    finally:
        edf._api.cache_clear()


def test_importing_gazelab_does_not_import_eyelinkio():
    code = "import sys, gazelab.preprocessing, gazelab.cli; print('eyelinkio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_recording_without_an_end_record_is_read_with_a_warning(edf_dir, monkeypatch):
    from gazelab.preprocessing.readers import edf

    real = edf._walk

    def drop_last_end(api, handle):  # the stream as a crash before the end of recording leaves it
        stream = real(api, handle)
        stream.records = stream.records[:-1]
        return stream

    monkeypatch.setattr(edf, "_walk", drop_last_end)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_edf(edf_dir / "test_raw.edf")
    assert rec.metadata["truncated"] and any("no end record" in str(w.message) for w in caught)
    assert rec.blocks["offset_ms"].iloc[-1] == rec.samples["time_ms"].iloc[-1]
    with pytest.raises(ParseError, match="truncated"):
        read_edf(edf_dir / "test_raw.edf", strict=True)


def test_a_right_eye_recording_reads_the_right_eye(edf_dir, monkeypatch):
    """The three files record the left eye or both: move test_raw's left eye into the right slot."""
    from gazelab.preprocessing.readers import edf

    left = read_edf(edf_dir / "test_raw.edf")
    real = edf._walk

    def right_only(api, handle):
        stream = real(api, handle)
        s = stream.samples
        for name in ("gx", "gy", "pa"):
            s[name][:, 1] = s[name][:, 0]
            s[name][:, 0] = -32768.0
        s["flags"] = (s["flags"] & ~np.uint16(0x8000)) | np.uint16(0x4000)
        stream.events = stream.events.copy()
        stream.events["eye"] = 1
        for rec in stream.records:
            rec["eye"] = 2
        return stream

    monkeypatch.setattr(edf, "_walk", right_only)
    right = read_edf(edf_dir / "test_raw.edf")
    assert right.eyes == ("R",) and "x_left_px" not in right.samples and (right.blocks["eyes"] == "R").all()
    for c in ("x", "y", "pupil"):
        a, b = f"{c}_left" + ("_px" if c != "pupil" else ""), f"{c}_right" + ("_px" if c != "pupil" else "")
        np.testing.assert_array_equal(right.samples[b], left.samples[a])
    assert (right.events["eye"] == "R").all()
    assert right.samples["flags"].tolist() == left.samples["flags"].tolist()


def test_reading_from_threads_keeps_the_standard_streams(edf_dir, capfd):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        recs = list(pool.map(read_edf, [edf_dir / "test_raw.edf"] * 4))
    assert {r.n_samples for r in recs} == {66827}
    print("still here")
    sys.stderr.write("and here\n")
    out, err = capfd.readouterr()
    assert out == "still here\n" and err == "and here\n"
