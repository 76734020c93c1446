"""Shared fixtures: the real data folder (skipped cleanly when absent), ASC file builders, an X display."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
EYELINK = SHARED_DATA / "eyelink"

# Geometry assumed for the real recordings (their files do not state it; see SOURCES.md).
SCREEN_CM = {(1920, 1080): (53.0, 30.0), (1024, 768): (40.0, 30.0), (1280, 1024): (37.5, 30.0)}
DISTANCE_CM = 60.0


@pytest.fixture(scope="session")
def eyelink_dir() -> Path:
    if not EYELINK.is_dir():
        pytest.skip(f"real EyeLink recordings not available: {EYELINK} is absent")
    return EYELINK


def read_quietly(path: Path, **kwargs):  # type: ignore[no-untyped-def]
    """read_asc, collecting the data-quality warnings some real files raise."""
    from gazelab.preprocessing import read_asc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_asc(path, **kwargs)
    rec.metadata["_warnings"] = [str(w.message) for w in caught]
    return rec


def geometry_for(rec):  # type: ignore[no-untyped-def]
    from gazelab.geometry import Geometry

    w, h = rec.screen_px
    cm = SCREEN_CM[(w, h)]
    return Geometry(w, h, cm[0], cm[1], DISTANCE_CM)


HEADER = """** CONVERTED FROM test.edf using edfapi 4.2
** DATE: Wed Jan  1 00:00:00 2025
** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED
** VERSION: EYELINK II 1
** SOURCE: EYELINK CL
**

MSG\t999 DISPLAY_COORDS 0 0 1023 767
"""


def block(eyes: str = "LEFT", rate: float = 500.0, extra: str = "", start: int = 1000) -> str:
    return (
        f"START\t{start} \t{eyes.replace(' ', chr(9))}\tSAMPLES\tEVENTS\n"
        "PRESCALER\t1\nVPRESCALER\t1\nPUPIL\tAREA\n"
        f"EVENTS\tGAZE\t{eyes.replace(' ', chr(9))}\tRATE\t{rate:7.2f}\tTRACKING\tCR\tFILTER\t2\n"
        f"SAMPLES\tGAZE\t{eyes.replace(' ', chr(9))}{extra}\tRATE\t{rate:7.2f}\tTRACKING\tCR\tFILTER\t2\n"
    )


@pytest.fixture
def make_asc(tmp_path: Path) -> Callable[..., Path]:
    """Write an ASC text (optionally gzipped) into tmp_path and return its path."""

    def _make(text: str, name: str = "rec.asc", *, gz: bool = False) -> Path:
        path = tmp_path / (name + ".gz" if gz else name)
        data = text.encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return _make


# -- simulated recording sessions: their screen and session.json metadata --------------------------

#: The screen of the simulated sessions (1280 x 1024 px, 37.5 x 30 cm, at 60 cm), as session.json writes it.
SESSION_SCREEN = {"width_px": 1280, "height_px": 1024, "width_cm": 37.5, "height_cm": 30.0, "distance_cm": 60.0}


def session_geometry():  # type: ignore[no-untyped-def]
    """The :class:`~gazelab.geometry.Geometry` of :data:`SESSION_SCREEN`."""
    from gazelab.geometry import Geometry

    s = SESSION_SCREEN
    return Geometry(s["width_px"], s["height_px"], s["width_cm"], s["height_cm"], s["distance_cm"])


def session_meta(participant: str, session: str, *, sampling_rate_hz: float, tracker: str = "simulated") -> dict:
    """The metadata a :class:`~gazelab.acquisition.session.SessionWriter` takes, on :data:`SESSION_SCREEN`."""
    return {
        "participant": participant,
        "session": session,
        "tracker": tracker,
        "sampling_rate_hz": sampling_rate_hz,
        "screen": dict(SESSION_SCREEN),
    }


# -- a page rendered in headless Chromium (the dataset card, the demo report) -------------------------


@pytest.fixture(scope="session")
def render_page():  # type: ignore[no-untyped-def]
    """``render_page(html, screenshot)`` of tests/_chromium.py, or None when Chromium is not installed.

    Loaded by path: a ``tests`` package elsewhere on sys.path may shadow this folder.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("_gazelab_chromium", Path(__file__).with_name("_chromium.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.render_page if mod.chromium() is not None else None


# -- a tiny gaze dataset for the analysis tests: six generated scenes in the NUS scene layout ---------
# Each image has a bright square; the simulated observers look mostly at it (and a little at the
# centre), so a human map has structure to compare attention maps with.

SIZES = [(96, 128), (128, 96), (96, 96), (80, 120), (112, 112), (96, 128)]  # (height, width) px
N_OBSERVERS = 3


def make_scene_dataset(folder: Path, *, seed: int = 0) -> Path:
    """Write a NUS-scene-layout folder and import it; returns the .h5 path."""
    from PIL import Image
    from scipy.io import savemat

    from gazelab.datasets.importers import get_importer

    rng = np.random.default_rng(seed)
    stim = folder / "stimuli"
    stim.mkdir(parents=True, exist_ok=True)
    cells = np.empty((len(SIZES), N_OBSERVERS), dtype=object)
    for i, (h, w) in enumerate(SIZES):
        img = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        cy, cx = int(rng.integers(20, h - 20)), int(rng.integers(20, w - 20))
        img[cy - 10 : cy + 10, cx - 10 : cx + 10] = 255
        Image.fromarray(img).save(stim / f"{i + 1:03d}.jpg", quality=95)
        for o in range(N_OBSERVERS):
            n = 8
            on_target = rng.random(n) < 0.8
            y = np.where(on_target, cy + rng.normal(0, 4, n), h / 2 + rng.normal(0, 8, n))
            x = np.where(on_target, cx + rng.normal(0, 4, n), w / 2 + rng.normal(0, 8, n))
            rows = np.clip(y, 1, h) + 0.5  # MATLAB (row, col), 1-based
            cols = np.clip(x, 1, w) + 0.5
            onset = np.arange(n) * 0.3
            cells[i, o] = np.c_[np.clip(rows, 1, h), np.clip(cols, 1, w), onset, np.full(n, 0.25)]
    savemat(folder / "fixations.mat", {"fixations": cells})
    out = folder / "scene.h5"
    get_importer("nus-scene")(folder, out, sigma_px=6.0, progress=False)
    return out


@pytest.fixture(scope="session")
def scene_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_scene_dataset(tmp_path_factory.mktemp("scene"))


# -- an X display for the PsychoPy windows of the acquisition tests ----------------------------------


@pytest.fixture(scope="module")
def xvfb():
    """A private X display (Xvfb) for PsychoPy windows; skips when Xvfb or psychopy is missing."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb; .ci/run installs it)")
    pytest.importorskip("psychopy", reason="psychopy is installed by `make` (pip install --no-deps psychopy)")
    for n in range(90, 120):
        if not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def run_python(display: str, args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root on the X ``display``; output captured as text."""
    env = {**os.environ, "DISPLAY": display}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
