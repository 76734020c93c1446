"""Exceptions raised for problems a user can cause (bad files, bad parameters).

Every message names the offending file, line, field or value and what was expected, so the
command-line interface can print it as one line and exit non-zero.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GazelabError", "ParameterError", "ParseError"]


class GazelabError(Exception):
    """Base class of all errors gazelab raises for user-caused problems."""


class ParameterError(GazelabError, ValueError):
    """A parameter has a value outside what is allowed.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : object
        The value that was given.
    expected : str
        What is allowed, in words (e.g. ``"a number > 0 (cm)"``).
    """

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"invalid value for {name!s}: {value!r}; expected {expected}")


class ParseError(GazelabError):
    """A file could not be read.

    Parameters
    ----------
    path : str or Path
        The file.
    message : str
        What was wrong and what was expected.
    line : int, optional
        1-based line number in the (decompressed) file, when known.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")
