"""Exporters: gazelab HDF5 datasets out to the layouts the field already uses, one module each."""

from gazelab.datasets.exporters.bids import export_bids, export_bids_dataset, export_bids_session
from gazelab.datasets.exporters.folder import export_folder
from gazelab.datasets.exporters.huggingface import export_huggingface
from gazelab.datasets.exporters.pysaliency import export_pysaliency

__all__ = [
    "export_bids",
    "export_bids_dataset",
    "export_bids_session",
    "export_folder",
    "export_huggingface",
    "export_pysaliency",
]
