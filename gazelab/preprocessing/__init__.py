"""Preprocessing: recordings to clean samples to fixations (and, later, maps).

The stage after acquisition: readers return a :class:`Recording`; cleaning and velocity work on
its arrays; detectors return a fixation table of fixed columns.
"""

from gazelab.preprocessing.detection import FIXATION_COLUMNS, agreement, available_detectors, detect_fixations
from gazelab.preprocessing.readers import available_readers, read, read_asc, read_edf, read_iohub, read_tabular
from gazelab.preprocessing.recording import Recording

__all__ = [
    "FIXATION_COLUMNS",
    "Recording",
    "agreement",
    "available_detectors",
    "available_readers",
    "detect_fixations",
    "read",
    "read_asc",
    "read_edf",
    "read_iohub",
    "read_tabular",
]
