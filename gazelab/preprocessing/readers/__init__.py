"""Readers: one module per recording format, all returning a :class:`~gazelab.preprocessing.Recording`.

Adding a format is one new module here that decorates its reader with
``@register_reader("name", suffixes=(...))`` (or ``folder_marker=...`` for a folder format),
plus its import below.
"""

from gazelab.preprocessing.readers import gazepoint, pupil_labs, smi, tobii  # noqa: F401  (register the presets)
from gazelab.preprocessing.readers._registry import available_readers, read, register_reader
from gazelab.preprocessing.readers.asc import read_asc
from gazelab.preprocessing.readers.edf import read_edf
from gazelab.preprocessing.readers.iohub import read_iohub
from gazelab.preprocessing.readers.session import read_session
from gazelab.preprocessing.readers.tabular import available_presets, read_tabular

__all__ = [
    "available_presets",
    "available_readers",
    "read",
    "read_asc",
    "read_edf",
    "read_iohub",
    "read_session",
    "read_tabular",
    "register_reader",
]
