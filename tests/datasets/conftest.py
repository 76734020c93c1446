"""Small real-format inputs for dataset builds: generated stimuli and simulated sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazelab.acquisition.simulated_observer import simulate_gaze, write_asc
from gazelab.geometry import Geometry

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
