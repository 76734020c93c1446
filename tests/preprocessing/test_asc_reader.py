"""The EyeLink ASC reader: every branch on real files and on small crafted edge cases."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gazelab.errors import ParseError
from gazelab.preprocessing import read, read_asc
from tests.conftest import HEADER, block, read_quietly

# file -> (samples, eyes, rate Hz, screen px, blocks, trials, EFIX count); sample counts are the
# number of sample lines (pymovements reports the same; see benchmarks/bench_asc.py)
REAL = {
    "220682rr01.asc.gz": (211050, ("L", "R"), 250.0, (1920, 1080), 1, 112, 1725),
    "bino250.asc.gz": (910, ("L", "R"), 250.0, (1024, 768), 4, 4, 18),
    "bino500.asc.gz": (1745, ("L", "R"), 500.0, (1024, 768), 4, 4, 19),
    "binoRemote250.asc.gz": (5125, ("L", "R"), 250.0, (1024, 768), 4, 4, 8),
    "mono250.asc.gz": (914, ("L",), 250.0, (1024, 768), 4, 4, 9),
    "mono500.asc.gz": (1834, ("L",), 500.0, (1024, 768), 4, 4, 12),
    "mono1000.asc.gz": (3619, ("R",), 1000.0, (1024, 768), 4, 4, 10),
    "mono2000.asc.gz": (8976, ("R",), 2000.0, (1024, 768), 4, 4, 13),
    "monoRemote250.asc.gz": (5129, ("L",), 250.0, (1024, 768), 4, 4, 4),
    "pm_eyelink_monocular_example.asc": (16, ("L",), 1000.0, (1280, 1024), 1, 5, 2),
    "pm_eyelink_monocular_2khz_example.asc": (16, ("L",), 2000.0, (1280, 1024), 1, 5, 2),
    "pm_eyelink_monocular_no_dummy_example.asc": (297, ("L",), 500.0, (1920, 1080), 1, 1, 2),
    "pm_eyelink_binocular_example.asc": (368, ("L", "R"), 1000.0, (1920, 1080), 1, 1, 4),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files(eyelink_dir, name):
    n, eyes, rate, screen, n_blocks, n_trials, n_efix = REAL[name]
    rec = read_quietly(eyelink_dir / name)
    assert rec.n_samples == n
    assert rec.eyes == eyes
    assert rec.sampling_rate_hz == rate
    assert rec.screen_px == screen
    assert len(rec.blocks) == n_blocks
    assert len(rec.trials) == n_trials
    assert int((rec.events["type"] == "fixation").sum()) == n_efix
    assert rec.blocks["n_samples"].sum() == n
    # sample times never go backwards within a block
    t = rec.samples["time_ms"].to_numpy()
    same_block = rec.samples["block"].to_numpy()[1:] == rec.samples["block"].to_numpy()[:-1]
    assert (np.diff(t)[same_block] > 0).all()
    for eye in eyes:
        col = rec.samples[f"x_{'left' if eye == 'L' else 'right'}_px"]
        assert col.dtype == np.float64
    # every tracker event's times are the file's own sample times (or between them)
    fx = rec.events[rec.events["type"] == "fixation"]
    np.testing.assert_array_equal(fx["onset_ms"] <= fx["offset_ms"], True)


def test_plain_and_gz_give_the_same_recording(eyelink_dir, tmp_path):
    plain = tmp_path / "mono500.asc"
    plain.write_bytes(gzip.decompress((eyelink_dir / "mono500.asc.gz").read_bytes()))
    a, b = read_asc(plain), read_asc(eyelink_dir / "mono500.asc.gz")
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.messages, b.messages)


def test_big_binocular_file_details(eyelink_dir):
    rec = read_asc(eyelink_dir / "220682rr01.asc.gz")
    s = rec.samples
    assert list(s.columns[:3]) == ["time_ms", "block", "trial"]
    assert {"x_left_px", "y_left_px", "pupil_left", "x_right_px", "input", "flags"} <= set(s.columns)
    # the first samples are missing ('.') and read as NaN, pupil 0.0
    assert np.isnan(s["x_left_px"].iloc[0]) and s["pupil_left"].iloc[0] == 0.0
    assert s["input"].iloc[0] == 127.0 and s["flags"].iloc[0] == ".C.C."
    assert (rec.events["type"] == "blink").sum() == 517
    sacc = rec.events[rec.events["type"] == "saccade"]
    assert sacc["amplitude_deg"].notna().any() and sacc["peak_velocity_deg_s"].max() > 100
    # trials: TRIALID ... next TRIALID (this E-Prime file ends trials with "TRIAL OK")
    assert rec.trials["trial_id"].iloc[0].startswith("1 ")
    assert rec.samples["trial"].notna().mean() > 0.9
    assert rec.metadata["pupil"] == "area"
    assert rec.metadata["tracker"] == "EYELINK CL"


def test_message_offsets_and_trial_variables(eyelink_dir):
    rec = read_asc(eyelink_dir / "mono500.asc.gz")
    m = rec.messages
    # 'MSG 7196804 -11 !V DRAW_LIST ...': the event happened at 7196804 - (-11)
    row = m[m["line"] == 135].iloc[0]
    assert row["offset_ms"] == -11 and row["time_ms"] == 7196815
    assert row["text"].startswith("!V DRAW_LIST")
    tr = rec.trials
    assert list(tr["trial_id"]) == ["0", "1", "2", "3"]
    assert list(tr["result"]) == ["0"] * 4
    assert {"trial", "direction", "gap_duration", "t_x", "t_y"} - {"trial"} <= set(tr.columns)
    assert "var_trial" in tr.columns  # the TRIAL_VAR 'trial' clashes with our column name
    assert tr["var_trial"].tolist()[:2] == [5, 1]
    assert tr["direction"].tolist()[:2] == ["Right", "Left"]
    # calibration reports: indented continuation lines join the message before them
    cal = m[m["text"].str.contains("Cal coeff", regex=False)]
    assert len(cal) >= 1 and "\n" in cal["text"].iloc[0]


def test_remote_mode_htarget_columns(eyelink_dir):
    rec = read_asc(eyelink_dir / "monoRemote250.asc.gz")
    s = rec.samples
    assert {"target_x", "target_y", "target_distance_mm", "target_flags"} <= set(s.columns)
    assert s["target_distance_mm"].iloc[0] == pytest.approx(611.2)
    assert len(s["target_flags"].iloc[0]) == 13


def test_remote_binocular_header_without_htarget_columns_warns(eyelink_dir):
    with pytest.warns(UserWarning, match="HTARGET"):
        rec = read_asc(eyelink_dir / "binoRemote250.asc.gz")
    assert "target_x" not in rec.samples.columns
    assert rec.n_samples == 5125


def test_2khz_integer_timestamps_are_rebuilt(eyelink_dir):
    rec = read_asc(eyelink_dir / "mono2000.asc.gz")
    assert rec.metadata["timestamps_rebuilt"] is True
    t = rec.samples["time_ms"].to_numpy()
    d = np.diff(t)[rec.samples["block"].to_numpy()[1:] == rec.samples["block"].to_numpy()[:-1]]
    assert set(np.round(d, 6)) == {0.5}
    # float timestamps (edf2asc -ftime) are kept as they are
    rec = read_asc(eyelink_dir / "pm_eyelink_monocular_2khz_example.asc")
    assert rec.metadata["timestamps_rebuilt"] is False
    assert rec.samples["time_ms"].iloc[0] == 2154556.5


def test_missing_end_line_warns_or_fails_in_strict_mode(eyelink_dir):
    path = eyelink_dir / "pm_eyelink_monocular_no_dummy_example.asc"
    with pytest.warns(UserWarning, match="no END line"):
        rec = read_asc(path)
    assert rec.metadata["truncated"] is True and rec.n_samples == 297
    with pytest.raises(ParseError, match=r"no END line.*truncated"):
        read_asc(path, strict=True)


def test_gaze_coords_size_convention(eyelink_dir):
    # this file has no DISPLAY_COORDS, only 'GAZE_COORDS 0.00 0.00 1920.00 1080.00'
    rec = read_asc(eyelink_dir / "pm_eyelink_binocular_example.asc")
    assert rec.screen_px == (1920, 1080)


# ---- crafted edge cases --------------------------------------------------------------------


def _bino_vel_res_input() -> str:
    return (
        HEADER
        + "MSG\t1000 TRIALID 7\n"
        + "MSG\t1001 !V IMGLOAD CENTER images/cat.png 512 384 640 480\n"
        + block("LEFT RIGHT", 500.0, "\tVEL\tRES")[:-1]
        + "\tINPUT\n"
        + "1000\t 512.0\t 384.0\t 1000.0\t 515.0\t 380.0\t  990.0\t   1.5\t  -2.0\t   1.1\t  -0.5\t  38.0\t  38.5\t 127.0\t.....\n"
        + "1002\t   .\t   .\t    0.0\t 515.5\t 380.5\t  991.0\t     .\t     .\t   1.0\t  -0.4\t  38.0\t  38.5\t 127.0\t.C...\n"
        + "SFIX R 1004\n"
        + "1004\t 513.0\t 385.0\t 1001.0\t 516.0\t 381.0\t  992.0\t   1.4\t  -1.9\t   1.0\t  -0.3\t  38.1\t  38.6\t 255.0\t.....\n"
        + "EFIX R 1000\t1004\t6\t 515.8\t 380.8\t  991\t  38.1\t  38.6\n"
        + "ESACC L 1000\t1004\t6\t 512.0\t 384.0\t 513.0\t 385.0\t   0.04\t     22\t  38.1\t  38.6\n"
        + "EBLINK L 1002\t1002\t2\n"
        + "INPUT\t1004\t255\n"
        + "END\t1005 \tSAMPLES\tEVENTS\tRES\t  38.00\t  38.50\n"
        + "MSG\t1006 !V TRIAL_VAR condition faces\n"
        + "MSG\t1007 TRIAL_RESULT 1\n"
    )


def test_binocular_with_velocity_resolution_and_input(make_asc):
    rec = read_asc(make_asc(_bino_vel_res_input()))
    s = rec.samples
    expected = [
        "time_ms",
        "block",
        "trial",
        "x_left_px",
        "y_left_px",
        "pupil_left",
        "x_right_px",
        "y_right_px",
        "pupil_right",
        "xvel_left_deg_s",
        "yvel_left_deg_s",
        "xvel_right_deg_s",
        "yvel_right_deg_s",
        "xres_px_per_deg",
        "yres_px_per_deg",
        "input",
        "flags",
    ]
    assert list(s.columns) == expected
    assert s["xvel_right_deg_s"].tolist() == [1.1, 1.0, 1.0]
    assert np.isnan(s["x_left_px"].iloc[1]) and np.isnan(s["xvel_left_deg_s"].iloc[1])
    assert s["input"].tolist() == [127.0, 127.0, 255.0]
    ev = rec.events.set_index("type")
    assert ev.loc["fixation", "eye"] == "R" and ev.loc["fixation", "xres_px_per_deg"] == 38.1
    assert ev.loc["saccade", "peak_velocity_deg_s"] == 22 and ev.loc["saccade", "yres_px_per_deg"] == 38.6
    assert ev.loc["blink", "duration_ms"] == 2
    tr = rec.trials.iloc[0]
    assert tr["trial_id"] == "7" and tr["result"] == "1" and tr["condition"] == "faces"
    assert tr["image"] == "images/cat.png" and tr["image_position"] == "center"
    assert (tr["image_x_px"], tr["image_y_px"], tr["image_width_px"], tr["image_height_px"]) == (512, 384, 640, 480)
    assert rec.samples["trial"].tolist() == [1, 1, 1]
    assert rec.metadata["inputs"]["value"].tolist() == [255.0]
    assert rec.metadata["block_resolution_px_per_deg"] == [(38.0, 38.5)]


def test_crlf_line_endings_and_gzip(make_asc):
    text = _bino_vel_res_input().replace("\n", "\r\n")
    rec = read_asc(make_asc(text, gz=True))
    assert rec.n_samples == 3 and rec.samples["flags"].iloc[1] == ".C..."


def test_read_dispatches_on_suffix(make_asc):
    rec = read(make_asc(_bino_vel_res_input(), name="x.asc", gz=True))
    assert rec.format == "eyelink-asc"
    with pytest.raises(ParseError, match="unknown recording format"):
        read(make_asc("x", name="rec.idf"))
    with pytest.raises(ParseError, match="not an EyeLink EDF file"):  # .edf goes to read_edf
        read(make_asc("x", name="rec.edf"))


def _mono(samples: str, extra_lines: str = "", end: bool = True) -> str:
    return (
        HEADER
        + block("LEFT", 500.0)
        + samples
        + extra_lines
        + ("END\t2000 \tSAMPLES\tEVENTS\tRES\t 38.0\t 38.0\n" if end else "")
    )


GOOD = "1000\t 512.0\t 384.0\t 1000.0\t...\n1002\t 513.0\t 385.0\t 1001.0\t...\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (_mono(GOOD + "1004\t 512.0\t abc\t 1000.0\t...\n"), 17, "non-numeric sample field 'abc' in column y_left_px"),
        (_mono(GOOD + "1004\t 512.0\t 384.0\t...\n"), 17, "sample line has 4 fields; expected 5"),
        (_mono(GOOD + "1004\t 512.0\t 384.0\t 1.0\t 2.0\t...\n"), 17, "sample line has 6 fields; expected 5"),
        (_mono(GOOD, "FOO 1004 bar\n"), 17, "unknown line type 'FOO'"),
        (_mono(GOOD, "EFIX L 1000\n"), 17, "malformed EFIX line"),
        (_mono(GOOD) + "1004\t 512.0\t 384.0\t 1000.0\t...\n", 18, "sample line outside a START..END recording block"),
        (_mono(GOOD).replace("RATE\t 500.00", "RATE\t  -5.00"), 14, "sampling rate -5.0 Hz"),
        (HEADER + "START\t1000 \tLEFT\tSAMPLES\tEVENTS\n" + GOOD + "END\t2000\n", 9, "no SAMPLES header line"),
    ],
)
def test_bad_input_names_file_and_line(make_asc, text, line, message):
    path = make_asc(text)
    with pytest.raises(ParseError) as err:
        read_asc(path)
    assert err.value.line == line
    assert message in str(err.value)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value)


def test_truncated_last_line_is_an_error(make_asc):
    text = _mono(GOOD + "1004\t 512.0\t 38", end=False)
    with pytest.raises(ParseError, match="line 17: sample line has 3 fields"):
        read_asc(make_asc(text))


def test_truncated_gzip_is_an_error(make_asc, tmp_path):
    data = gzip.compress(_mono(GOOD * 200).encode())
    path = tmp_path / "cut.asc.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="gzip stream ends early"):
        read_asc(path)


def test_no_samples_empty_file_and_missing_file(make_asc, tmp_path):
    with pytest.raises(ParseError, match="no sample lines found"):
        read_asc(make_asc(HEADER + "MSG\t1000 hello\n"))
    with pytest.raises(ParseError, match="empty"):
        read_asc(make_asc("\n\n", name="empty.asc"))
    with pytest.raises(ParseError, match="no such file"):
        read_asc(tmp_path / "nope.asc")


def test_message_parsing_details(make_asc):
    text = _mono(
        GOOD,
        "MSG\t1003 -12 Target_display\nMSG\t1003 12 3 4\nMSG\t1003.5 SYNCTIME\nMSG\t1004\n"
        ">>>>>>> CALIBRATION (HV9,P-CR) FOR LEFT: <<<<<<<<<\n"
        "MSG\t1004 !CAL Calibration points:\n\t  -63     7   -44     4\n  132.75 -13.0\n",
    )
    m = read_asc(make_asc(text)).messages
    got = list(zip(m["time_ms"], m["offset_ms"], m["text"], strict=True))
    assert got[1] == (1015.0, -12.0, "Target_display")
    assert got[2] == (991.0, 12.0, "3 4")
    assert got[3] == (1003.5, 0.0, "SYNCTIME")
    assert got[4] == (1004.0, 0.0, ">>>>>>> CALIBRATION (HV9,P-CR) FOR LEFT: <<<<<<<<<")
    assert got[5][2] == "!CAL Calibration points:\n-63     7   -44     4\n132.75 -13.0"


def test_several_blocks_with_different_layouts(make_asc):
    text = (
        HEADER
        + block("LEFT", 500.0, start=1000)
        + GOOD
        + "END\t1004 \tSAMPLES\tEVENTS\tRES\t 38.0\t 38.0\n"
        + block("LEFT RIGHT", 500.0, start=3000)
        + "3000\t 1.0\t 2.0\t 3.0\t 4.0\t 5.0\t 6.0\t.....\n"
        + "END\t3002 \tSAMPLES\tEVENTS\tRES\t 38.0\t 38.0\n"
        + block("LEFT", 500.0, start=5000)
        + "5000\t 7.0\t 8.0\t 9.0\t...\n"
        + "END\t5002 \tSAMPLES\tEVENTS\tRES\t 38.0\t 38.0\n"
    )
    rec = read_asc(make_asc(text))
    s = rec.samples
    assert s["time_ms"].tolist() == [1000, 1002, 3000, 5000]
    assert s["block"].tolist() == [0, 0, 1, 2]
    assert s["x_left_px"].tolist() == [512.0, 513.0, 1.0, 7.0]
    assert np.isnan(s["x_right_px"].iloc[0]) and s["x_right_px"].iloc[2] == 4.0
    assert rec.blocks["eyes"].tolist() == ["L", "LR", "L"]
    assert rec.eyes == ("L", "R")
