"""The `gazelab` command, as lab staff use it."""

import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.cli import cli
from tests.conftest import HEADER, block

GEOM = ["--screen-cm", "53", "30", "--distance-cm", "60"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_help_is_readable():
    r = run("--help")
    assert r.exit_code == 0
    for word in ("fixations", "info", "demo", "--screen-cm"):
        assert word in r.output
    r = run("fixations", "--help")
    assert "onset_ms" in r.output and "ivt" in r.output and "eyelink" in r.output


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "gazelab", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("gazelab")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_fixations_on_the_big_real_file(eyelink_dir, tmp_path, suffix):
    out = tmp_path / f"fix{suffix}"
    r = run("fixations", eyelink_dir / "220682rr01.asc.gz", "--algorithm", "ivt", *GEOM, "--out", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    for col in ("eye", "onset_ms", "offset_ms", "duration_ms", "x_px", "y_px", "trial"):
        assert col in df.columns
    assert set(df["eye"]) == {"L", "R"} and len(df) > 1500
    assert f"wrote {len(df)} fixations" in r.output


@pytest.mark.parametrize("algorithm", ["ivt", "idt", "ek", "eyelink"])
def test_every_algorithm_on_every_real_file(eyelink_dir, tmp_path, algorithm):
    for path in sorted(eyelink_dir.iterdir()):
        out = tmp_path / f"{path.name}.{algorithm}.csv"
        extra = ["--screen-px", "1280", "1024"] if "monocular_example" in path.name or "2khz" in path.name else []
        r = run("fixations", path, "-a", algorithm, *GEOM, *extra, "--out", out)
        assert r.exit_code == 0, (path.name, r.output)
        assert out.exists()


def test_against_tracker_and_params(eyelink_dir):
    r = run(
        "fixations",
        eyelink_dir / "mono500.asc.gz",
        *GEOM,
        "-P",
        "velocity_threshold_deg_s=35",
        "-P",
        "acceleration_threshold_deg_s2=none",
        "--against-tracker",
    )
    assert r.exit_code == 0, r.output
    assert "matched_fraction" in r.output


def test_unreadable_file_one_line_nonzero_no_output(make_asc, tmp_path):
    bad = make_asc(HEADER + block("LEFT") + "1000\t 1.0\t 2.0\t 3.0\t...\n1002\t 1.0\t x\t 3.0\t...\nEND\t1004\n")
    out = tmp_path / "fix.csv"
    r = run("fixations", bad, *GEOM, "--out", out)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert str(bad) in lines[0] and "line 16" in lines[0] and "expected a number" in lines[0]
    assert not out.exists() and list(tmp_path.glob("*.part")) == []


def test_bad_options_fail_cleanly(make_asc, tmp_path):
    good = make_asc(HEADER + block("LEFT") + "1000\t 1.0\t 2.0\t 3.0\t...\nEND\t1004\n")
    r = run("fixations", good, *GEOM, "--out", tmp_path / "fix.xlsx")
    assert r.exit_code == 1 and "--out" in r.output and not (tmp_path / "fix.xlsx").exists()
    r = run("fixations", good, "--screen-cm", "0", "30", "--distance-cm", "60")
    assert r.exit_code == 1 and "width_cm" in r.output
    r = run("fixations", good, *GEOM, "-P", "nonsense")
    assert r.exit_code == 1 and "NAME=VALUE" in r.output
    no_screen = make_asc(
        HEADER.replace("MSG\t999 DISPLAY_COORDS 0 0 1023 767\n", "")
        + block("LEFT")
        + "1000\t 1.0\t 2.0\t 3.0\t...\nEND\t1004\n",
        name="noscreen.asc",
    )
    r = run("fixations", no_screen, *GEOM)
    assert r.exit_code == 1 and "--screen-px" in r.output


def test_info(eyelink_dir):
    r = run("info", eyelink_dir / "bino500.asc.gz")
    assert r.exit_code == 0 and "500.0" in r.output and "LR" in r.output
