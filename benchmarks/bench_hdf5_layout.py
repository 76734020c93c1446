"""Storage layout of stimulus images and saliency maps: size on disk and random access by stimulus.

A modeler reads one stimulus at a time (image + saliency map), in random order. This script
stores the real nus-scene photographs (``../shared/data/nus-scene/stimuli``: 500 JPEGs, most
256x256 px, some up to 2400x1595) and a Gaussian saliency map per image (40 random fixations,
sigma 4 % of the width) with several layouts, reads every stimulus in a random order with the
file in the page cache (so decoding, not the disk, is timed), and reports MB on disk and ms per
stimulus, decoding included.

gazelab's choices (rows marked gazelab): images are stored as the published file bytes
(1-D uint8, one dataset per stimulus, decoded with Pillow on read); maps as float32 rounded to
16 significant bits, one chunk per map, shuffle + gzip-4; plus an uncompressed preview of each
map (shorter side 256 px) that training-size reads use. The last line gives the file size of
the raw-pixel layout relative to gazelab's.

Run: ``python benchmarks/bench_hdf5_layout.py [--limit N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from gazelab.datasets.schema import decode_image, preview_map, store_map
from gazelab.preprocessing.maps import saliency_map

STIMULI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nus-scene" / "stimuli"


def _tiles(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (min(64, shape[0]), min(64, shape[1]), *shape[2:])


IMAGE_LAYOUTS: dict[str, tuple[Callable, Callable]] = {
    # name: (write(group, name, file_bytes, pixels), read(dataset) -> pixels)
    "file bytes as published (gazelab)": (
        lambda g, n, raw, px: g.create_dataset(n, data=np.frombuffer(raw, np.uint8)),
        lambda ds: decode_image(ds[()]),
    ),
    "pixels, whole-image chunk, lzf": (
        lambda g, n, raw, px: g.create_dataset(n, data=px, chunks=px.shape, compression="lzf"),
        lambda ds: ds[()],
    ),
    "pixels, 64x64 tiles, gzip-4": (
        lambda g, n, raw, px: g.create_dataset(n, data=px, chunks=_tiles(px.shape), compression="gzip"),
        lambda ds: ds[()],
    ),
    "pixels, contiguous, uncompressed": (lambda g, n, raw, px: g.create_dataset(n, data=px), lambda ds: ds[()]),
}

MAP_LAYOUTS: dict[str, Callable] = {
    "float32, 16 significant bits, shuffle + gzip-4 (gazelab)": lambda g, n, m: g.create_dataset(
        n, data=store_map(m), chunks=m.shape, compression="gzip", compression_opts=4, shuffle=True
    ),
    "float32 exact, shuffle + lzf": lambda g, n, m: g.create_dataset(
        n, data=m, chunks=m.shape, compression="lzf", shuffle=True
    ),
    "float32 exact, shuffle + gzip-4": lambda g, n, m: g.create_dataset(
        n, data=m, chunks=m.shape, compression="gzip", compression_opts=4, shuffle=True
    ),
    "float32 exact, contiguous, uncompressed": lambda g, n, m: g.create_dataset(n, data=m),
    "preview: shorter side 256 px, float32 uncompressed (gazelab, read for training)": lambda g, n, m: g.create_dataset(
        n, data=preview_map(m).astype(np.float32)
    ),
}


def _time_reads(path: Path, order: np.ndarray, read: Callable, repeats: int) -> float:
    times = []
    for r in range(repeats + 1):  # the first pass warms the page cache
        t = time.perf_counter()
        with h5py.File(path, "r") as f:
            for i in order:
                read(f[f"x/{i:06d}"])
        if r:
            times.append((time.perf_counter() - t) / len(order) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=500, help="number of stimuli (default all 500)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not STIMULI.is_dir():
        sys.exit(f"real stimuli not found: expected {STIMULI.resolve()}")
    files = sorted(STIMULI.glob("*.jpg"))[: args.limit]
    raws = [p.read_bytes() for p in files]
    pixels = [decode_image(r) for r in raws]
    rng = np.random.default_rng(0)
    maps = []
    for px in pixels:
        h, w = px.shape[:2]
        maps.append(saliency_map(rng.uniform(0, w, 40), rng.uniform(0, h, 40), (h, w), 0.04 * w).astype(np.float32))
    order = rng.permutation(len(files))
    print(
        f"{len(files)} stimuli from {STIMULI.resolve()}: JPEG files {sum(map(len, raws)) / 1e6:.1f} MB, "
        f"decoded pixels {sum(p.nbytes for p in pixels) / 1e6:.1f} MB, float32 maps "
        f"{sum(m.nbytes for m in maps) / 1e6:.1f} MB"
    )
    sizes: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.h5"
        print("\n| image layout | MB on disk | write s | read + decode ms/stimulus |\n|---|---|---|---|")
        for name, (write, read) in IMAGE_LAYOUTS.items():
            t = time.perf_counter()
            with h5py.File(path, "w") as f:
                g = f.create_group("x")
                for i, (raw, px) in enumerate(zip(raws, pixels, strict=True)):
                    write(g, f"{i:06d}", raw, px)
            wt = time.perf_counter() - t
            sizes[name] = path.stat().st_size / 1e6
            ms = _time_reads(path, order, read, args.repeats)
            print(f"| {name} | {sizes[name]:.1f} | {wt:.2f} | {ms:.3f} |")
        print("\n| map layout | MB on disk | write s | read ms/map | max relative error |\n|---|---|---|---|---|")
        for name, write in MAP_LAYOUTS.items():
            t = time.perf_counter()
            with h5py.File(path, "w") as f:
                g = f.create_group("x")
                for i, m in enumerate(maps):
                    write(g, f"{i:06d}", m)
            wt = time.perf_counter() - t
            size = path.stat().st_size / 1e6
            with h5py.File(path, "r") as f:
                if "preview" in name:  # a different grid: compare with the preview of the exact map
                    maps_ref = [preview_map(m) for m in maps[:50]]
                else:
                    maps_ref = maps[:50]
                err = max(
                    float(np.max(np.abs(f[f"x/{i:06d}"][()] - m) / np.maximum(m, np.finfo(np.float32).tiny)))
                    for i, m in enumerate(maps_ref)
                )
            ms = _time_reads(path, order, lambda ds: ds[()], args.repeats)
            print(f"| {name} | {size:.1f} | {wt:.2f} | {ms:.3f} | {err:.1e} |")
    ours = sizes["file bytes as published (gazelab)"]
    print(
        f"image storage, raw pixels (whole-image lzf) / gazelab's file bytes: "
        f"{sizes['pixels, whole-image chunk, lzf'] / ours:.1f}x larger"
    )


if __name__ == "__main__":
    main()
