"""Importers: public saliency-dataset layouts into gazelab HDF5, one module per layout.

Each module registers a function ``import_x(source, out, **options) -> BuildReport`` with
``@register_importer("name")``; ``gazelab import NAME SOURCE --out FILE`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gazelab.errors import ParameterError

__all__ = ["available_importers", "get_importer", "register_importer"]

_IMPORTERS: dict[str, Callable[..., Any]] = {}


def register_importer(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an importer under ``name`` (a decorator); duplicate names are refused."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _IMPORTERS:
            raise ValueError(f"an importer is already registered under the name {name!r}")
        _IMPORTERS[name] = func
        return func

    return deco


def available_importers() -> list[str]:
    """Names of the registered importers, sorted."""
    return sorted(_IMPORTERS)


def get_importer(name: str) -> Callable[..., Any]:
    """The importer registered under ``name``."""
    if name not in _IMPORTERS:
        raise ParameterError("importer", name, f"one of {available_importers()}")
    return _IMPORTERS[name]


from gazelab.datasets.importers import cat2000, mit1003, nus_scene, salicon  # noqa: E402,F401  (register)
