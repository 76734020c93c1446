"""GazeDataset, joint transforms, splits, collate and multi-worker loading."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="GazeDataset needs the torch extra (pip install gazelab[torch])")

from gazelab.datasets import GazeDataset, build_dataset, collate_gaze, make_splits  # noqa: E402
from gazelab.datasets.schema import decode_image, image_path, map_path, read_table  # noqa: E402
from gazelab.datasets.transforms import (  # noqa: E402
    JointCenterCrop,
    JointCompose,
    JointRandomCrop,
    JointRandomHorizontalFlip,
    JointResize,
)
from gazelab.errors import ParameterError  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    import pandas as pd

    from tests.datasets.conftest import STIMULI, make_session, make_stimuli

    d = tmp_path_factory.mktemp("gd")
    stimuli = make_stimuli(d / "stimuli")
    sessions = [make_session(d / f"P{i}.asc", seed=i, imgload=False) for i in (1, 2, 3)]
    rows = [
        {
            "recording": s.name,
            "trial": k + 1,
            "stimulus": name,
            "placement": "center",
            "scale": sc,
            "label": ["beach", "forest", "face"][k],
            "split": ["train", "train", "test"][k],
        }
        for s in sessions
        for k, (name, (_, _, _, sc)) in enumerate(STIMULI.items())
    ]
    table = d / "trials.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    out = d / "ds.h5"
    build_dataset(sessions, out, stimuli_dir=stimuli, trial_table=table, screen_cm=(37.5, 30.0), distance_cm=60.0)
    return out


def test_items_match_the_file(dataset):
    ds = GazeDataset(dataset, targets=("saliency", "fixations", "fixation_map", "label", "stimulus"), image_mode=None)
    assert len(ds) == 3
    assert GazeDataset(dataset)[2]["image"].shape[0] == 3  # grey 'face' repeated to RGB by default
    import h5py

    with h5py.File(dataset, "r") as f:
        fx = read_table(f, "fixations")
        for k in range(3):
            item = ds[k]
            img = decode_image(f[image_path(k)][()])
            assert item["image"].dtype == torch.float32 and item["image"].shape == (img.shape[2], *img.shape[:2])
            np.testing.assert_allclose(item["image"].numpy(), img.transpose(2, 0, 1) / 255.0, atol=1e-6)
            np.testing.assert_array_equal(item["saliency"][0].numpy(), f[map_path(k)][()])
            sub = fx[fx["stimulus"] == k]
            np.testing.assert_allclose(item["fixations"].numpy(), sub[["x_px", "y_px"]].to_numpy(), rtol=1e-6)
            assert item["fixation_map"].sum() == len(sub)
            assert (
                ds.classes[item["label"]] == ["beach", "forest", "face"][k]
                and item["stimulus"] == ["beach", "forest", "face"][k]
            )
    assert ds[-1]["index"] == -1
    with pytest.raises(IndexError):
        ds[3]


def _single_fixation_sample(h=60, w=80, x=20.5, y=10.5):
    from gazelab.preprocessing.maps import saliency_map

    m = torch.from_numpy(saliency_map([x], [y], (h, w), 2.0).astype(np.float32))[None]
    img = torch.zeros((3, h, w), dtype=torch.uint8)
    img[0, int(y), int(x)] = 255
    return {
        "image": img,
        "saliency": m,
        "fixations": torch.tensor([[x, y]]),
        "frame": (w, h),
        "fixation_durations_ms": torch.tensor([200.0]),
    }


def _peak(t):
    i = int(torch.argmax(t.reshape(-1)))
    return divmod(i, t.shape[-1])


@pytest.mark.parametrize("seed", range(6))
def test_joint_transforms_keep_fixation_on_the_map_peak(seed):
    g = torch.Generator().manual_seed(seed)
    t = JointCompose(
        [JointResize((120, 160)), JointRandomCrop((96, 128), generator=g), JointRandomHorizontalFlip(0.5, generator=g)]
    )
    s = t(_single_fixation_sample(x=40.5 + seed, y=30.5))
    if len(s["fixations"]) == 0:
        pytest.skip("the crop removed the fixation")
    x, y = s["fixations"][0].tolist()
    r, c = _peak(s["saliency"])
    assert abs(c - int(x)) <= 1 and abs(r - int(y)) <= 1
    assert s["saliency"].sum().item() == pytest.approx(1.0, abs=1e-5)
    rr, cc = _peak(s["image"][0].float())
    assert abs(cc - int(x)) <= 1 and abs(rr - int(y)) <= 1


def test_flip_and_center_crop_exact():
    s = JointRandomHorizontalFlip(1.0)(_single_fixation_sample(x=20.5, y=10.5))
    assert s["fixations"][0].tolist() == [80 - 20.5, 10.5] and _peak(s["saliency"]) == (10, 59)
    s = JointCenterCrop((40, 40))(_single_fixation_sample(x=30.5, y=20.5))
    assert s["fixations"][0].tolist() == [10.5, 10.5] and _peak(s["saliency"]) == (10, 10)
    with pytest.raises(ParameterError, match="JointResize first"):
        s = _single_fixation_sample()
        s["saliency"] = s["saliency"][:, :30, :30]
        JointCenterCrop((20, 20))(s)


def test_resize_collate_and_image_transform(dataset):
    ds = GazeDataset(
        dataset,
        transforms=JointCompose([JointResize((64, 64))]),
        transform=lambda x: x * 2,
        targets=("saliency", "fixations", "label"),
    )
    batch = collate_gaze([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 64, 64) and batch["image"].max() <= 2.0
    assert batch["saliency"].shape == (3, 1, 64, 64)
    torch.testing.assert_close(batch["saliency"].sum((1, 2, 3)), torch.ones(3))
    n = batch["fixations_count"]
    assert batch["fixations"].shape == (3, int(n.max()), 2) and batch["fixations_mask"].sum() == n.sum()
    assert torch.isnan(batch["fixations"][~batch["fixations_mask"]]).all()
    assert [ds.classes[i] for i in batch["label"]] == ["beach", "forest", "face"]
    assert batch["label"].dtype == torch.int64
    with pytest.raises(ParameterError, match="JointResize"):
        collate_gaze([GazeDataset(dataset)[i] for i in range(2)])


def test_multi_worker_equals_single_process(dataset):
    ds = GazeDataset(dataset, transforms=JointResize((48, 48)), targets=("saliency", "fixations", "stimulus"))
    single = [ds[i] for i in range(len(ds))]
    loader = torch.utils.data.DataLoader(
        ds, batch_size=1, num_workers=2, persistent_workers=True, collate_fn=collate_gaze
    )
    for _ in range(2):  # persistent workers, two epochs
        for i, b in enumerate(loader):
            torch.testing.assert_close(b["image"][0], single[i]["image"])
            torch.testing.assert_close(b["saliency"][0], single[i]["saliency"])
            assert b["stimulus"] == [single[i]["stimulus"]]
    assert ds._file is None or ds._pid is not None  # the parent never needed a handle for workers


def test_splits(dataset):
    assert len(GazeDataset(dataset, "train")) == 2 and len(GazeDataset(dataset, "test")) == 1
    with pytest.raises(ParameterError, match="split"):
        GazeDataset(dataset, "validation")
    a = make_splits(dataset, by="stimulus", fractions=(2, 1), names=("train", "test"), seed=3)
    b = make_splits(dataset, by="stimulus", fractions=(2, 1), names=("train", "test"), seed=3)
    assert a == b and sorted(a["train"].stimuli + a["test"].stimuli) == [0, 1, 2]
    obs = make_splits(dataset, by="observer", fractions=(2, 1), names=("train", "test"), seed=0)
    assert len(obs["train"].observers) == 2 and len(obs["test"].observers) == 1
    full = GazeDataset(dataset, targets=("fixations", "saliency"))
    held = GazeDataset(dataset, obs["test"], targets=("fixations", "saliency"))
    assert len(held) == 3
    for k in range(3):
        assert 0 < len(held[k]["fixations"]) < len(full[k]["fixations"])
        assert held[k]["saliency"].sum().item() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ParameterError, match="observers"):
        GazeDataset(dataset, observers=["nobody"])


def test_distributed_sampler_partitions_the_items(dataset):
    ds = GazeDataset(dataset, targets=("stimulus",))
    seen = []
    for rank in range(2):
        sampler = torch.utils.data.distributed.DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=1)
        sampler.set_epoch(0)
        seen += [ds[i]["stimulus"] for i in sampler]
    assert sorted(set(seen)) == ["beach", "face", "forest"]
