"""Helpers of the hostile-input suite: the CLI in process, one-line error checks, folder snapshots.

Every case asserts the exit code, the one-line message, that nothing outside the output changed
(a snapshot of the whole test folder before and after), and that no input was lost.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner, Result

from tests.conftest import HEADER, block

KW = {"screen_cm": (37.5, 30.0), "distance_cm": 60.0}
CLI_GEOMETRY = ["--screen-cm", "37.5", "30", "--distance-cm", "60"]


def gazelab(*args: object) -> Result:
    """Run ``gazelab ARGS`` in this process (exceptions caught, so a traceback shows as one)."""
    from gazelab.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def assert_one_line(result: Result, *fragments: str, code: int = 1) -> str:
    """Exit ``code``; stderr holds exactly one error line (warnings aside) holding every fragment."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of one line: {result.exception!r}\n{result.output}"
    )
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("Warning:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("Error:", "Interrupted")), lines[0]
    assert "Traceback" not in result.output
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, object]:
    """Every file (bytes hash, mode) and folder under ``root``, except those under ``skip``."""
    out: dict[str, object] = {}
    for p in sorted(Path(root).rglob("*")):
        if any(p == s or s in p.parents for s in skip):
            continue
        key = str(p.relative_to(root))
        if p.is_symlink():
            out[key] = ("link", str(p.readlink()))
        elif p.is_file():
            out[key] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
        elif p.is_dir():
            out[key] = "dir"
        else:
            out[key] = "special"
    return out


def rewrite_checksums(f: h5py.File) -> None:
    """Recompute /checksums after tampering, so only the planted problem remains."""
    from gazelab.datasets.release import _write_checksums

    del f["checksums"]
    _write_checksums(f)


def asc_text(samples: str, *, rate: float = 500.0, messages: str = "", header: str = HEADER) -> str:
    """A one-block monocular ASC text around ``samples`` (lines 'time x y pupil flags')."""
    return header + messages + block(rate=rate) + samples + "END\t99999 \tSAMPLES\tEVENTS\tRES\t38.0\t38.0\n"


def good_samples(n: int = 50, t0: int = 1000, step: int = 2) -> str:
    return "".join(f"{t0 + i * step}\t{500 + i % 7}.0\t{380 + i % 5}.0\t1000.0\t...\n" for i in range(n))


@pytest.fixture(scope="session")
def good_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid dataset (one simulated session, three stimuli), built once."""
    from gazelab.datasets import build_dataset
    from tests.datasets.conftest import make_session, make_stimuli

    root = tmp_path_factory.mktemp("good")
    stim = make_stimuli(root / "stimuli")
    rec = make_session(root / "P01.asc", seed=1)
    out = root / "good.h5"
    build_dataset([rec], out, stimuli_dir=stim, progress=False, **KW)
    return out


@pytest.fixture
def dataset(good_h5: Path, tmp_path: Path) -> Path:
    """A fresh copy of the good dataset in this test's folder."""
    return Path(shutil.copy(good_h5, tmp_path / "data.h5"))


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside every output, that no command may read into an output or change."""
    p = tmp_path / "outside" / "secret.txt"
    p.parent.mkdir()
    p.write_bytes(b"SECRET-" + np.arange(64, dtype=np.uint8).tobytes())
    return p
