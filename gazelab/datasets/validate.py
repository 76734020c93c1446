"""The validator of gazelab HDF5 datasets: schema, dtypes, ranges, cross-references, checksums.

:func:`validate` never raises on a damaged file: every check runs on its own and whatever it
cannot check becomes a problem in the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from gazelab.datasets import schema
from gazelab.errors import ParseError

__all__ = ["Problem", "check_format", "check_self_contained", "outside_references", "validate"]

MAP_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Problem:
    """One finding: where (an HDF5 path), what, and how bad (``error`` or ``note``)."""

    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


def outside_references(f: h5py.File) -> list[tuple[str, str]]:
    """Everything in ``f`` that points at data outside the file, as (HDF5 path, what) pairs.

    External links, datasets with external raw storage and virtual datasets whose sources lie in
    another file. Found without following any link, so nothing outside is opened.
    """
    from h5py import h5d, h5l, h5o

    found: list[tuple[str, str]] = []
    links: list[tuple[str, int]] = []
    f.id.links.visit(lambda name, info: links.append((name.decode(errors="replace"), info.type)), info=True)
    for name, kind in links:
        if kind == h5l.TYPE_EXTERNAL:
            target = f.get(name, getlink=True)
            found.append((f"/{name}", f"external link to {target.filename}:{target.path}"))
        elif kind not in (h5l.TYPE_HARD, h5l.TYPE_SOFT):
            found.append((f"/{name}", "user-defined link"))
    datasets: list[bytes] = []
    h5o.visit(f.id, lambda name, info: datasets.append(name) if info.type == h5o.TYPE_DATASET else None, info=True)
    for name in datasets:
        plist = h5d.open(f.id, name).get_create_plist()
        where = "/" + name.decode(errors="replace")
        if plist.get_external_count():
            found.append((where, f"raw data stored in an external file ({plist.get_external(0)[0].decode()})"))
        if plist.get_layout() == h5d.VIRTUAL:
            files = {plist.get_virtual_filename(i) for i in range(plist.get_virtual_count())} - {"."}
            if files:
                found.append((where, f"virtual dataset reading from {sorted(files)[0]}"))
    return found


def check_self_contained(f: h5py.File, path: str | Path) -> None:
    """Raise :class:`ParseError` when ``f`` links to data outside itself (links, external or virtual storage).

    A dataset is a file people download from strangers: reading it must never read other files
    on the reader's machine.
    """
    found = outside_references(f)
    if found:
        where, what = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ParseError(path, f"{where}: {what}{more}; expected a self-contained file")


def check_format(f: h5py.File, path: str | Path) -> tuple[int, int]:
    """Raise :class:`ParseError` unless ``f`` is a complete, self-contained gazelab dataset of a readable version."""
    check_self_contained(f, path)
    name = f.attrs.get("format")
    if isinstance(name, bytes):
        name = name.decode()
    if name != schema.FORMAT_NAME:
        raise ParseError(path, f"format attribute is {name!r}; expected {schema.FORMAT_NAME!r}")
    try:
        version = schema.parse_version(f.attrs.get("format_version"))
    except (ValueError, TypeError):
        raise ParseError(path, f"format_version {f.attrs.get('format_version')!r}; expected 'MAJOR.MINOR'") from None
    ours = schema.parse_version(schema.FORMAT_VERSION)
    if version[0] != ours[0]:
        raise ParseError(path, f"format version {version[0]}.{version[1]}; this gazelab reads {ours[0]}.x")
    if int(f.attrs.get("complete", 0)) != 1:
        raise ParseError(path, "the file is incomplete: its build did not finish")
    return version


def _column_ok(ds: h5py.Dataset, col: schema.Column) -> bool:
    if col.dtype == "str":
        return h5py.check_string_dtype(ds.dtype) is not None
    return ds.dtype == np.dtype(col.dtype)


def validate(path: str | Path) -> list[Problem]:
    """Check a dataset file; return the problems found (empty when it is valid).

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file.

    Returns
    -------
    list of Problem
        Errors (the file is not a valid dataset) and notes (e.g. unknown extra columns of a
        newer minor version), in the order checked.
    """
    path = Path(path)
    problems: list[Problem] = []
    if not path.is_file():
        return [Problem(str(path), "not a regular file" if path.exists() else "no such file")]
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        return [Problem(str(path), f"not a readable HDF5 file (truncated or damaged?): {exc}")]
    with f:

        def run(where: str, check: Callable[[], None]) -> None:
            try:
                check()
            except Exception as exc:  # a damaged file must become a report, never a traceback
                problems.append(Problem(where, f"could not be checked: {type(exc).__name__}: {exc}"))

        ok_format = [False]
        try:
            outside = outside_references(f)
        except Exception as exc:  # a damaged file must become a report, never a traceback
            return [Problem("/", f"could not be checked: {type(exc).__name__}: {exc}")]
        for where, what in outside:
            problems.append(Problem(where, f"{what}; a dataset must be self-contained"))
        if outside:  # nothing more is read: it would read the outside files
            return problems

        def fmt() -> None:
            try:
                version = check_format(f, path)
            except ParseError as exc:
                problems.append(Problem("/", exc.message))
                return
            ok_format[0] = True
            if version[1] > schema.parse_version(schema.FORMAT_VERSION)[1]:
                problems.append(
                    Problem("/", f"newer minor version {version[0]}.{version[1]}: extra content is not checked", "note")
                )

        run("/", fmt)
        lengths: dict[str, int] = {}
        for name, spec in schema.TABLES.items():
            run(f"/{name}", lambda name=name, spec=spec: _check_table(f, name, spec, problems, lengths))
        if "samples" in f:
            run("/samples", lambda: _check_table(f, "samples", schema.OPTIONAL_TABLES["samples"], problems, lengths))
        if "quality" in f:
            run("/quality", lambda: _check_quality(f, problems, lengths))
        # each deeper check runs when the tables it reads are sound
        if "stimuli" in lengths:
            run("/stimuli", lambda: _check_stimuli(f, problems, lengths))
        if "stimuli" in lengths and "fixations" in lengths:
            run("/fixations", lambda: _check_fixations(f, problems, lengths))
        if all(k in lengths for k in schema.TABLES):
            run("/trials", lambda: _check_references(f, problems, lengths))
        if "videos" in f:
            run("/videos", lambda: _check_videos(f, problems, lengths))
        run("/checksums", lambda: _check_checksums(f, problems))
    return problems


def _check_table(
    f: h5py.File, name: str, spec: list[schema.Column], problems: list[Problem], lengths: dict[str, int]
) -> None:
    if name not in f or not isinstance(f[name], h5py.Group):
        problems.append(Problem(f"/{name}", "missing table"))
        return
    g = f[name]
    n: int | None = None
    bad = False
    for col in spec:
        where = f"/{name}/{col.name}"
        if col.name not in g:
            problems.append(Problem(where, "missing column"))
            bad = True
            continue
        ds = g[col.name]
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            problems.append(Problem(where, "not a 1-D dataset"))
            bad = True
            continue
        if not _column_ok(ds, col):
            problems.append(
                Problem(where, f"dtype {ds.dtype}; expected {'UTF-8 string' if col.dtype == 'str' else col.dtype}")
            )
            bad = True
        if n is None:
            n = ds.shape[0]
        elif ds.shape[0] != n:
            problems.append(Problem(where, f"{ds.shape[0]} rows; the table's other columns have {n}"))
            bad = True
    known = {c.name for c in spec} | {
        "stimulus_offsets",
        "trial_offsets",
        "video_offsets",
        "images",
        "frames",
        "fixations",
    }
    for k in g:
        if k not in known:
            problems.append(Problem(f"/{name}/{k}", "unknown column (newer minor version?)", "note"))
    if not bad and n is not None:
        lengths[name] = n
    if name in ("stimuli", "observers", "sessions") and "id" in g and not bad:
        ids = g["id"].asstr()[()]
        if len(set(ids)) != len(ids):
            problems.append(Problem(f"/{name}/id", "ids are not unique"))


def _check_names(st: h5py.Group, problems: list[Problem]) -> None:
    """Stimulus ids and file names become file names on export: each must be a safe relative name."""
    from gazelab._io import safe_name
    from gazelab.errors import ParameterError

    for col in ("file_name", "id"):
        names = st[col].asstr()[()]
        bad = []
        for i, name in enumerate(names):
            try:
                safe_name(name)
            except ParameterError:
                bad.append(i)
        if bad:
            problems.append(
                Problem(
                    f"/stimuli/{col}",
                    f"{len(bad)} unsafe names (row {bad[0]}: {names[bad[0]]!r}); expected a relative name "
                    "without '..', a drive, a leading '/' or control characters",
                )
            )


def _check_quality(f: h5py.File, problems: list[Problem], lengths: dict[str, int]) -> None:
    """The quality table: columns, session references, grades, fractions and non-negative numbers."""
    _check_table(f, "quality", schema.OPTIONAL_TABLES["quality"], problems, lengths)
    if "quality" not in lengths:
        return
    g = f["quality"]
    if "sessions" in lengths:
        _range(problems, "/quality/session", g["session"][()], lengths["sessions"], "sessions")
    bad = sorted(set(g["grade"].asstr()[()]) - {"GOOD", "FAIR", "POOR"})
    if bad:
        problems.append(Problem("/quality/grade", f"grades {bad[:3]}; expected GOOD, FAIR or POOR"))
    bad_eye = sorted(set(g["eye"].asstr()[()]) - {"L", "R"})
    if bad_eye:
        problems.append(Problem("/quality/eye", f"eyes {bad_eye[:3]}; expected L or R"))
    loss = g["data_loss"][()]
    if np.any((loss < 0) | (loss > 1)):
        problems.append(Problem("/quality/data_loss", "values outside 0..1 (a fraction of samples)"))
    for c in ("precision_rms_s2s_deg", "precision_std_deg", "validation_mean_deg", "validation_max_deg", "n_samples"):
        v = g[c][()].astype(float)
        if np.any(v < 0):
            problems.append(Problem(f"/quality/{c}", "negative values"))


def _check_stimuli(f: h5py.File, problems: list[Problem], lengths: dict[str, int]) -> None:
    st = f["stimuli"]
    _check_names(st, problems)
    w = st["width_px"][()]
    h = st["height_px"][()]
    ch = st["channels"][()]
    offsets = f["fixations/stimulus_offsets"][()] if "fixations/stimulus_offsets" in f else None
    for i in range(lengths["stimuli"]):
        ip, mp = schema.image_path(i), schema.map_path(i)
        if ip not in f:
            problems.append(Problem(ip, "missing image"))
        else:
            img = f[ip]
            if img.dtype != np.uint8 or img.ndim != 1:
                problems.append(
                    Problem(ip, f"dtype {img.dtype}, {img.ndim}-D; expected 1-D uint8 (encoded image bytes)")
                )
            else:
                try:
                    iw, ih, ic, _ = schema.image_header(img[()])
                except ValueError as exc:
                    problems.append(Problem(ip, str(exc)))
                else:
                    if (iw, ih, ic) != (w[i], h[i], ch[i]):
                        problems.append(
                            Problem(
                                ip, f"image is {iw}x{ih} with {ic} channel(s); /stimuli says {w[i]}x{h[i]} with {ch[i]}"
                            )
                        )
        n_fix = None
        if offsets is not None and len(offsets) == lengths["stimuli"] + 1:
            n_fix = int(offsets[i + 1] - offsets[i])
        _check_map(f, mp, (h[i], w[i]), n_fix, problems, "saliency map")
        _check_map(f, schema.preview_path(i), schema.preview_shape(h[i], w[i]), n_fix, problems, "saliency preview")


def _check_map(
    f: h5py.File, mp: str, shape: tuple[int, int], n_fix: int | None, problems: list[Problem], what: str
) -> None:
    if mp not in f:
        problems.append(Problem(mp, f"missing {what}"))
        return
    m = f[mp]
    if m.dtype != np.float32:
        problems.append(Problem(mp, f"dtype {m.dtype}; expected float32"))
    if m.shape != tuple(int(v) for v in shape):
        problems.append(Problem(mp, f"shape {m.shape}; expected {tuple(int(v) for v in shape)} from /stimuli"))
    data = m[()].astype(np.float64)
    if not np.isfinite(data).all():
        problems.append(Problem(mp, f"{int((~np.isfinite(data)).sum())} non-finite values (NaN/inf)"))
        return
    if (data < 0).any():
        problems.append(Problem(mp, f"{int((data < 0).sum())} negative values; a density is >= 0"))
    total = float(data.sum())
    expected = 0.0 if n_fix == 0 else 1.0
    if abs(total - expected) > MAP_SUM_TOLERANCE:
        problems.append(Problem(mp, f"sums to {total:.6g}; expected {expected:g} (normalised density)"))


def _check_fixations(f: h5py.File, problems: list[Problem], lengths: dict[str, int]) -> None:
    g = f["fixations"]
    n, n_stim = lengths["fixations"], lengths["stimuli"]
    stim = g["stimulus"][()]
    if "stimulus_offsets" not in g:
        problems.append(Problem("/fixations/stimulus_offsets", "missing index"))
    else:
        off = g["stimulus_offsets"][()]
        if off.shape != (n_stim + 1,) or off[0] != 0 or off[-1] != n or (np.diff(off) < 0).any():
            problems.append(
                Problem("/fixations/stimulus_offsets", f"not a CSR index of {n} rows over {n_stim} stimuli")
            )
        elif n and (np.repeat(np.arange(n_stim), np.diff(off)) != stim).any():
            problems.append(
                Problem("/fixations/stimulus_offsets", "does not match the stimulus column (rows unsorted?)")
            )
    ok = (stim >= 0) & (stim < n_stim)
    if not ok.all():
        problems.append(
            Problem(
                "/fixations/stimulus",
                f"{int((~ok).sum())} rows name no existing stimulus (row {int(np.flatnonzero(~ok)[0])})",
            )
        )
        return
    w = f["stimuli/width_px"][()][stim]
    h = f["stimuli/height_px"][()][stim]
    x = g["x_px"][()].astype(np.float64)
    y = g["y_px"][()].astype(np.float64)
    out = ~((x >= 0) & (x < w) & (y >= 0) & (y < h))
    if out.any():
        i = int(np.flatnonzero(out)[0])
        problems.append(
            Problem(
                "/fixations/x_px",
                f"{int(out.sum())} fixations outside their image (row {i}: ({x[i]:.1f}, {y[i]:.1f}) in {w[i]}x{h[i]})",
            )
        )
    # NaN means "not known" (layouts that publish positions only); a known duration must be > 0
    d = g["duration_ms"][()].astype(np.float64)
    bad = np.isinf(d) | (d <= 0)
    if bad.any():
        problems.append(Problem("/fixations/duration_ms", f"{int(bad.sum())} durations not > 0"))
    if np.isinf(g["onset_ms"][()]).any():
        problems.append(Problem("/fixations/onset_ms", "infinite onsets"))


def _range(problems: list[Problem], where: str, values: np.ndarray, n: int, target: str) -> None:
    bad = (values < 0) | (values >= n)
    if bad.any():
        problems.append(
            Problem(where, f"{int(bad.sum())} rows point past /{target} ({n} rows), e.g. {int(values[bad][0])}")
        )


def _check_references(f: h5py.File, problems: list[Problem], lengths: dict[str, int]) -> None:
    _range(problems, "/fixations/observer", f["fixations/observer"][()], lengths["observers"], "observers")
    _range(problems, "/fixations/trial", f["fixations/trial"][()], lengths["trials"], "trials")
    _range(problems, "/trials/session", f["trials/session"][()], lengths["sessions"], "sessions")
    _range(problems, "/trials/stimulus", f["trials/stimulus"][()], lengths["stimuli"], "stimuli")
    _range(problems, "/trials/observer", f["trials/observer"][()], lengths["observers"], "observers")
    _range(problems, "/sessions/observer", f["sessions/observer"][()], lengths["observers"], "observers")
    if "samples" in f and "samples" in lengths:
        _range(problems, "/samples/trial", f["samples/trial"][()], lengths["trials"], "trials")


def _check_videos(f: h5py.File, problems: list[Problem], lengths: dict[str, int]) -> None:
    for name, spec in schema.VIDEO_TABLES.items():
        _check_table(f, name, spec, problems, lengths)
    if "videos" not in lengths or "videos/fixations" not in lengths:
        return
    v = f["videos"]
    n = lengths["videos"]
    w, h, nf = v["width_px"][()], v["height_px"][()], v["n_frames"][()]
    fx = f["videos/fixations"]
    vid = fx["video"][()]
    _range(problems, "/videos/fixations/video", vid, n, "videos")
    if "observers" in lengths:
        _range(problems, "/videos/fixations/observer", fx["observer"][()], lengths["observers"], "observers")
    ok = (vid >= 0) & (vid < n)
    x, y = fx["x_px"][()][ok], fx["y_px"][()][ok]
    out = ~((x >= 0) & (x < w[vid[ok]]) & (y >= 0) & (y < h[vid[ok]]))
    if out.any():
        problems.append(Problem("/videos/fixations/x_px", f"{int(out.sum())} fixations outside their frames"))
    for i in range(n):
        fp, mp = schema.frames_path(i), schema.video_map_path(i)
        if fp not in f or f[fp].shape != (nf[i],):
            problems.append(Problem(fp, f"missing or not {nf[i]} frames"))
        if mp not in f:
            problems.append(Problem(mp, "missing per-frame saliency maps"))
            continue
        m = f[mp]
        ph, pw = schema.preview_shape(h[i], w[i])
        if m.dtype != np.float32 or m.shape != (nf[i], ph, pw):
            problems.append(Problem(mp, f"{m.dtype} {m.shape}; expected float32 ({nf[i]}, {ph}, {pw})"))
            continue
        data = m[()].astype(np.float64)
        if not np.isfinite(data).all() or (data < 0).any():
            problems.append(Problem(mp, "non-finite or negative values"))
            continue
        sums = data.sum(axis=(1, 2))
        bad = ~((np.abs(sums - 1) <= MAP_SUM_TOLERANCE) | (sums == 0))
        if bad.any():
            problems.append(Problem(mp, f"{int(bad.sum())} frames do not sum to 1 (or 0 without fixations)"))


def _check_checksums(f: h5py.File, problems: list[Problem]) -> None:
    if "checksums" not in f:
        problems.append(Problem("/checksums", "missing"))
        return
    paths = list(f["checksums/path"].asstr()[()])
    sums = list(f["checksums/sha256"].asstr()[()])
    listed = set(paths)
    for p, expected in zip(paths, sums, strict=True):
        if p not in f:
            problems.append(Problem(p, "listed in /checksums but missing"))
            continue
        try:
            got = schema.array_sha256(f[p])
        except Exception as exc:  # unreadable chunk: damaged data
            problems.append(Problem(p, f"cannot be read: {type(exc).__name__}: {exc}"))
            continue
        if got != expected:
            problems.append(Problem(p, "checksum mismatch: the data changed after the build"))
    unlisted: list[str] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and not name.startswith("checksums") and "/" + name not in listed:
            unlisted.append("/" + name)

    f.visititems(visit)
    for p in unlisted:
        problems.append(Problem(p, "not covered by /checksums"))
