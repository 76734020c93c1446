"""Shared fixtures: the real data folder (skipped cleanly when absent) and ASC file builders."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Callable
from pathlib import Path

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
