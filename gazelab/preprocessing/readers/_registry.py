"""The reader registry: one module per format, registered by name and file suffix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gazelab.errors import ParameterError, ParseError

__all__ = ["ReaderSpec", "available_readers", "read", "register_reader"]


@dataclass(frozen=True)
class ReaderSpec:
    """A registered reader: its name, the file suffixes it claims, and the function."""

    name: str
    suffixes: tuple[str, ...]
    func: Callable[..., Any]
    folder_marker: str | None = None


_READERS: dict[str, ReaderSpec] = {}


def register_reader(
    name: str, *, suffixes: tuple[str, ...] = (), folder_marker: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a reader function under ``name`` (a decorator); duplicate names are refused.

    ``suffixes`` claim files by name; ``folder_marker`` claims folders holding that file.
    """

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _READERS:
            raise ValueError(f"a reader is already registered under the name {name!r}")
        _READERS[name] = ReaderSpec(name, tuple(s.lower() for s in suffixes), func, folder_marker)
        return func

    return deco


def available_readers() -> list[str]:
    """Names of the registered readers, sorted."""
    return sorted(_READERS)


def _by_suffix(path: Path) -> ReaderSpec | None:
    name = path.name.lower()
    best: ReaderSpec | None = None
    best_len = 0
    for spec in _READERS.values():
        for suf in spec.suffixes:
            if name.endswith(suf) and len(suf) > best_len:
                best, best_len = spec, len(suf)
    return best


def read(path: str | Path, *, format: str | None = None, **kwargs: Any) -> Any:
    """Read a gaze recording with the reader for its format.

    Parameters
    ----------
    path : str or Path
        The recording file.
    format : str, optional
        A registered reader name (see :func:`available_readers`); by default chosen from the
        file name's suffix.
    **kwargs
        Passed on to the reader.

    Returns
    -------
    Recording

    Raises
    ------
    ParameterError
        If ``format`` is not a registered reader.
    ParseError
        If no reader claims the file's suffix, or the reader cannot read the file.
    """
    if format is not None:
        if format not in _READERS:
            raise ParameterError("format", format, f"one of {available_readers()}")
        spec = _READERS[format]
    elif Path(path).is_dir():
        found = [r for r in _READERS.values() if r.folder_marker and (Path(path) / r.folder_marker).is_file()]
        if not found:
            markers = sorted(r.folder_marker for r in _READERS.values() if r.folder_marker)
            raise ParseError(path, f"a folder that is no recording; expected one holding {markers}")
        spec = found[0]
    else:
        spec = _by_suffix(Path(path))
        if spec is None:
            known = sorted({s for r in _READERS.values() for s in r.suffixes})
            raise ParseError(path, f"unknown recording format; expected a file ending in one of {known}")
    return spec.func(path, **kwargs)
