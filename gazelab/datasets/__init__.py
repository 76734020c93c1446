"""Datasets: the versioned gazelab HDF5 format (build, append, validate, release).

The layout lives in :mod:`gazelab.datasets.schema` and is described in ``docs/hdf5-format.md``.
PyTorch datasets over it arrive with the datasets issue; nothing here imports torch.
"""

from gazelab.datasets.manifest import describe, write_manifest
from gazelab.datasets.release import BuildReport, build_dataset, read_trial_table
from gazelab.datasets.schema import FORMAT_NAME, FORMAT_VERSION
from gazelab.datasets.validate import Problem, validate

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BuildReport",
    "Problem",
    "build_dataset",
    "describe",
    "read_trial_table",
    "validate",
    "write_manifest",
]
