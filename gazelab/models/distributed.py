"""Data-parallel training helpers: the process group, each process' share of the items, sums over processes.

Under ``torchrun`` (``torchrun --standalone --nproc_per_node=N -m gazelab align ...``) every
process runs the same training; :func:`setup` reads torchrun's environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``) and joins the process group (NCCL on GPUs, gloo on CPU). Without
torchrun it returns a one-process context and nothing else changes. :func:`shard` gives each
process its items of an epoch through a :class:`~torch.utils.data.distributed.DistributedSampler`
(``set_epoch`` every epoch) without the sampler's padding, so the items trained per epoch, summed
over processes, equal the single-process count; :func:`wrap` puts the model in
:class:`~torch.nn.parallel.DistributedDataParallel` and :func:`uneven` lets processes with one
batch fewer finish the epoch (DDP's ``join``). :func:`reduce_sums` adds per-process sums.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from gazelab.errors import ParameterError

__all__ = ["Context", "barrier", "reduce_sums", "setup", "shard", "teardown", "uneven", "wrap"]


@dataclass(frozen=True)
class Context:
    """Where this process stands.

    Attributes
    ----------
    rank : int
        This process' index among all (0 writes files).
    world_size : int
        Number of processes (1 without torchrun).
    local_rank : int
        Index on this machine (picks the GPU).
    device : torch.device
        Where this process computes.
    owns_group : bool
        Whether :func:`setup` started the process group (and :func:`teardown` ends it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        """True under torchrun with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True for the process that writes checkpoints and logs (rank 0)."""
        return self.rank == 0


def setup(device: str | None = None) -> Context:
    """Join torchrun's process group when there is one; pick this process' device.

    Parameters
    ----------
    device : str, optional
        ``'cpu'`` or ``'cuda'`` (default: CUDA when available). Under torchrun, CUDA means
        ``cuda:LOCAL_RANK`` and the NCCL backend; CPU the gloo backend.

    Returns
    -------
    Context

    Raises
    ------
    ParameterError
        If CUDA is asked for and not available, or torchrun starts more processes on a machine
        than it has GPUs.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = kind.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise ParameterError("device", kind, "'cpu' (CUDA is not available here)")
    if world > 1:
        if cuda and local >= torch.cuda.device_count():
            raise ParameterError("nproc_per_node", local + 1, f"at most the {torch.cuda.device_count()} GPUs here")
        dev = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(dev)
        owns = not dist.is_initialized()
        if owns:
            dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
        return Context(rank, world, local, dev, owns)
    return Context(0, 1, 0, torch.device(kind))


def teardown(ctx: Context) -> None:
    """Leave the process group (a no-op for one process)."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, epoch: int, seed: int, ctx: Context, *, shuffle: bool = True) -> list[int]:
    """This process' items of an epoch: a DistributedSampler's share, without its padding.

    Parameters
    ----------
    n : int
        Items in the training set.
    epoch : int
        Epoch number (``sampler.set_epoch(epoch)``: a new order every epoch, the same in every
        process).
    seed : int
        Seed of the shuffling.
    ctx : Context
    shuffle : bool, optional
        Shuffle (default True).

    Returns
    -------
    list of int
        Item indices; over all processes each item appears exactly once.
    """
    sampler = torch.utils.data.distributed.DistributedSampler(
        range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed, drop_last=False
    )
    sampler.set_epoch(epoch)
    own = len(range(ctx.rank, n, ctx.world_size))  # the sampler pads at the end of the global order
    return list(sampler)[:own]


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """The model in DistributedDataParallel under torchrun, else itself."""
    if not ctx.distributed:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


@contextlib.contextmanager
def uneven(model: nn.Module, ctx: Context) -> Iterator[None]:
    """Let processes run different numbers of batches in an epoch (DDP ``join``)."""
    if ctx.distributed and isinstance(model, nn.parallel.DistributedDataParallel):
        with model.join():
            yield
    else:
        yield


def reduce_sums(values: dict[str, float], ctx: Context) -> dict[str, float]:
    """Sum each value over all processes (float64; the same dict back for one process)."""
    if not ctx.distributed:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if ctx.device.type == "cuda":
        t = t.to(ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) for k, v in zip(keys, t.cpu().tolist(), strict=True)}


def barrier(ctx: Context) -> None:
    """Wait for every process (a no-op for one process)."""
    if ctx.distributed:
        dist.barrier()
