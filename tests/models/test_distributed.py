"""Data-parallel alignment training under torchrun: 2 CPU processes (gloo), sharding, reduction, rank-0 files."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from gazelab.models import AlignConfig, align, make_distractor_task
from gazelab.models import distributed as D

REPO = Path(__file__).resolve().parents[2]

#: Run by torchrun: train one epoch, then every rank saves its weights (they must be equal).
SCRIPT = """
import os, sys, torch
from gazelab.models import AlignConfig, align
cfg = AlignConfig(**eval(sys.argv[3]))
res = align(sys.argv[1], sys.argv[2], cfg, progress=False)
torch.save(res.model.state_dict(), os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.pt"))
"""

SETTINGS = dict(
    model="resnet18",
    attention="cam",
    saliency="gradient",
    loss="pyramid",
    lam=1.0,
    lambda_schedule="constant",
    batch_size=3,
    lr=1e-3,
    input_size=64,
    train_limit=13,  # 7 + 6 items in batches of 3: one process runs a batch fewer (DDP join)
    val_limit=5,
    seed=2,
)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "task.h5"
    make_distractor_task(path, n_images=20, size_px=64, n_observers=2, seed=1, progress=False)
    return path


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_shards_cover_every_item_once_and_change_each_epoch():
    ranks = [D.Context(rank=r, world_size=2) for r in range(2)]
    for epoch in range(2):
        parts = [D.shard(11, epoch, 0, c) for c in ranks]
        assert sorted(parts[0] + parts[1]) == list(range(11)) and [len(p) for p in parts] == [6, 5]
    assert D.shard(11, 0, 0, ranks[0]) != D.shard(11, 1, 0, ranks[0])
    assert D.reduce_sums({"a": 1.5}, D.Context()) == {"a": 1.5}


def test_two_processes_train_like_one_and_resume(task, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "ddp"
    _torchrun(str(script), str(task), str(out), repr({**SETTINGS, "epochs": 1}))
    a, b = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)  # gradients were averaged: the replicas agree
    # the CLI under torchrun continues the run; only rank 0 writes and reports
    res = _torchrun(
        "-m", "gazelab", "align", str(task), "--model", "resnet18", "--attention", "cam", "--saliency", "gradient",
        "--loss", "pyramid", "--lambda", "1", "--lambda-schedule", "constant", "--batch-size", "3", "--lr", "1e-3",
        "--input-size", "64", "--train-limit", "13", "--val-limit", "5", "--seed", "2", "--epochs", "2",
        "--out", str(out), "--resume",
    )  # fmt: skip
    assert res.stdout.count("run folder:") == 1
    h = pd.read_csv(out / "metrics.csv")
    single = align(task, tmp_path / "one", AlignConfig(**{**SETTINGS, "epochs": 1}), progress=False).history
    assert list(h["epoch"]) == [0, 1, 2] and set(h["world_size"]) == {2}
    assert list(h["train_items"]) == [0, 13, 13] == [0, *single["train_items"][1:], 13]
    for col in ("val_teacher_top1", "val_teacher_top5", "val_teacher_kl", "val_cc", "val_auc_judd", "val_sauc"):
        assert h[col].notna().all()
    # held-out scores are reduced over both processes' images: epoch 0 equals the one-process value
    assert h["val_cc"].iloc[0] == pytest.approx(single["val_cc"].iloc[0], rel=1e-5)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 3
