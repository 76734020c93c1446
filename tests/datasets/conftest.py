"""Small real-format inputs for dataset builds: generated stimuli and simulated sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gazelab.acquisition.simulated_observer import simulate_gaze, write_asc
from gazelab.geometry import Geometry

REPO = Path(__file__).resolve().parents[2]
G = Geometry(1280, 1024, 37.5, 30.0, 60.0)
# name -> (width, height, channels, on-screen scale)
STIMULI = {"beach.png": (640, 480, 3, 1.5), "forest.jpg": (400, 300, 3, 2.0), "face.png": (256, 256, 1, 3.0)}


def make_stimuli(folder: Path) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (w, h, c, _) in STIMULI.items():
        arr = rng.integers(0, 255, (h, w, c), dtype=np.uint8)
        Image.fromarray(arr[:, :, 0] if c == 1 else arr).save(folder / name)
    return folder


def make_session(path: Path, seed: int, *, imgload: bool = True, n_fix: int = 6) -> Path:
    rng = np.random.default_rng(seed)
    sims, messages = [], []
    for k, (name, (w, h, _, s)) in enumerate(STIMULI.items()):
        left, top = 640 - w * s / 2, 512 - h * s / 2
        targets = np.c_[
            rng.uniform(left + 20, left + w * s - 20, n_fix), rng.uniform(top + 20, top + h * s - 20, n_fix)
        ]
        sims.append(
            simulate_gaze(G, targets_px=targets, sampling_rate_hz=500.0, blink_probability=0.0, seed=seed * 10 + k)
        )
        messages.append(
            [f"!V IMGLOAD CENTER images/{name} 640 512 {int(w * s)} {int(h * s)}", f"!V TRIAL_VAR stimulus {name}"]
            if imgload
            else []
        )
    return write_asc(sims, path, messages=messages)


@pytest.fixture
def stimuli_dir(tmp_path: Path) -> Path:
    return make_stimuli(tmp_path / "stimuli")


@pytest.fixture
def sessions(tmp_path: Path) -> list[Path]:
    return [make_session(tmp_path / f"P0{i}.asc", seed=i) for i in range(1, 4)]


@dataclass(frozen=True)
class Peer:
    """A peer library an export test loads our files with, installed by ``make peers`` in a folder
    beside the repo (``default``) or where the environment variable ``env`` points."""

    package: str
    name: str
    env: str
    default: str

    @property
    def folder(self) -> Path:
        return Path(os.environ.get(self.env, REPO / self.default))

    def skip_unless_installed(self) -> None:
        if not (self.folder / self.package / "__init__.py").is_file():
            pytest.skip(f"{self.name} not installed in {self.folder} (see the test module's docstring)")

    def run(
        self, script: str, args: Sequence[Any], *, env: dict[str, str] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run ``script`` (``python -c``) with the peer's folder on PYTHONPATH; check that it succeeded
        and return the JSON object its last output line prints."""
        full_env = {**os.environ, "PYTHONPATH": str(self.folder), **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-c", script, *(str(a) for a in args)],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])


def check_refuses_overwrite_and_cli(export: Any, fmt: str, dataset: Path, out: Path, marker: str) -> None:
    """``export`` refuses to write over its own ``out``; ``gazelab export FMT`` writes ``marker`` into a new folder."""
    from click.testing import CliRunner

    from gazelab.cli import cli
    from gazelab.errors import ParameterError

    with pytest.raises(ParameterError, match="overwrite"):
        export(dataset, out)
    cli_out = out.parent / "cli"
    r = CliRunner().invoke(cli, ["export", fmt, str(dataset), "--out", str(cli_out)])
    assert r.exit_code == 0 and (cli_out / marker).exists(), r.output
