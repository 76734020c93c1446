"""Make the NUS scene slice shipped with gazelab (``gazelab/data/nus_scene_slice``), from the full dataset.

24 of the 500 images, evenly spread over the file order (rows ``round(linspace(0, 499, 24))``),
with every observer's fixations, kept in the dataset's own layout (``stimuli/NNN.jpg`` under
their published names, ``fixations.mat`` with the same cell array convention, the dataset's
``LICENSE.txt``), so gazelab's ``nus-scene`` importer reads the slice as it reads the whole.
Images whose longer side exceeds 800 px are resized to 800 px (Lanczos) and saved as JPEG at
quality 85, their fixations scaled alike (MATLAB pixel centres: ``(c - 0.5) * s + 0.5``); an
image within 800 px keeps its published bytes unless re-encoding at quality 85 saves a quarter.

Usage: ``python examples/make_nus_scene_slice.py [../shared/data/nus-scene] [gazelab/data/nus_scene_slice]``
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat, savemat

MAX_SIDE = 800
QUALITY = 85
N_IMAGES = 24


def main(src: Path, dst: Path) -> None:
    cells = loadmat(src / "fixations.mat")["fixations"]
    files = sorted((src / "stimuli").glob("*.jpg"))
    rows = np.round(np.linspace(0, len(files) - 1, N_IMAGES)).astype(int)
    (dst / "stimuli").mkdir(parents=True, exist_ok=True)
    out = np.empty((len(rows), cells.shape[1]), dtype=object)
    log = ["| image | published size | shipped size | bytes | resized / re-encoded |", "|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        raw = files[r].read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = min(1.0, MAX_SIDE / max(w, h))
            small = im.resize((round(w * s), round(h * s)), Image.LANCZOS) if s < 1 else im
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=QUALITY, optimize=True)
        data = buf.getvalue() if s < 1 or len(buf.getvalue()) * 4 < len(raw) * 3 else raw
        (dst / "stimuli" / files[r].name).write_bytes(data)
        for k in range(cells.shape[1]):
            c = np.asarray(cells[r, k], dtype=float).reshape(-1, 4).copy()
            c[:, :2] = (c[:, :2] - 0.5) * s + 0.5
            out[i, k] = c
        how = "resized, re-encoded" if s < 1 else ("re-encoded" if data is not raw else "published bytes")
        log.append(f"| {files[r].name} | {w}x{h} | {small.size[0]}x{small.size[1]} | {len(data)} | {how} |")
    savemat(dst / "fixations.mat", {"fixations": out}, do_compression=True)
    shutil.copyfile(src / "LICENSE.txt", dst / "LICENSE.txt")
    print("\n".join(log))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        Path(args[0] if args else "../shared/data/nus-scene"),
        Path(args[1] if len(args) > 1 else "gazelab/data/nus_scene_slice"),
    )
