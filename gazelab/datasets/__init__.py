"""Datasets: the versioned HDF5 release format and PyTorch datasets over it (upcoming issues)."""

__all__: list[str] = []
