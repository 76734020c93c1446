"""Small file helpers shared by every stage: atomic writes and table output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from gazelab.errors import ParameterError

__all__ = ["TABLE_SUFFIXES", "atomic_path", "check_output", "safe_name", "write_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    An exception (or a crash) leaves no file at ``path`` (an existing one is untouched) and
    removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with tmp_path.open("rb") as fh:  # on disk before it gets the final name
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _writer(path: Path) -> Callable[[pd.DataFrame, Path], None]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return lambda df, p: df.to_csv(p, index=False)
    if suffix == ".tsv":
        return lambda df, p: df.to_csv(p, index=False, sep="\t")
    if suffix == ".parquet":
        return lambda df, p: df.to_parquet(p, index=False)
    raise ParameterError("out", str(path), f"a file name ending in one of {list(TABLE_SUFFIXES)}")


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV, TSV or Parquet (chosen by suffix), atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or Path
        Output file ending in ``.csv``, ``.tsv`` or ``.parquet``.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ParameterError
        For an unsupported suffix (nothing is written).
    """
    path = Path(path)
    write = _writer(path)
    with atomic_path(path) as tmp:
        write(df, tmp)
    return path


def sha256_path(path: str | Path) -> str:
    """sha256 of a file's bytes; for a folder, of its files' names and bytes in name order."""
    import hashlib

    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\x00")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def check_output(path: str | Path, *, overwrite: bool = False, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Check that ``path`` may be written: it is none of ``inputs`` and exists only with ``overwrite``.

    The one rule of every writer (MNE's convention): an existing output is replaced only when the
    caller says ``overwrite=True`` (``--overwrite`` at the command line), and then only once the
    new file is complete (write through :func:`atomic_path`); an input is never an output.

    Parameters
    ----------
    path : str or Path
        The output file or folder.
    overwrite : bool
        Allow replacing an existing output.
    inputs : tuple of str or Path
        The files or folders the command reads.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ParameterError
        When ``path`` is one of ``inputs``, or exists and ``overwrite`` is False.
    """
    path = Path(path)
    target = path.resolve()
    for item in inputs:
        if Path(item).resolve() == target:
            raise ParameterError("out", str(path), "a path other than the input it is read from")
    if path.exists() and not overwrite:
        raise ParameterError("out", str(path), "a path that does not exist yet (or pass --overwrite to replace it)")
    return path


def safe_name(name: str, what: str = "name") -> str:
    """Reduce a name read from a file (a stimulus, an id) to a safe relative path, or refuse it.

    Backslashes count as separators; empty parts and ``.`` are dropped. Absolute paths, drive
    letters, ``..`` parts, control characters and NUL bytes are refused, so the result joined
    onto a folder always stays inside it.

    Parameters
    ----------
    name : str
        The name as stored.
    what : str
        What the name is, for the error message (e.g. ``"stimulus file_name"``).

    Returns
    -------
    str
        The name with ``/`` separators.

    Raises
    ------
    ParameterError
        For a name that would leave the folder it is joined to, or is empty.

    Examples
    --------
    >>> safe_name("images/a.png")
    'images/a.png'
    >>> safe_name("a/../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gazelab.errors.ParameterError: invalid value for name: 'a/../../etc/passwd'; expected a relative name ...
    """
    text = str(name)
    expected = "a relative name without '..', a drive or a leading '/'"
    if any(ord(c) < 32 for c in text) or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise ParameterError(what, text, expected)
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ParameterError(what, text, expected)
    return "/".join(parts)
