"""Datasets: the versioned gazelab HDF5 format (build, append, import, validate, release) and
PyTorch datasets over it.

The layout lives in :mod:`gazelab.datasets.schema` and is described in ``docs/hdf5-format.md``.
``GazeDataset``, ``make_splits``, ``collate_gaze`` and ``Split`` need torch (the ``torch``
extra) and are imported on first use, so ``import gazelab.datasets`` works without it.
"""

from typing import Any

from gazelab.datasets.manifest import describe, write_manifest
from gazelab.datasets.release import BuildReport, build_dataset, read_trial_table
from gazelab.datasets.schema import FORMAT_NAME, FORMAT_VERSION
from gazelab.datasets.validate import Problem, validate

_TORCH_NAMES = {"GazeDataset", "GazeClipDataset", "make_splits", "collate_gaze", "Split", "TARGETS"}


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from gazelab.datasets import gaze_dataset

        return getattr(gaze_dataset, name)
    raise AttributeError(f"module 'gazelab.datasets' has no attribute {name!r}")


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BuildReport",
    "GazeClipDataset",
    "GazeDataset",
    "Problem",
    "Split",
    "build_dataset",
    "collate_gaze",
    "describe",
    "make_splits",
    "read_trial_table",
    "validate",
    "write_manifest",
]
