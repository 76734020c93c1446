"""Fixtures of the preprocessing tests: the real EDF files eyelinkio's wheel ships."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def edf_dir() -> Path:
    """eyelinkio's folder of real EDF recordings (skips when eyelinkio or its test files are absent)."""
    eyelinkio = pytest.importorskip("eyelinkio", reason="eyelinkio (gazelab's 'edf' extra) is not installed")
    folder = Path(eyelinkio.__file__).parent / "tests" / "data"
    if not (folder / "test_raw.edf").is_file():
        pytest.skip(f"eyelinkio's test recordings are not in {folder}")
    return folder
