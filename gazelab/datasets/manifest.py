"""Release manifests and human summaries of gazelab datasets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gazelab import __version__
from gazelab._io import atomic_path
from gazelab.datasets import schema
from gazelab.datasets.validate import check_format
from gazelab.errors import ParameterError, ParseError

__all__ = ["MANIFEST_FIELDS", "describe", "write_manifest"]

#: Fields the maintainer's YAML may (``title``, ``version``, ``licence``, ``citation`` should) give.
MANIFEST_FIELDS = ("title", "version", "licence", "citation", "authors", "description", "url", "contact")


def describe(path: str | Path) -> dict[str, Any]:
    """Counts and settings of a dataset, for ``gazelab info``.

    Raises
    ------
    ParseError
        If the file is not a complete gazelab dataset.
    """
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        version = check_format(f, path)
        prov = f["provenance"].attrs if "provenance" in f else {}
        params = json.loads(prov.get("parameters_json", "{}"))
        st = f["stimuli"]
        n_stim = st["id"].shape[0]
        sizes = set(zip(st["width_px"][()].tolist(), st["height_px"][()].tolist(), strict=True))
        labels = {s for s in st["label"].asstr()[()] if s}
        splits: dict[str, int] = {}
        for s in st["split"].asstr()[()]:
            splits[s or "(none)"] = splits.get(s or "(none)", 0) + 1
        per_stim = np.diff(f["fixations/stimulus_offsets"][()]) if n_stim else np.zeros(0)
        return {
            "file": str(path),
            "format": f"{schema.FORMAT_NAME} {version[0]}.{version[1]}",
            "title": str(f.attrs.get("title", "")),
            "created_utc": str(f.attrs.get("created_utc", "")),
            "software": f"{prov.get('software', '')} {prov.get('software_version', '')}".strip(),
            "sessions": int(f["sessions/id"].shape[0]),
            "observers": int(f["observers/id"].shape[0]),
            "stimuli": n_stim,
            "stand_in_stimuli": int(st["stand_in"][()].sum()),
            "image_sizes": sorted(sizes)[:5] + (["..."] if len(sizes) > 5 else []),
            "labels": len(labels),
            "splits": splits,
            "trials": int(f["trials/trial"].shape[0]),
            "fixations": int(f["fixations/x_px"].shape[0]),
            "fixations_per_stimulus": (
                f"{int(per_stim.min())}-{int(per_stim.max())} (median {float(np.median(per_stim)):g})"
                if n_stim
                else "-"
            ),
            "raw_samples": int(f["samples/time_ms"].shape[0]) if "samples" in f else 0,
            "sigma_deg": params.get("sigma_deg"),
            "detector": params.get("algorithm"),
            "size_mb": round(path.stat().st_size / 1e6, 2),
            "notes": str(prov.get("notes", "")),
        }


def _quality(path: Path) -> dict[str, Any] | str:
    from gazelab.datasets.quality import quality_summary

    return quality_summary(path) or "not measured (no /quality table)"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(path: str | Path, meta: str | Path | dict[str, Any], *, out: str | Path | None = None) -> Path:
    """Write the release manifest (JSON) beside a dataset.

    Parameters
    ----------
    path : path
        The dataset (``.h5``); it must validate without errors.
    meta : path or dict
        The maintainer's YAML file (or its content): ``title``, ``version``, ``licence``,
        ``citation`` (required), and optionally ``authors``, ``description``, ``url``,
        ``contact``.
    out : path, optional
        Manifest file; default ``<dataset>.manifest.json``.

    Returns
    -------
    Path
        The manifest: sha256 and size of the dataset, counts, schema version, and the fields above.

    Raises
    ------
    ParameterError
        For a YAML missing a required field.
    ParseError
        If the dataset does not validate (the problems are named).
    """
    from gazelab.datasets.validate import validate

    path = Path(path)
    if isinstance(meta, (str, Path)):
        from gazelab._io import read_yaml

        fields = read_yaml(meta, "release YAML") or {}
    else:
        fields = dict(meta)
    if not isinstance(fields, dict):
        raise ParameterError("meta", type(fields).__name__, "a YAML mapping of release fields")
    missing = [k for k in ("title", "version", "licence", "citation") if not fields.get(k)]
    if missing:
        raise ParameterError("meta", sorted(fields), f"the fields {missing} too (release YAML)")
    unknown = sorted(set(fields) - set(MANIFEST_FIELDS))
    if unknown:
        raise ParameterError("meta", unknown, f"only the fields {list(MANIFEST_FIELDS)}")
    errors = [p for p in validate(path) if p.severity == "error"]
    if errors:
        raise ParseError(path, f"does not validate ({len(errors)} problems; first: {errors[0]})")
    summary = describe(path)
    manifest = {
        "file": path.name,
        "sha256": _sha256(path),
        "size_bytes": path.stat().st_size,
        "format": schema.FORMAT_NAME,
        "format_version": summary["format"].split()[-1],
        "counts": {k: summary[k] for k in ("sessions", "observers", "stimuli", "trials", "fixations", "raw_samples")},
        "stand_in_stimuli": summary["stand_in_stimuli"],
        "created_utc": summary["created_utc"],
        "quality": _quality(path),
        "manifest_written_by": f"gazelab {__version__}",
        **{k: fields[k] for k in MANIFEST_FIELDS if k in fields},
    }
    target = Path(out) if out else path.with_name(path.name + ".manifest.json")
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return target
