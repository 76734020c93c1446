import numpy as np
import pytest

from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing import read, read_tabular


def test_binocular_seconds_with_trials(tmp_path):
    p = tmp_path / "export.tsv"
    p.write_text(
        "t\tlx\tly\trx\try\ttrial\n0.000\t100\t200\t101\t201\t1\n0.004\t\t\t102\t202\t1\n0.008\t103\t203\tNA\tNA\t2\n"
    )
    cols = {"time": "t", "x_left": "lx", "y_left": "ly", "x_right": "rx", "y_right": "ry", "trial": "trial"}
    rec = read(p, columns=cols, time_unit="s")
    assert rec.format == "tabular" and rec.eyes == ("L", "R")
    assert rec.samples["time_ms"].tolist() == pytest.approx([0, 4, 8])
    assert rec.sampling_rate_hz == pytest.approx(250.0)
    assert np.isnan(rec.samples["x_left_px"].iloc[1]) and np.isnan(rec.samples["x_right_px"].iloc[2])
    assert rec.samples["trial"].tolist() == [1, 1, 2]
    assert rec.trials["trial_id"].tolist() == ["1", "2"]


def test_single_eye_normalized(tmp_path):
    p = tmp_path / "web.csv"
    p.write_text("ts,gx,gy\n1000,0.5,0.5\n1033,0.25,1.0\n")
    rec = read_tabular(
        p,
        columns={"time": "ts", "x": "gx", "y": "gy"},
        gaze_unit="normalized",
        screen_px=(1280, 720),
        eye="R",
        sampling_rate_hz=30.0,
    )
    assert rec.eyes == ("R",)
    assert rec.samples["x_right_px"].tolist() == [640.0, 320.0]
    assert rec.samples["y_right_px"].tolist() == [360.0, 720.0]
    assert rec.sampling_rate_hz == 30.0


def test_errors_name_column_and_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("time_ms,x_px,y_px\n0,1,2\n4,oops,2\n")
    with pytest.raises(ParseError, match=r"line 3: non-numeric value 'oops' in column 'x_px'"):
        read_tabular(p)
    p.write_text("time_ms,x_px\n0,1\n")
    with pytest.raises(ParseError, match=r"no column\(s\) \['y_px'\]"):
        read_tabular(p)
    p.write_text("time_ms,x_px,y_px\n8,1,2\n4,1,2\n")
    with pytest.raises(ParseError, match="line 3: time goes backwards"):
        read_tabular(p)
    with pytest.raises(ParameterError, match="time_unit"):
        read_tabular(p, time_unit="h")
    with pytest.raises(ParameterError, match="screen_px"):
        read_tabular(p, gaze_unit="normalized")
