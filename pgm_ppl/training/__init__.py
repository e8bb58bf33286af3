"""The one training engine for neural generative models (chapters 6-9): :func:`train`.

Pyro ELBOs (as :class:`~pyro.infer.elbo.ELBOModule`), custom regression losses and two-player games, optimised
with :mod:`torch.optim`; seeded mini-batches or streams; schedules, clipping, EMA, validation and early stopping;
atomic, pickle-free checkpoints with bit-exact resume; data-parallel training with DistributedDataParallel under
``torchrun``. Returns a :class:`~pgm_ppl.core.Fit`.
"""

from pgm_ppl.training.density import ModuleDensity
from pgm_ppl.training.engine import StepInfo, TrainState, init, step
from pgm_ppl.training.loop import train
from pgm_ppl.training.objectives import LossModule, TwoPlayer, make_objective
from pgm_ppl.training.protocol import LOG_PROB_KINDS, Trainable

__all__ = ["LOG_PROB_KINDS", "LossModule", "ModuleDensity", "StepInfo", "Trainable", "TrainState", "TwoPlayer",
           "init", "make_objective", "step", "train"]
