"""Registry of fixation detectors: one module each, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["available_detectors", "get_detector", "register_detector"]

_DETECTORS: dict[str, Callable[..., Any]] = {}


def register_detector(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a detector under ``name`` (a decorator); duplicate names are refused.

    A detector is called as ``func(signal, **params)`` with an
    :class:`~gazelab.preprocessing.detection.EyeSignal` and returns a fixation table
    (see :func:`~gazelab.preprocessing.detection.fixation_table`).
    """

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _DETECTORS:
            raise ValueError(f"a detector is already registered under the name {name!r}")
        _DETECTORS[name] = func
        return func

    return deco


def available_detectors() -> list[str]:
    """Names of the registered detectors, sorted."""
    return sorted(_DETECTORS)


def get_detector(name: str) -> Callable[..., Any]:
    """The detector registered under ``name``."""
    from gazelab.errors import ParameterError

    if name not in _DETECTORS:
        raise ParameterError("algorithm", name, f"one of {available_detectors()}")
    return _DETECTORS[name]
