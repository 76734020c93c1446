"""Video stimuli: per-frame maps, the /videos part, clips."""

import numpy as np
import pandas as pd
import pytest

from gazelab.datasets import validate
from gazelab.datasets.video import build_video_dataset, frame_saliency_maps
from gazelab.errors import ParameterError

FPS = 25.0


def _moving_dot_video(folder, n=20, w=160, h=120):
    """A dot moving right 5 px per frame, and two observers tracking it with 40 ms fixations."""
    from PIL import Image

    folder.mkdir(parents=True)
    rows = []
    for k in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        x, y = 20 + 5 * k, 60
        img[y - 2 : y + 3, x - 2 : x + 3] = 255
        Image.fromarray(img).save(folder / f"frame{k:04d}.png")
        for obs in ("a", "b"):
            rows.append(
                {
                    "video": folder.name,
                    "observer": obs,
                    "x_px": x + 0.5,
                    "y_px": y + 0.5,
                    "onset_ms": k * 40.0,
                    "duration_ms": 40.0,
                }
            )
    return pd.DataFrame(rows)


def test_frame_maps_follow_the_fixations():
    maps = frame_saliency_maps(
        np.array([10.5, 30.5]),
        np.array([5.5, 5.5]),
        np.array([0.0, 60.0]),
        np.array([50.0, 40.0]),
        n_frames=5,
        fps=FPS,
        shape=(12, 40),
        sigma_px=1.5,
    )
    assert maps.shape == (5, 12, 40) and maps.dtype == np.float32
    # frame 0 (0-40 ms) and 1 (40-80): fixation 1; frame 1 also has fixation 2 from 60 ms (20 of 40 ms)
    assert np.unravel_index(maps[0].argmax(), maps[0].shape) == (5, 10)
    # frame 1 (40-80 ms) overlaps fixation 1 for 10 ms and fixation 2 for 20 ms: weights 1:2
    assert maps[1][5, 30] / maps[1][5, 10] == pytest.approx(2.0, rel=1e-3)
    assert np.allclose(maps[:3].sum(axis=(1, 2)), 1.0) and maps[3].sum() == 0 and maps[4].sum() == 0
    with pytest.raises(ParameterError, match="fps"):
        frame_saliency_maps(
            np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1), n_frames=1, fps=0, shape=(2, 2), sigma_px=1
        )


def test_video_dataset_and_clips(tmp_path):
    torch = pytest.importorskip("torch")
    from gazelab.datasets import GazeClipDataset
    from gazelab.datasets.transforms import JointCompose, JointRandomHorizontalFlip, JointResize

    fx = pd.concat([_moving_dot_video(tmp_path / "walk"), _moving_dot_video(tmp_path / "run", n=12)])
    out = build_video_dataset(
        [tmp_path / "walk", tmp_path / "run"],
        fx,
        tmp_path / "v.h5",
        fps=FPS,
        sigma_px=3.0,
        labels={"walk": "walking", "run": "running"},
    )
    assert validate(out) == []
    clips = GazeClipDataset(out, clip_len=8, stride=4)
    assert len(clips) == 4 + 2  # walk: starts 0, 4, 8, 12; run: 0, 4
    item = clips[1]
    assert item["frames"].shape == (8, 3, 120, 160) and item["saliency"].shape == (8, 1, 120, 160)
    assert item["video"] == "walk" and item["start_frame"] == 4 and item["label"] == "walking"
    for t in range(8):
        r, c = divmod(int(item["saliency"][t, 0].argmax()), 160)
        assert (r, c) == (60, 20 + 5 * (4 + t))  # the map peak follows the dot
        fr, fc = divmod(int(item["frames"][t, 0].argmax()), 160)
        assert abs(fc - c) <= 2 and abs(fr - r) <= 2
    flipped = GazeClipDataset(
        out, clip_len=8, transforms=JointCompose([JointResize((60, 80)), JointRandomHorizontalFlip(1.0)])
    )[0]
    assert flipped["frames"].shape == (8, 3, 60, 80)
    for t in range(8):
        _, c = divmod(int(flipped["saliency"][t, 0].argmax()), 80)
        assert abs(c - (79 - (20 + 5 * t) // 2)) <= 1
    torch.testing.assert_close(flipped["saliency"].sum((1, 2, 3)), torch.ones(8))


def test_video_validation_catches_bad_maps(tmp_path):
    import h5py

    fx = _moving_dot_video(tmp_path / "walk", n=4)
    out = build_video_dataset([tmp_path / "walk"], fx, tmp_path / "v.h5", fps=FPS)
    with h5py.File(out, "a") as f:
        f["maps/video_saliency/000000"][1, 0, 0] = np.nan
        f["videos/fixations/x_px"][0] = 1e5
    msgs = [str(p) for p in validate(out)]
    assert any("non-finite" in m for m in msgs) and any("outside their frames" in m for m in msgs)


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    fx = _moving_dot_video(tmp_path / "walk", n=4)
    frames = tmp_path / "walk"
    out = build_video_dataset([frames], fx, tmp_path / "v.h5", fps=FPS)
    before = out.read_bytes()
    with pytest.raises(ParameterError, match="overwrite"):
        build_video_dataset([frames], fx, out, fps=FPS)
    assert out.read_bytes() == before
    build_video_dataset([frames], fx, out, fps=FPS, overwrite=True)
    assert out.exists()
