"""Data-parallel training on PyTorch's own engine: :class:`~torch.nn.parallel.DistributedDataParallel`.

When ``torch.distributed`` is initialised (a script launched by ``torchrun``), :func:`pgm_ppl.training.train`
wraps its objective module in DDP, every rank draws the same seeded global batch and keeps its own slice of
it, DDP all-reduces the gradients, and rank 0 alone writes checkpoints. Each rank's loss is weighted so that the
averaged gradient is the gradient of the global batch's loss: Pyro ELBOs sum over the batch (weight 1, and DDP's
average is undone by a factor ``world_size``), mean losses are weighted by the rank's share of the rows. The
recorded loss is the all-reduced global loss, so the loss curve, the gradients and the trained weights equal
the single-process run with the same global batch, up to floating-point summation order.

The one command (any script that calls ``train``; ``gloo`` on CPU, ``nccl`` on GPUs)::

    torchrun --nproc_per_node 2 -m pgm_ppl.training.launch my_training_script.py [script arguments]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["World", "current_world", "global_loss", "wrap"]


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel ranks (``size == 1``: no distribution)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and shows the progress bar."""
        return self.rank == 0

    def weight(self, reduction: str, local_rows: int, global_rows: int) -> float:
        """This rank's weight in the global loss: 1 for summed losses, its share of rows for mean losses."""
        return 1.0 if reduction == "sum" or self.size == 1 else local_rows / global_rows


def current_world() -> World:
    """The initialised process group's rank and size, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def wrap(objective: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """``objective`` inside DDP when there is more than one rank, else unchanged."""
    if world.size == 1:
        return objective
    device_ids = [device] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(objective, device_ids=device_ids)


def global_loss(weighted: torch.Tensor, world: World) -> torch.Tensor:
    """The sum over ranks of each rank's weighted loss (the loss of the global batch)."""
    if world.size == 1:
        return weighted
    total = weighted.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total
