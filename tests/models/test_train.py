"""Alignment training: it lowers the alignment loss, resumes exactly, refuses to overwrite, logs per epoch."""

import json

import pandas as pd
import pytest
import torch

from gazelab.errors import ParameterError
from gazelab.models import AlignConfig, align, make_distractor_task

#: Columns every epoch of metrics.csv must have (issue 15).
COLUMNS = (
    "world_size",
    "train_items",
    "val_teacher_top1",
    "val_teacher_top5",
    "val_teacher_kl",
    "val_cc",
    "val_nss",
    "val_auc_judd",
    "val_sauc",
)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    path = tmp_path_factory.mktemp("task") / "task.h5"
    make_distractor_task(path, n_images=40, size_px=64, n_observers=4, seed=1, progress=False)
    return path


def _cfg(**kw):
    base = dict(
        model="resnet18",
        attention="spatial",
        loss="kl",
        lam=5.0,
        lambda_schedule="constant",
        epochs=3,
        batch_size=8,
        lr=3e-3,
        input_size=64,
        seed=3,
        head_options={},
    )
    base.update(kw)
    return AlignConfig(**base)


def test_distractor_task_dataset(task):
    from gazelab.datasets import GazeDataset

    ds = GazeDataset(task, "train", targets=("saliency", "fixations", "label"))
    assert len(ds) == 30 and ds.classes == ["circle", "cross", "square", "triangle"]
    assert ds.class_to_idx == {"circle": 0, "cross": 1, "square": 2, "triangle": 3}
    item = ds[0]
    assert item["image"].shape == (3, 64, 64) and item["label"] in range(4)
    assert len(GazeDataset(task, "val")) == 10


def test_training_lowers_the_alignment_loss_and_logs_every_epoch(task, tmp_path):
    res = align(task, tmp_path / "run", _cfg(), progress=False)
    control = align(task, tmp_path / "control", _cfg(lam=0.0), progress=False).history
    h = res.history
    assert list(h["epoch"]) == [0, 1, 2, 3]
    assert h["train_alignment_loss"].iloc[-1] < control["train_alignment_loss"].iloc[-1]
    assert h["train_alignment_loss"].iloc[-1] < h["train_alignment_loss"].iloc[1]
    assert h["val_cc"].iloc[-1] > h["val_cc"].iloc[0]
    for col in (*COLUMNS, "val_accuracy", "val_spearman", "val_kld", "train_accuracy", "lambda"):
        assert col in h.columns
    assert list(h["train_items"]) == [0, 30, 30, 30] and set(h["world_size"]) == {1}
    assert h["val_teacher_top1"].iloc[0] == 1.0 and h["val_teacher_kl"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    logged = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert len(logged) == 4
    assert (tmp_path / "run" / "model.pt").is_file() and (tmp_path / "run" / "config.json").is_file()


def test_resume_gives_the_same_weights_as_one_run(task, tmp_path):
    cfg = _cfg(attention="aib", epochs=2, loss="cc", head_options={"n_anchors": 10})
    full = align(task, tmp_path / "full", cfg, progress=False)
    first = _cfg(attention="aib", epochs=1, loss="cc", head_options={"n_anchors": 10})
    align(task, tmp_path / "parts", first, progress=False)
    resumed = align(task, tmp_path / "parts", cfg, resume=True, progress=False)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert list(resumed.history["epoch"]) == [0, 1, 2]
    pd.testing.assert_frame_equal(
        full.history.drop(columns=["seconds", "images_per_s"]),
        resumed.history.drop(columns=["seconds", "images_per_s"]),
        check_exact=False,
        rtol=1e-6,
    )


def test_existing_run_is_refused_and_mismatched_resume_is_named(task, tmp_path):
    align(task, tmp_path / "run", _cfg(epochs=1), progress=False)
    with pytest.raises(ParameterError, match="resume"):
        align(task, tmp_path / "run", _cfg(epochs=1), progress=False)
    with pytest.raises(ParameterError, match="lam"):
        align(task, tmp_path / "run", _cfg(epochs=2, lam=0.5), resume=True, progress=False)


def test_control_run_without_alignment_and_teacher_labels(task, tmp_path):
    res = align(task, tmp_path / "teacher", _cfg(epochs=1, lam=0.0, labels="teacher"), progress=False)
    # the model before training is the teacher: it agrees with it fully at epoch 0
    assert res.history["val_teacher_top1"].iloc[0] == 1.0 and res.history["val_teacher_top5"].iloc[0] == 1.0
    assert res.history["lambda"].iloc[-1] == 0.0


def test_bad_settings_are_named(task, tmp_path):
    with pytest.raises(ParameterError, match="loss"):
        align(task, tmp_path / "x", _cfg(loss="dice"))
    with pytest.raises(ParameterError, match="labels"):
        align(task, tmp_path / "x", _cfg(labels="oracle"))


def test_freeze_bn_keeps_the_batch_norm_statistics(task, tmp_path):
    from gazelab.models import AttentionNet

    torch.manual_seed(3)
    fresh = AttentionNet("resnet18", "spatial", n_classes=4)
    res = align(task, tmp_path / "frozen", _cfg(epochs=1, freeze_bn=True), progress=False)
    before = {k: v for k, v in fresh.state_dict().items() if "running_" in k}
    after = res.model.state_dict()
    assert before and all(torch.equal(v, after[k]) for k, v in before.items())
    moved = align(task, tmp_path / "moving", _cfg(epochs=1), progress=False).model.state_dict()
    assert not all(torch.equal(v, moved[k]) for k, v in before.items())


def test_distillation_alone_leaves_a_kept_model_unchanged(task, tmp_path):
    # the teacher is a frozen copy run on each batch: with the trunk in eval mode, student and teacher
    # agree exactly, the distillation gradient is zero, and Adam leaves every weight where it was
    from gazelab.models import AttentionNet

    torch.manual_seed(3)
    fresh = AttentionNet("resnet18", "cam", n_classes=10).state_dict()
    cfg = _cfg(attention="cam", epochs=1, lam=0.0, labels="teacher", freeze_bn=True)
    res = align(task, tmp_path / "kept", cfg, progress=False)
    after = res.model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in fresh.items())
    last = res.history.iloc[-1]
    assert last["val_teacher_top1"] == 1.0 and last["val_teacher_kl"] == pytest.approx(0.0, abs=1e-6)


def test_default_learning_rate_keeps_pretrained_trunks(task, tmp_path):
    assert AlignConfig(model="efficientnet_lite0").learning_rate == 1e-5
    assert AlignConfig(model="resnet18", weights="w.pt").learning_rate == 1e-5
    assert AlignConfig(model="resnet18").learning_rate == 1e-3
    assert AlignConfig(model="efficientnet_lite0", lr=3e-4).learning_rate == 3e-4
    with pytest.raises(ParameterError, match="lr"):
        AlignConfig(lr=0.0).check()
    align(task, tmp_path / "run", _cfg(lr=None, epochs=1), progress=False)  # the rate used is recorded
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 1e-3
