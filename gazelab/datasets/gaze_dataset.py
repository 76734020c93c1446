"""PyTorch datasets over gazelab HDF5 releases.

:class:`GazeDataset` serves one item per stimulus: the image and the requested targets. It is
lazy: ``__init__`` reads only the small tables (sizes, labels, splits, fixation offsets); each
``__getitem__`` reads one stimulus' image bytes, map and fixation rows. The HDF5 file is opened
on first use in each process (never pickled), so it works with ``num_workers > 0``, persistent
workers and any sampler.

Distributed training (``torchrun --nproc_per_node=N train.py``): give the DataLoader a
``torch.utils.data.distributed.DistributedSampler(dataset, shuffle=True, seed=S)`` and call
``sampler.set_epoch(epoch)`` every epoch; each rank then reads only its share of the stimuli,
each worker of each rank opening the file itself (read-only HDF5 is safe to share).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from gazelab.datasets import schema
from gazelab.datasets.transforms import JointCompose, JointResize
from gazelab.datasets.validate import check_format
from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.maps import saliency_map

__all__ = ["TARGETS", "GazeDataset", "Split", "collate_gaze", "make_splits"]

#: Targets an item can carry.
TARGETS = ("saliency", "fixation_map", "fixations", "label", "stimulus")


@dataclass(frozen=True)
class Split:
    """A named subset: stimulus rows and/or observer ids (see :func:`make_splits`)."""

    name: str
    stimuli: tuple[int, ...] | None = None
    observers: tuple[str, ...] | None = None


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        check_format(f, path)
        st = f["stimuli"]
        return {
            "ids": st["id"].asstr()[()],
            "labels": st["label"].asstr()[()],
            "splits": st["split"].asstr()[()],
            "width": st["width_px"][()],
            "height": st["height_px"][()],
            "sigma": st["sigma_px"][()],
            "offsets": f["fixations/stimulus_offsets"][()],
            "observer_ids": f["observers/id"].asstr()[()],
            "fix_observer": f["fixations/observer"][()],
        }


def make_splits(
    path: str | Path,
    *,
    by: str = "stimulus",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    names: Sequence[str] = ("train", "val", "test"),
    seed: int = 0,
) -> dict[str, Split]:
    """Random splits of a dataset by stimulus or by observer, reproducible from ``seed``.

    Parameters
    ----------
    path : path
        The dataset.
    by : {'stimulus', 'observer'}, optional
        Split the stimuli (default; every split sees all observers) or the observers (every
        split sees all stimuli, with maps from its own observers only: generalisation to new
        observers).
    fractions : sequence of float, optional
        Share of each split (normalised to sum 1; default 0.8/0.1/0.1).
    names : sequence of str, optional
        Split names, one per fraction.
    seed : int, optional
        Seed of the permutation (default 0).

    Returns
    -------
    dict
        Name -> :class:`Split`.
    """
    if by not in ("stimulus", "observer"):
        raise ParameterError("by", by, "'stimulus' or 'observer'")
    if len(fractions) != len(names) or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ParameterError("fractions", fractions, f"{len(names)} non-negative shares, one per name")
    meta = _read_meta(Path(path))
    items = list(range(len(meta["ids"]))) if by == "stimulus" else list(meta["observer_ids"])
    order = np.random.default_rng(seed).permutation(len(items))
    cuts = np.round(np.cumsum(np.asarray(fractions, float) / sum(fractions)) * len(items)).astype(int)
    out: dict[str, Split] = {}
    start = 0
    for name, end in zip(names, cuts, strict=True):
        chosen = tuple(sorted(items[i] for i in order[start:end]))
        out[name] = Split(name, stimuli=chosen) if by == "stimulus" else Split(name, observers=chosen)
        start = end
    return out


class GazeDataset(torch.utils.data.Dataset):
    """Stimuli with human gaze from a gazelab HDF5 release, one item per stimulus.

    The three transform slots have torchvision's meanings (``VisionDataset``): ``transform`` takes
    the image only, ``target_transform`` the target only, ``transforms`` both together.

    Parameters
    ----------
    root : str or Path
        The ``.h5`` dataset.
    split : str or Split, optional
        A split name stored in the file (``/stimuli/split``), or a :class:`Split` from
        :func:`make_splits`. Default: all stimuli, all observers.
    transform : callable, optional
        Transform of the image only, a float tensor ``(C, H, W)`` in [0, 1] (e.g. torchvision's
        ``v2.ColorJitter``, ``v2.Normalize``), applied after ``transforms``.
    target_transform : callable, optional
        Transform of the target only: the dict of the requested targets (``saliency``,
        ``fixations``, ``label``, ...) -> a dict of targets.
    transforms : callable, optional
        Joint geometric transform ``transforms(image, target) -> (image, target)``, applied
        identically to the image (uint8 ``(C, H, W)``), maps and fixations: gazelab's
        :class:`~gazelab.datasets.transforms.JointResize`, ``JointRandomCrop``, ... in a
        ``JointCompose``. (torchvision's geometric transforms would move the image without the
        maps: they do not belong here.)
    targets : sequence of str, optional
        Any of ``'saliency'`` (``(1, H, W)`` float, sums to 1), ``'fixation_map'`` (``(1, H, W)``
        float counts), ``'fixations'`` (``(N, 2)`` float ``(x, y)`` px, plus
        ``fixation_durations_ms``), ``'label'`` (int, the index of the stimulus' label in
        :attr:`classes`; -1 for a stimulus without a label) and ``'stimulus'`` (id). Default
        ``('saliency', 'fixations', 'label')``.
    observers : sequence of str, optional
        Only these observers' fixations count; the saliency map is then recomputed from them
        (the stored map holds all observers). Overrides a split's observers.
    image_mode : {'RGB', None}, optional
        'RGB' (default) gives every image 3 channels (grey ones repeated), so batches stack;
        None keeps each image's own channels (1 or 3).
    min_grade : {'GOOD', 'FAIR', 'POOR'}, optional
        Leave out the fixations of trials whose data quality (the release's ``/quality`` table,
        for the eye used) is below this grade; saliency maps are then recomputed from the rest.
        For whole observers use ``observers=gazelab.datasets.quality.observers_at_least(path, grade)``.

    Attributes
    ----------
    classes : list of str
        The stimuli's label names, sorted (torchvision's ``classes``).
    class_to_idx : dict
        Label name -> class index.

    Notes
    -----
    Items are dicts: ``image`` (float32 ``(C, H, W)`` in [0, 1]), ``index`` (int) and the
    targets. Images of different sizes cannot be stacked: use a ``JointResize`` (or crop) in
    ``transforms``, and :func:`collate_gaze` to batch fixation lists. When ``transforms`` starts
    with ``JointResize``, JPEGs are decoded at a reduced size (never smaller than the target),
    which is several times faster for large photographs, and the saliency map is read from the
    stored preview (shorter side 256 px, area-averaged) when the target is no larger than it.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Split | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        target_transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        transforms: Callable[..., Any] | None = None,
        *,
        targets: Sequence[str] = ("saliency", "fixations", "label"),
        observers: Sequence[str] | None = None,
        image_mode: str | None = "RGB",
        min_grade: str | None = None,
    ) -> None:
        self.path = self.root = Path(root)
        if image_mode not in ("RGB", None):
            raise ParameterError("image_mode", image_mode, "'RGB' (grey images repeated to 3 channels) or None")
        self.image_mode = image_mode
        bad = [t for t in targets if t not in TARGETS]
        if bad:
            raise ParameterError("targets", list(targets), f"a subset of {list(TARGETS)}")
        self.targets = tuple(targets)
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms
        meta = _read_meta(self.path)
        n = len(meta["ids"])
        rows = np.arange(n)
        chosen_obs = None
        if isinstance(split, Split):
            if split.stimuli is not None:
                rows = np.asarray(split.stimuli, dtype=np.int64)
            chosen_obs = split.observers
        elif isinstance(split, str):
            rows = np.flatnonzero(meta["splits"] == split)
            if len(rows) == 0:
                names = sorted({s for s in meta["splits"] if s})
                raise ParameterError("split", split, f"a split stored in the file {names} or a Split from make_splits")
        elif split is not None:
            raise ParameterError("split", split, "None, a split name or a Split")
        if observers is not None:
            chosen_obs = tuple(observers)
        self._obs_rows: np.ndarray | None = None
        if chosen_obs is not None:
            known = {o: i for i, o in enumerate(meta["observer_ids"])}
            missing = [o for o in chosen_obs if o not in known]
            if missing:
                raise ParameterError("observers", missing, f"observer ids of the dataset ({len(known)} of them)")
            self._obs_rows = np.asarray(sorted(known[o] for o in chosen_obs), dtype=np.int64)
        self._drop_trials = _low_quality_trials(self.path, min_grade)
        self.rows = rows
        self.ids = meta["ids"]
        self.labels = meta["labels"]
        self._wh = np.stack([meta["width"], meta["height"]], axis=1)
        self._sigma = meta["sigma"]
        self._offsets = meta["offsets"]
        self.classes = sorted({s for s in meta["labels"] if s})
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self._draft = self._draft_size(transforms)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    @staticmethod
    def _draft_size(transform: Any) -> tuple[int, int] | None:
        first = transform.transforms[0] if isinstance(transform, JointCompose) and transform.transforms else transform
        if isinstance(first, JointResize):
            h, w = first.size
            return w, h
        return None

    # -- file handling: lazily per process, never pickled ----------------------------------------
    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def close(self) -> None:
        """Close this process' file handle (reopened on the next item)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        k = int(self.rows[index])
        f = self._h5()
        w, h = (int(v) for v in self._wh[k])
        img = schema.decode_image(f[schema.image_path(k)][()], draft_size=self._draft)
        if self.image_mode == "RGB" and img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(img).permute(2, 0, 1),  # uint8 through the geometric transforms
            "frame": (w, h),
        }
        filtered = self._obs_rows is not None or self._drop_trials is not None
        need_fix = any(t in self.targets for t in ("fixations", "fixation_map")) or (
            "saliency" in self.targets and filtered
        )
        if need_fix:
            a, b = int(self._offsets[k]), int(self._offsets[k + 1])
            x = f["fixations/x_px"][a:b]
            y = f["fixations/y_px"][a:b]
            dur = f["fixations/duration_ms"][a:b]
            if self._obs_rows is not None:
                keep = np.isin(f["fixations/observer"][a:b], self._obs_rows)
                x, y, dur = x[keep], y[keep], dur[keep]
            if self._drop_trials is not None:
                keep = ~np.isin(f["fixations/trial"][a:b][self._kept_observers(f, a, b)], self._drop_trials)
                x, y, dur = x[keep], y[keep], dur[keep]
            points = torch.from_numpy(np.stack([x, y], axis=1).astype(np.float32))
            sample["fixations"] = points
            sample["fixation_durations_ms"] = torch.from_numpy(dur.astype(np.float32))
        if "saliency" in self.targets:
            if not filtered:
                ph, pw = schema.preview_shape(h, w)
                use_preview = self._draft is not None and self._draft[0] <= pw and self._draft[1] <= ph
                m = f[schema.preview_path(k) if use_preview else schema.map_path(k)][()]
            else:
                m = saliency_map(x, y, (h, w), float(self._sigma[k])).astype(np.float32)
            sample["saliency"] = torch.from_numpy(np.ascontiguousarray(m))[None]
        if "fixation_map" in self.targets:
            from gazelab.datasets.transforms import _points_map

            sample["fixation_map"] = _points_map(sample["fixations"], h, w)
        image = sample.pop("image")
        if self.transforms is not None:
            image, sample = self.transforms(image, sample)
        image = image.float().div_(255.0) if image.dtype == torch.uint8 else image
        if self.transform is not None:
            image = self.transform(image)
        target: dict[str, Any] = {}
        for t in self.targets:
            if t == "label":
                target["label"] = self.class_to_idx.get(str(self.labels[k]), -1)
            elif t == "stimulus":
                target["stimulus"] = str(self.ids[k])
            elif t == "fixations":
                target["fixations"] = sample["fixations"]
                target["fixation_durations_ms"] = sample["fixation_durations_ms"]
            else:
                target[t] = sample[t]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return {"image": image, "index": index, **target}

    def _kept_observers(self, f: h5py.File, a: int, b: int) -> np.ndarray:
        """Mask over fixation rows a:b of the observers kept (all True without an observer filter)."""
        if self._obs_rows is None:
            return np.ones(b - a, dtype=bool)
        return np.isin(f["fixations/observer"][a:b], self._obs_rows)

    def __repr__(self) -> str:
        return f"GazeDataset({str(self.path)!r}, {len(self)} stimuli, targets={self.targets})"


def _low_quality_trials(path: Path, min_grade: str | None) -> np.ndarray | None:
    """Rows of /trials below ``min_grade`` (None: no filter)."""
    if min_grade is None:
        return None
    from gazelab.datasets.quality import trials_below

    return trials_below(path, min_grade)


def collate_gaze(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of :class:`GazeDataset` for a DataLoader.

    Tensors of equal shape are stacked; ``fixations`` (and ``fixation_durations_ms``) of
    different lengths are padded with NaN to ``(B, N_max, 2)`` (``(B, N_max)``) with
    ``fixations_mask`` (``(B, N_max)`` bool, True for real fixations) and ``fixations_count``;
    strings are kept as lists.

    Raises
    ------
    ParameterError
        If images or maps differ in size (add a JointResize to ``transforms``).
    """
    out: dict[str, Any] = {}
    keys = batch[0].keys()
    for key in keys:
        values = [b[key] for b in batch]
        if key == "fixations":
            n = max((len(v) for v in values), default=0)
            pad = torch.full((len(values), n, 2), float("nan"))
            mask = torch.zeros((len(values), n), dtype=torch.bool)
            for i, v in enumerate(values):
                pad[i, : len(v)] = v
                mask[i, : len(v)] = True
            out["fixations"] = pad
            out["fixations_mask"] = mask
            out["fixations_count"] = mask.sum(1)
        elif key == "fixation_durations_ms":
            n = max((len(v) for v in values), default=0)
            pad = torch.full((len(values), n), float("nan"))
            for i, v in enumerate(values):
                pad[i, : len(v)] = v
            out[key] = pad
        elif isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ParameterError(key, sorted(shapes), "one shape per batch: add a JointResize to transforms")
            out[key] = torch.stack(values)
        elif isinstance(values[0], int):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


class GazeClipDataset(torch.utils.data.Dataset):
    """Clips of T frames of the videos in a dataset, with their per-frame saliency maps.

    Parameters
    ----------
    path : str or Path
        A dataset with a ``/videos`` part (see :func:`gazelab.datasets.video.build_video_dataset`).
    clip_len : int
        Frames per clip (T).
    stride : int, optional
        Frames between the starts of consecutive clips of a video (default ``clip_len``:
        non-overlapping clips); a video shorter than ``clip_len`` gives no clip.
    split : str, optional
        Keep the videos whose ``split`` equals this.
    transform : callable, optional
        Transform of the frames tensor only (torchvision's meaning: image-only).
    transforms : callable, optional
        Joint geometric transform ``transforms(frames, {'saliency': (T, 1, h, w), ...})`` (gazelab's
        ``Joint*`` transforms): the same window and flip for every frame of a clip.

    Notes
    -----
    Items: ``frames`` (float32 ``(T, 3, H, W)`` in [0, 1]), ``saliency`` (float32
    ``(T, 1, h, w)``, each frame summing to 1, or 0 for a frame without fixations), ``label``,
    ``video`` (id), ``start_frame``, ``index``. Frames are decoded lazily, only those of the clip.
    """

    def __init__(
        self,
        path: str | Path,
        clip_len: int,
        *,
        stride: int | None = None,
        split: str | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        transforms: Callable[..., Any] | None = None,
    ) -> None:
        if clip_len < 1:
            raise ParameterError("clip_len", clip_len, "a number of frames >= 1")
        stride = clip_len if stride is None else stride
        if stride < 1:
            raise ParameterError("stride", stride, "a number of frames >= 1")
        self.path = Path(path)
        self.clip_len = clip_len
        self.transform = transform
        self.transforms = transforms
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise ParseError(self.path, f"not a readable HDF5 file ({exc})") from None
        with f:
            check_format(f, self.path)
            if "videos" not in f:
                raise ParseError(self.path, "the dataset has no /videos part (build it with build_video_dataset)")
            v = schema.read_table(f, "videos")
        keep = np.ones(len(v), bool) if split is None else (v["split"].astype(str) == split).to_numpy()
        if split is not None and not keep.any():
            raise ParameterError("split", split, f"a split of the videos {sorted(set(v['split'].astype(str)))}")
        self.videos = v
        self.clips = [
            (i, s) for i in np.flatnonzero(keep) for s in range(0, int(v["n_frames"][i]) - clip_len + 1, stride)
        ]
        self._draft = GazeDataset._draft_size(transforms)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    _h5 = GazeDataset._h5
    __getstate__ = GazeDataset.__getstate__
    close = GazeDataset.close

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        i, start = self.clips[index]
        f = self._h5()
        frames_ds = f[schema.frames_path(i)]
        imgs = []
        for k in range(start, start + self.clip_len):
            img = schema.decode_image(frames_ds[k], draft_size=self._draft)
            imgs.append(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img)
        frames = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)  # uint8 through the geometric transforms
        maps = torch.from_numpy(f[schema.video_map_path(i)][start : start + self.clip_len])[:, None]
        sample: dict[str, Any] = {
            "image": frames,
            "saliency": maps,
            "frame": (int(self.videos["width_px"][i]), int(self.videos["height_px"][i])),
        }
        if self.transforms is not None:
            frames, sample = self.transforms(sample.pop("image"), sample)
            sample["image"] = frames
        out_frames = sample["image"].float().div_(255.0) if sample["image"].dtype == torch.uint8 else sample["image"]
        if self.transform is not None:
            out_frames = self.transform(out_frames)
        return {
            "frames": out_frames,
            "saliency": sample["saliency"],
            "label": str(self.videos["label"][i]),
            "video": str(self.videos["id"][i]),
            "start_frame": start,
            "index": index,
        }

    def __repr__(self) -> str:
        return f"GazeClipDataset({str(self.path)!r}, {len(self)} clips of {self.clip_len} frames)"
