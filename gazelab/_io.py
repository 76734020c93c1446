"""Small file helpers shared by every stage: atomic writes and table output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from gazelab.errors import ParameterError

__all__ = ["TABLE_SUFFIXES", "atomic_path", "write_table"]

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
