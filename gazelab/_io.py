"""Small file helpers shared by every stage: atomic writes and table output."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from gazelab.errors import ParameterError, ParseError

MAX_YAML_BYTES = 1 << 20
"""Largest YAML file read (bytes): 1 MiB, far above any experiment or release file."""
MAX_YAML_NODES = 100_000
"""Most values a YAML document may expand to, aliases expanded (an alias bomb expands to billions)."""

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_folder",
    "atomic_path",
    "check_interrupt",
    "check_output",
    "inside",
    "read_yaml",
    "remove_stale_parts",
    "remove_stale_parts_in",
    "safe_name",
    "write_table",
]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.part$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_parts(path: str | Path) -> list[Path]:
    """Remove the temporary ``.part`` files a killed writer of ``path`` left beside it.

    A ``.part`` file is stale when the process that wrote it (its id is in the name) is gone;
    one of a running writer is kept. A ``.part`` file is never read as data.

    Parameters
    ----------
    path : str or Path
        The output file (or folder) whose leftovers to remove.

    Returns
    -------
    list of Path
        The files removed.
    """
    path = Path(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for cand in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        m = _PART.match(cand.name)
        if m is None or m["name"] != path.name or _pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            if cand.is_dir():
                import shutil

                shutil.rmtree(cand)
            else:
                cand.unlink()
            removed.append(cand)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def remove_stale_parts_in(folder: str | Path) -> list[Path]:
    """Remove every stale ``.part`` file (or folder) directly inside ``folder`` (what ``gazelab recover`` does).

    Those with a writer's process id in their name are removed when that process is gone;
    those without one (older gazelab versions) always.
    """
    import shutil

    removed: list[Path] = []
    for cand in Path(folder).glob(".*.part"):
        m = _PART.match(cand.name)
        if m is not None and _pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError, PermissionError):
            shutil.rmtree(cand) if cand.is_dir() and not cand.is_symlink() else cand.unlink()
            removed.append(cand)
    return removed


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[list[int]]:
    """Record Ctrl-C (and still raise KeyboardInterrupt) while a file is written.

    Libraries that call Python back from C (h5py's visitors) can swallow the KeyboardInterrupt;
    the flag lets the writer refuse to put a file in place after an interrupt anyway.
    """
    hits: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield hits
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN or previous is None:  # Ctrl-C ignored (nohup) or set outside Python
        yield hits
        return

    def handler(signum: int, frame: object) -> None:
        hits.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    _ACTIVE.append(hits)
    try:
        yield hits
    finally:
        _ACTIVE.remove(hits)
        signal.signal(signal.SIGINT, previous)


_ACTIVE: list[list[int]] = []  # the interrupt flags of the writes in progress


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came during a write in progress (even if a library swallowed it).

    Long writers call it between steps, so an interrupt stops them promptly.
    """
    if any(_ACTIVE):
        raise KeyboardInterrupt


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    An exception (or a crash) leaves no file at ``path`` (an existing one is untouched) and
    removes the temporary file. A Ctrl-C during the block replaces nothing, even where a library
    swallowed the KeyboardInterrupt. Temporary files of earlier, killed writers of ``path`` are
    removed first (:func:`remove_stale_parts`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with _interrupt_flag() as interrupted:
            yield tmp_path
            if interrupted:
                raise KeyboardInterrupt
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


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Like :func:`atomic_path` for a folder: fill the yielded folder; it replaces ``path`` only if the block succeeds.

    An existing ``path`` (checked by the caller with :func:`check_output`) stays untouched until
    the new folder is complete, and is then removed.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        with _interrupt_flag() as interrupted:
            yield tmp
            if interrupted:
                raise KeyboardInterrupt
            old: Path | None = None
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
            elif path.exists() or path.is_symlink():
                old = path.with_name(f".{path.name}.{os.getpid()}.old.part")
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
        item = Path(item)
        same = item.resolve() == target
        if not same and item.exists() and path.exists():
            same = os.path.samefile(item, path)  # a hard link or another name of the input
        if same:
            raise ParameterError("out", str(path), "a path other than the input it is read from")
    if path.exists() and not overwrite:
        raise ParameterError("out", str(path), "a path that does not exist yet (or pass --overwrite to replace it)")
    if path.is_file() and not path.stat().st_mode & 0o222:  # mode bits: root may write anything
        raise ParameterError("out", str(path), "a writable file (it is read-only: gazelab does not replace it)")
    return path


def inside(root: str | Path, name: str, what: str = "name") -> Path:
    """``root / name`` for a name read from a file, refused unless it stays inside ``root``.

    The name goes through :func:`safe_name`; the joined path is then resolved (symbolic links
    followed) and must still lie under ``root``, so neither ``../`` nor a link leads outside.

    Parameters
    ----------
    root : str or Path
        The folder the name is relative to (e.g. ``--stimuli``).
    name : str
        The name as stored.
    what : str
        What the name is, for the error message.

    Returns
    -------
    Path
        ``root / safe_name(name)``.

    Raises
    ------
    ParameterError
        For a name that leads outside ``root``.
    """
    root = Path(root)
    joined = root / safe_name(name, what)
    real_root = root.resolve()
    if not joined.resolve().is_relative_to(real_root):
        raise ParameterError(what, str(name), f"a file inside {root} (it links outside)")
    return joined


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
    expected = "a relative name without '..', a drive or a leading '/' (parts of at most 255 bytes)"
    if any(ord(c) < 32 for c in text) or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise ParameterError(what, text, expected)
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        raise ParameterError(what, text, expected)
    return "/".join(parts)


def read_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """Read a small YAML file safely: bounded size, UTF-8, bounded alias expansion, ``yaml.safe_load``.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for the error message.

    Returns
    -------
    object
        The parsed document (None for an empty file).

    Raises
    ------
    ParseError
        For a missing or non-regular file, one over :data:`MAX_YAML_BYTES`, text that is not
        UTF-8 (naming the line), a document that expands to more than :data:`MAX_YAML_NODES`
        values through its aliases (or refers to itself), or invalid YAML.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParseError(
            path, f"cannot read the {what}: " + ("not a regular file" if path.exists() else "no such file")
        )
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ParseError(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ParseError(path, f"the {what} is larger than {MAX_YAML_BYTES} bytes (the limit for YAML input)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseError(path, f"byte 0x{raw[exc.start]:02x} is not UTF-8; expected UTF-8 text", line) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # aliases stay shared here: linear in the text
        if node is not None and _expanded_size(node, {}, set()) > MAX_YAML_NODES:
            raise ParseError(
                path, f"the YAML expands to more than {MAX_YAML_NODES} values through its aliases (an alias bomb?)"
            )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(
            path, f"not valid YAML ({getattr(exc, 'problem', None) or exc})", mark.line + 1 if mark else None
        ) from None
    except RecursionError:
        raise ParseError(path, "the YAML is nested too deeply or refers to itself") from None


def _expanded_size(node: Any, memo: dict[int, int], active: set[int]) -> int:
    """Number of values ``node`` stands for once every alias is expanded (capped past the limit)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:  # an alias to an enclosing node: infinite when expanded
        return MAX_YAML_NODES + 1
    active.add(key)
    total = 1
    children: list[Any] = []
    if isinstance(node.value, list):
        for item in node.value:
            children.extend(item if isinstance(item, tuple) else (item,))
    for child in children:
        total += _expanded_size(child, memo, active)
        if total > MAX_YAML_NODES:
            break
    active.discard(key)
    memo[key] = total
    return total
