"""Run under ``torchrun --nproc_per_node 2 -m pgm_ppl.training.launch ddp_worker.py OUT.npz`` by test_distributed."""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import LinearGaussianFlow, correlated_gaussian  # noqa: E402

from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)


def mean_loss(module, batch):
    return (module.b - batch).pow(2).sum(-1).mean() + module.raw.pow(2).sum()


def run_both() -> dict:
    """The ELBO (summed over the batch) and a mean regression loss on uneven shards (31 rows on 2 ranks)."""
    X = correlated_gaussian(93)
    out = {}
    for name, loss, batch_size in [("elbo", None, 30), ("mean", mean_loss, 31)]:
        module = LinearGaussianFlow(2)
        fit = train(module, X, loss=loss, num_steps=20, batch_size=batch_size, learning_rate=0.05,
                    dtype=torch.float64, seed=5, num_generated=0, progress_bar=False)
        out[f"{name}_losses"] = fit.losses
        assert fit.objective == ("negative_elbo" if loss is None else "regression")
        out.update({f"{name}_{key}": value for key, value in fit.params.items()})
    return out


if __name__ == "__main__":
    results = run_both()
    if torch.distributed.get_rank() == 0:
        np.savez(sys.argv[1], **results)
