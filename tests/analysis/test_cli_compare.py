"""`gazelab compare` and `gazelab align` from the command line (thin verbs over compare / align)."""

import pandas as pd
from click.testing import CliRunner

from gazelab.cli import cli


def test_compare_command_writes_the_report(scene_h5, tmp_path):
    out = tmp_path / "report"
    args = ["compare", str(scene_h5), "--model", "resnet18", "--method", "gradcam", "--input-size", "64", "64"]
    r = CliRunner().invoke(cli, [*args, "--out", str(out), "--bootstrap", "200"])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "per_stimulus.csv")
    assert len(table) == 6 and "model_cc" in table
    assert (out / "summary.csv").is_file()
    bad = CliRunner().invoke(cli, ["compare", str(scene_h5), "--model", "resnet9000", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "resnet9000" in bad.output


def test_align_command_trains_logs_and_resumes(scene_h5, tmp_path):
    out = tmp_path / "run"
    base = ["align", str(scene_h5), "--model", "resnet18", "--attention", "spatial", "--labels", "teacher"]
    base += ["--input-size", "48", "--batch-size", "4", "--out", str(out)]
    r = CliRunner().invoke(cli, [*base, "--epochs", "1"])
    assert r.exit_code == 0, r.output
    assert "val_cc" in r.output and len(pd.read_csv(out / "metrics.csv")) == 2
    again = CliRunner().invoke(cli, [*base, "--epochs", "1"])
    assert again.exit_code == 1 and "--resume" in again.output
    more = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume"])
    assert more.exit_code == 0, more.output
    assert len(pd.read_csv(out / "metrics.csv")) == 3
