"""CLI habits: one meaning per short option, many recordings per fixations call, geometry from session.json."""

from collections import defaultdict

import click
import pandas as pd
from click.testing import CliRunner

from gazelab.cli import cli
from tests.datasets.test_bids import make_session_folder


def _commands(group, prefix=""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_each_short_option_has_one_meaning():
    meanings = defaultdict(set)
    for name, cmd in _commands(cli):
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            longs = [o for o in p.opts if o.startswith("--")]
            for short in (o for o in [*p.opts, *p.secondary_opts] if len(o) == 2):
                meanings[short].add((longs[0] if longs else short, name))
    clash = {s: m for s, m in meanings.items() if s not in ("-h",) and len({long for long, _ in m}) > 1}
    assert not clash, clash


def test_fixations_help_says_how_ivt_differs_from_pymovements():
    r = CliRunner().invoke(cli, ["fixations", "--help"])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "pymovements" in text and "Salvucci" in text and "20 deg/s" in text


def test_fixations_many_recordings_and_session_geometry(eyelink_dir, tmp_path):
    session = make_session_folder(tmp_path / "sessions")
    out = tmp_path / "fix.csv"
    # the session folder needs no geometry flags; the ASC file takes them from the flags
    r = CliRunner().invoke(cli, ["fixations", str(session), "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out)
    assert set(table["recording"]) == {str(session)} and len(table) > 0
    asc = eyelink_dir / "mono250.asc.gz"
    r = CliRunner().invoke(cli, ["fixations", str(session), str(asc), "--out", str(tmp_path / "both.csv")])
    assert r.exit_code == 1 and "--screen-cm" in r.output and str(asc) in r.output
    geometry = ["--screen-cm", "40", "30", "--distance-cm", "60"]
    r = CliRunner().invoke(cli, ["fixations", str(asc), str(session), *geometry, "--out", str(tmp_path / "both.csv")])
    assert r.exit_code == 0, r.output
    both = pd.read_csv(tmp_path / "both.csv")
    assert list(pd.unique(both["recording"])) == [str(asc), str(session)]
    assert both.columns[0] == "recording"
